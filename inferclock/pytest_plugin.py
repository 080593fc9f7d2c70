"""inferclock's pytest plugin (the ``pytest11`` entry point ``inferclock``): the ``inferclock``
fixture, the ``--inferclock-*`` options, the ``inferclock`` marker, and the session's end:
saving its results as a baseline, judging them against one, and the summary table.

A test that uses the fixture measures with ``inferclock.run(model, ...)`` (``ic.run``) or
``inferclock.measure(fn, ...)`` (``ic.measure``) and gets the usual result to assert on; each
result is recorded under the test's nodeid (``name=`` tells several apart). At the session's
end, ``--inferclock-save NAME`` writes them as a results file under
``--inferclock-storage``, and ``--inferclock-compare NAME`` judges each against the baseline
with ``compare``'s method: the ratio's interval, not a flat percentage, so noise does not fail
a run; ``--inferclock-fail-above`` (or a test's marker ``fail_above``) makes it a gate: a result
fails the session when its state's outcome is "fail" (``_analysis.states.outcome``: slower, a
result without an interval whose point ratio is beyond the threshold, an inconclusive one
unless ``--inferclock-allow-inconclusive`` or the marker's ``allow_inconclusive``, one whose
value cannot be read). A baseline that cannot be judged against in full is a usage error;
so are a storage that is a file and a history that cannot be written, found before any test
runs. A baseline or history that fails at the end is one ``ERROR: inferclock:`` line, exit 4.
Rows, files and verdicts are ``_tracking.pytest_store``'s. Tests that don't use the fixture are
untouched: no output, no files. ``-p no:inferclock`` disables it.

This module is what pytest imports at every session's start, so it imports nothing of the
package at its top: the session and the fixture live in ``_tracking.pytest_session``,
imported when a test asks for the fixture, when an ``--inferclock-*`` option or
``$INFERCLOCK_HISTORY`` is given (their checks run before any test), or when an xdist worker
hands over results. A session that uses none of these pays for the options' registration
only (``benchmarks/plugin_cost.py``; ``tests/test_plugin_lazy.py``).

Under pytest-xdist each worker records its tests' rows and markers' rules and hands them to
the controller in ``workeroutput`` at its session's end; the controller alone loads, saves and
judges the baseline and prints the table.

May import: _common, stats, models, _platform, _timing, _analysis, _workers, _tracking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from inferclock._tracking.pytest_session import Recorder, Session

_MARKER = (
    "inferclock(fail_above=None, metric='auto', allow_inconclusive=False): this test's "
    "regression threshold (such as '10%'), the metric it is judged on ('auto', 'median', "
    "'throughput', 'p99', ...), and whether an inconclusive verdict may pass"
)
#: The key of this plugin's results in an xdist worker's ``workeroutput``: the value of
#: ``_tracking.pytest_session.WORKER_OUTPUT`` (``tests/test_plugin_lazy.py`` holds them equal).
_WORKER_OUTPUT = "inferclock"
#: The options whose use makes the session (and checks them) at configure time.
_OPTIONS = (
    "inferclock_save",
    "inferclock_storage",
    "inferclock_compare",
    "inferclock_fail_above",
    "inferclock_allow_inconclusive",
    "inferclock_compare_any_host",
    "inferclock_history",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("inferclock", "inferclock: speed results, baselines and regressions")
    g.addoption(
        "--inferclock-save",
        metavar="NAME",
        help="store this session's inferclock results as baseline NAME",
    )
    g.addoption(
        "--inferclock-storage",
        metavar="DIR",
        help="where baselines live (default: .inferclock/ in the rootdir), one "
        "folder per host fingerprint",
    )
    g.addoption(
        "--inferclock-compare",
        metavar="NAME",
        help="judge each result against baseline NAME (the ratio's interval, "
        "compare's method) and show a table at the end",
    )
    g.addoption(
        "--inferclock-fail-above",
        metavar="PCT",
        help="with --inferclock-compare: fail the session when a result is slower "
        "beyond PCT (such as 5%%): its whole ratio interval above 1 + PCT, its point ratio "
        "when it has no interval (iterations=1), or an interval too wide to say (inconclusive) "
        "whose bad end is beyond PCT",
    )
    g.addoption(
        "--inferclock-allow-inconclusive",
        action="store_true",
        help="let inconclusive results (an interval too wide to say) pass the gate; the "
        "closing line says so",
    )
    g.addoption(
        "--inferclock-compare-any-host",
        action="store_true",
        help="compare against a baseline of another machine fingerprint",
    )
    g.addoption("--inferclock-history", metavar="FILE",
                help="also add this session's results to the history FILE "
                     "(default: $INFERCLOCK_HISTORY)")  # fmt: skip


_SESSION = pytest.StashKey["Session"]()


def _session(config: pytest.Config) -> Session:
    """This session's state, made (and its options checked) on first need."""
    state = config.stash.get(_SESSION, None)
    if state is None:
        from inferclock._tracking.pytest_session import Session

        state = config.stash[_SESSION] = Session(config)
    return state


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)
    given = any(config.getoption(o) not in (None, False) for o in _OPTIONS)  # "" is given
    if given or os.environ.get("INFERCLOCK_HISTORY"):
        _session(config)  # bad options and paths are usage errors before any test runs


@pytest.fixture
def inferclock(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    """Measure with ``inferclock.run(model, ...)`` / ``inferclock.measure(fn, ...)``; every
    result is recorded for the session's baseline and comparison."""
    from inferclock._tracking.pytest_session import Recorder

    node = request.node
    assert isinstance(node, pytest.Item)
    yield Recorder(_session(request.config), node)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, on the controller: a worker finished (or died: its results are lost with
    it, and its test fails); take its results, once (xdist calls this twice on Ctrl-C)."""
    from_worker = getattr(node, "workeroutput", {})
    if _WORKER_OUTPUT in from_worker:
        _session(node.config).merge(from_worker.pop(_WORKER_OUTPUT))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_SESSION, None)
    if state is None:
        return
    failed = state.finish()
    if failed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif state.errors and session.exitstatus == pytest.ExitCode.OK:
        # results that were asked to be kept and were not: the usage-error status, as a bad
        # path found before the tests ran; the terminal summary says what went wrong
        session.exitstatus = pytest.ExitCode.USAGE_ERROR


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_SESSION, None)
    if state is not None:
        from inferclock._tracking.pytest_session import summary

        summary(state, terminalreporter)


def __getattr__(name: str) -> Any:
    """``Recorder`` (the fixture's class, for type hints) from where it lives, on first use."""
    if name == "Recorder":
        from inferclock._tracking.pytest_session import Recorder

        return Recorder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
