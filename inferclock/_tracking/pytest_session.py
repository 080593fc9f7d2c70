"""The pytest plugin's session and fixture, imported only when a session needs them (a test
asks for the ``inferclock`` fixture, an ``--inferclock-*`` option or ``$INFERCLOCK_HISTORY`` is
given, an xdist worker hands over results): ``inferclock.pytest_plugin`` itself imports nothing
of the package, so a session that never uses it loads neither the C++ core nor OpenVINO nor
numpy (``tests/test_plugin_lazy.py``).

``Session`` holds one pytest session's options (checked when it is made: before any test
runs when an option is given), the rows its tests recorded and their verdicts; ``Recorder``
is the fixture (``ic.run`` and ``ic.measure``, recorded); ``summary`` writes the closing
section. Rows, files and verdicts are ``pytest_store``'s.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from inferclock._analysis import cell as _cell
from inferclock._analysis.gate import check_threshold, parse_threshold
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._common.jsonl import Row, strict_dumps
from inferclock._common.util import utc_now
from inferclock._timing import schema as _schema
from inferclock._tracking import pytest_store as _pytest_store

if TYPE_CHECKING:
    from inferclock._timing.measure import Measurement
    from inferclock._timing.result import RunResult

_DEFAULT_THRESHOLD = 0.05
#: A test's rule from its marker: (fail_above, metric, allow_inconclusive).
Rule = tuple[float | None, str, bool]
_NO_RULE: Rule = (None, "auto", False)
#: The key of this plugin's results in an xdist worker's ``workeroutput``.
WORKER_OUTPUT = "inferclock"


class Session:
    """What the plugin holds for one pytest session: its options, checked when it is made, the
    rows its tests recorded, and their verdicts."""

    def __init__(self, config: pytest.Config) -> None:
        opt = config.getoption
        self.save: str | None = opt("inferclock_save")
        self.compare: str | None = opt("inferclock_compare")
        storage = opt("inferclock_storage")
        self.storage = Path(storage) if storage else config.rootpath / ".inferclock"
        self.any_host = bool(opt("inferclock_compare_any_host"))
        given = opt("inferclock_history")
        self.history: str | None = given or os.environ.get("INFERCLOCK_HISTORY")
        self.errors: list[str] = []  # what could not be saved or added at the session's end
        self.saved = False
        self.allow_inconclusive = bool(opt("inferclock_allow_inconclusive"))
        self.worker = hasattr(config, "workerinput")  # an xdist worker: the controller judges
        self.workeroutput: dict[str, Any] | None = getattr(config, "workeroutput", None)
        text = opt("inferclock_fail_above")
        try:
            for n in (self.save, self.compare):
                if n is not None:
                    _pytest_store.check_name(n)
            self.fail_above = None if text is None else parse_threshold(
                "--inferclock-fail-above", text
            )  # fmt: skip
            if self.history and importlib.util.find_spec("inferclock._tracking.history") is None:
                raise ConfigError(
                    f"history {self.history!r}: inferclock._tracking.history is missing"
                )
            # Paths are checked before any test runs, not found bad after all of them ran.
            if self.history:
                from inferclock._tracking.store import check_writable

                check_writable(self.history, "--inferclock-history" if given else
                               "$INFERCLOCK_HISTORY")  # fmt: skip
            if self.save is not None or self.compare is not None:
                _pytest_store.check_storage(self.storage, writing=self.save is not None)
            if self.fail_above is not None and self.compare is None:
                raise ConfigError("--inferclock-fail-above needs --inferclock-compare NAME")
            self._env: dict[str, Any] | None = None
            self.baseline: list[Row] = []
            if self.compare is not None and not self.worker:
                _, self.baseline = _pytest_store.load_baseline(
                    self.storage, self.compare, self.env, self.any_host
                )
        except ConfigError as e:
            raise pytest.UsageError(f"inferclock: {e}") from None
        self.rows: list[Row] = []
        self.rules: dict[str, Rule] = {}
        self.verdicts: list[_pytest_store.Verdict] = []

    @property
    def env(self) -> dict[str, Any]:
        if self._env is None:
            from inferclock._platform.environment import environment

            self._env = environment()
        return self._env

    def finish(self) -> bool:
        """Save, compare and add to the history; True when a result failed its threshold.
        An xdist worker only hands its rows and rules to the controller."""
        if self.worker:
            if self.workeroutput is not None and self.rows:
                rules = {k: list(v) for k, v in self.rules.items()}
                self.workeroutput[WORKER_OUTPUT] = strict_dumps({"rows": self.rows, "rules": rules})
            return False
        if not self.rows:
            return False
        header = _pytest_store.header_of(self.env)
        if self.save is not None:
            host = _schema.get(self.rows[0], "host") or _host_of(self.env)
            path = _pytest_store.baseline_path(self.storage, host, self.save)
            try:
                _pytest_store.save(path, header, self.rows)
                self.saved = True
            except (InferclockError, OSError) as e:  # a disk full since the session began
                self.errors.append(f"baseline {self.save!r} not saved ({path}): {e}")
        if self.compare is not None:
            self.verdicts = self._judge()
        if self.history:
            from inferclock._tracking.history import History

            try:
                with History(self.history) as h:
                    h.add(self.rows, header=header, source="pytest")
            except InferclockError as e:  # locked past its timeout, full, damaged, ...
                self.errors.append(f"results not added to history: {e}")
        return any(v.failed for v in self.verdicts)

    def _judge(self) -> list[_pytest_store.Verdict]:
        base: dict[str, list[Row]] = {}
        for r in self.baseline:
            if _schema.get(r, "error") is None:
                base.setdefault(_schema.at(r, "key"), []).append(r)
        now: dict[str, list[Row]] = {}
        for r in self.rows:
            now.setdefault(_schema.at(r, "key"), []).append(r)
        out = []
        for key, rows in now.items():
            fail_above, metric, allow = self.rules.get(key, _NO_RULE)
            limit = fail_above if fail_above is not None else self.fail_above
            t = limit if limit is not None else _DEFAULT_THRESHOLD
            allow = allow or self.allow_inconclusive
            gating = limit is not None
            verdict = _pytest_store.judge_rows(
                key, base.get(key, []), rows, metric, t, gating, allow
            )
            out.append(verdict)
        return out

    def merge(self, output: str) -> None:
        """Take an xdist worker's rows and rules (its ``workeroutput``)."""
        got = json.loads(output)
        self.rows = sorted([*self.rows, *got["rows"]], key=lambda r: str(_schema.at(r, "key")))
        self.rules.update({k: (v[0], v[1], v[2]) for k, v in got["rules"].items()})

    def used(self) -> list[str]:
        """The allowances this session's verdicts were judged with, as the closing line names
        them."""
        out = ["--inferclock-allow-inconclusive"] if self.allow_inconclusive else []
        keys = {v.key for v in self.verdicts}
        if any(self.rules.get(k, _NO_RULE)[2] for k in keys):
            out.append("the marker's allow_inconclusive")
        return out


def _host_of(env: dict[str, Any]) -> str | None:
    from inferclock._platform.host import host_id

    return host_id(env)


def rule_of(node: pytest.Item) -> Rule:
    """The test's rule from its ``inferclock`` marker; a bad marker is a usage error."""
    mark = node.get_closest_marker("inferclock")
    if mark is None:
        return _NO_RULE
    if mark.args:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.inferclock takes keywords only")
    unknown = set(mark.kwargs) - {"fail_above", "metric", "allow_inconclusive"}
    if unknown:
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.inferclock got {sorted(unknown)}; "
            "it takes fail_above, metric and allow_inconclusive"
        )
    allow = mark.kwargs.get("allow_inconclusive", False)
    if not isinstance(allow, bool):
        raise pytest.UsageError(
            f"{node.nodeid}: @pytest.mark.inferclock: allow_inconclusive must be True or "
            f"False, got {allow!r}"
        )
    fail_above = mark.kwargs.get("fail_above")
    try:
        if isinstance(fail_above, str):
            fail_above = parse_threshold("fail_above", fail_above)
        elif fail_above is not None:
            fail_above = check_threshold("fail_above", fail_above)
        return fail_above, _cell.check_metric(mark.kwargs.get("metric", "auto")), allow
    except ConfigError as e:
        raise pytest.UsageError(f"{node.nodeid}: @pytest.mark.inferclock: {e}") from None


class Recorder:
    """The ``inferclock`` fixture: ``ic.run`` and ``ic.measure`` whose results the session
    records under the test's nodeid (``name``: to tell several results of a test apart)."""

    def __init__(self, session: Session, node: pytest.Item) -> None:
        self._session = session
        self._node = node
        self._rule = rule_of(node)

    def _key(self, name: str | None) -> str:
        return self._node.nodeid if name is None else f"{self._node.nodeid}::{name}"

    def _record(self, key: str, row: Row) -> None:
        if any(_schema.at(r, "key") == key for r in self._session.rows):
            raise ConfigError(f"{key!r} was recorded already: give each result its own name=")
        self._session.rows.append(row)
        self._session.rules[key] = self._rule

    def run(self, model: Any, *, name: str | None = None, **opts: Any) -> RunResult:
        """``ic.run(model, **opts)``, recorded."""
        from inferclock._workers.run import run

        key = self._key(name)
        result = run(model, **opts)
        self._record(key, _pytest_store.run_row(key, result))
        return result

    def measure(
        self, fn: Callable[[], object], *, name: str | None = None, **opts: Any
    ) -> Measurement:
        """``ic.measure(fn, **opts)``, recorded."""
        from inferclock._workers.measure import measure

        key, started = self._key(name), utc_now()
        m = measure(fn, **opts)
        self._record(key, _pytest_store.measurement_row(key, m, self._session.env, started))
        return m


def summary(state: Session, tr: Any) -> None:
    """The session's closing section (``pytest_terminal_summary``): the verdicts' table and
    closing line, or the number of results recorded; what was saved; what failed at the end."""
    if not state.rows:
        return
    failed = [v for v in state.verdicts if v.failed]
    tr.write_sep("=", "inferclock", red=bool(failed), green=not failed and bool(state.verdicts))
    if state.verdicts:
        for line in _pytest_store.table_lines(state.verdicts):
            tr.write_line(line)
        assert state.compare is not None
        closing = _pytest_store.closing_line(state.verdicts, state.compare, state.used())
        tr.write_line(closing, red=bool(failed))
    else:
        tr.write_line(f"inferclock: {len(state.rows)} result(s) recorded")
    if state.saved:
        tr.write_line(f"inferclock: saved baseline {state.save!r} under {str(state.storage)!r}")
    for e in state.errors:
        tr.write_line(f"ERROR: inferclock: {e}", red=True)
