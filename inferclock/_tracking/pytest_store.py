"""The pytest plugin's records and baselines: the row of a test's result, the session's file,
the baseline it is compared with, and the per-test verdict.

A result of ``ic.run`` becomes its usual row (``_timing.rows.result_row``); a ``Measurement`` of
``ic.measure`` becomes a row with the fields ``compare`` reads (median and its interval,
percentiles with theirs, throughput) so both can be judged the same way. The ``key`` of a row
is the test's nodeid, with ``::name`` when a test records several results.

Baselines live under ``<storage>/<host id>/<NAME>.jsonl``: results files (``_common.jsonl``) whose
header carries the machine fingerprint. A baseline of another machine (another host id, the
volatile readings left out: ``_platform.host``) is refused unless the caller allows any host;
so is one that cannot be judged against in full (:func:`read`). Saving is atomic per name.

Each test's verdict is a state of ``_analysis.states`` (or "new": no baseline row) and that
state's outcome at the test's threshold, as ``compare``'s gate judges a cell.
"""

from __future__ import annotations

import fcntl
import math
import os
import socket
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferclock._analysis import cell as _cell, states as _states
from inferclock._common import intervals as _intervals
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._common.jsonl import ResultFile, ResultWriter, Row, load_file
from inferclock._common.util import utc_now
from inferclock._platform import host as _host
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    from inferclock._timing.measure import Measurement
    from inferclock._timing.result import RunResult
    from inferclock.stats import Stats


#: Who writes these rows, as a row the schema refuses names it.
_WRITER = "the pytest plugin"


def header_of(env: Mapping[str, Any]) -> Row:
    """A results file's header for a pytest session on the machine of fingerprint ``env``."""
    return {
        "inferclock_version": env.get("inferclock"),
        "openvino_version": env.get("openvino"),
        "environment": dict(env),
        "source": "pytest",
    }


def run_row(key: str, result: RunResult) -> Row:
    """The row of an ``ic.run`` result, keyed by the test."""
    from inferclock._timing.rows import result_row

    row: Row = {"key": key, **result_row(result)}
    row.update(process=None, repeat=None, host_name=socket.gethostname())
    _schema.check(row, _WRITER)
    return row


def measurement_row(key: str, m: Measurement, env: Mapping[str, Any], started_at: str) -> Row:
    """The row of an ``ic.measure`` result, with the fields ``compare`` needs."""
    s = m.stats
    lo, hi = s.ci_ns
    tp_ci = m.throughput_ci
    row: Row = {
        "key": key,
        "model": key,
        "model_path": None,
        "model_sha256": None,
        "host": _host.host_id(env),
        "host_name": socket.gethostname(),
        "device": "python",
        "precision_requested": None,
        "batch_size": m.batch_size,
        "mode": "latency",
        "process": None,
        "repeat": None,
        "n": s.n,
        "warmup_n": int(m.warmup_ns.size),
        "warmup_steady": m.warmup_steady,
        "stop_reason": m.stop_reason,
        "cpus": None,
    }
    for name in _schema.LATENCY_STATS:
        row[f"latency_{name}_ns"] = getattr(s, f"{name}_ns")
    row.update(
        latency_cv=s.cv,
        latency_drift=m.drift,
        latency_ci95_low_ns=lo,
        latency_ci95_high_ns=hi,
        latency_ci_confidence=s.ci_confidence,
        latency_percentiles=_percentiles(s),
        throughput_fps=m.throughput,
        throughput_ci_low_fps=tp_ci[0] if tp_ci else None,
        throughput_ci_high_fps=tp_ci[1] if tp_ci else None,
        duration_s=m.elapsed_s,
        started_at=started_at,
        finished_at=utc_now(),
        error=None,
        error_kind=None,
    )
    _schema.check(row, _WRITER)
    return row


def _percentiles(s: Stats) -> dict[str, dict[str, Any]]:
    return {
        f"p{p.p:g}": {
            "value_ns": p.value_ns,
            "low_ns": p.low_ns,
            "high_ns": p.high_ns,
            "confidence": p.confidence,
        }
        for p in s.percentiles
    }


def baseline_path(storage: Path, host: str | None, name: str) -> Path:
    return storage / (host or "unknown-host") / f"{name}.jsonl"


def check_storage(storage: Path, writing: bool) -> None:
    """A ConfigError when ``--inferclock-storage`` cannot hold baselines: a file in its
    place, or (``writing``) no way to create or write it (a read-only mount). Nothing is
    created."""
    what = f"--inferclock-storage {str(storage)!r}"
    if storage.exists() and not storage.is_dir():
        raise ConfigError(f"{what} is a file, not a folder of baselines")
    if not writing:
        return
    existing = storage
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{what} cannot be created: {str(existing)!r} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{what} cannot be written: {str(existing)!r} is not writable (permissions or a "
            "read-only mount)"
        )


def check_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise ConfigError(f"a baseline name is a plain file name such as 'main', got {name!r}")
    return name


def save(path: Path, header: Mapping[str, Any], rows: Sequence[Row]) -> Path:
    """Write ``rows`` as a new results file at ``path`` (replacing one there), atomically:
    under an exclusive lock on ``NAME.jsonl.lock``, into a temporary file of a unique name in
    the same folder, renamed over ``path``. Two sessions saving one name leave one session's
    complete file, never a mix or a file without its header."""
    for r in rows:
        _schema.check(r, _WRITER)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.with_name(path.name + ".lock")):
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        try:
            os.fchmod(fd, 0o644)  # not mkstemp's 0600: a CI cache may run as another user
            os.close(fd)
            w = ResultWriter(tmp, header)  # writes the empty file it finds from its start
            for r in rows:
                w.append(r)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_baseline(
    storage: Path, name: str, env: Mapping[str, Any], any_host: bool
) -> tuple[Path, list[Row]]:
    """The rows of baseline ``name`` for this machine. A baseline only found for another host
    (or whose header says another machine) is a ConfigError naming the differing fingerprint
    fields, unless ``any_host``; so is one that cannot be judged against (:func:`read`)."""
    here = _host.host_id(env)
    path = baseline_path(storage, here, name)
    if not path.exists():
        others = sorted(storage.glob(f"*/{name}.jsonl"))
        if not others:
            raise ConfigError(f"no baseline {name!r} under {str(storage)!r} (save one first)")
        path = others[0]
    f = read(path, name)
    theirs = f.header["environment"]
    if _host.host_id(theirs) != here and not any_host:
        diff = "; ".join(_host.differences(theirs, env, identity_only=True)) or "host id"
        raise ConfigError(
            f"baseline {name!r} ({path!s}) is of another machine: {diff}. Compare across "
            "hosts with --inferclock-compare-any-host, or save a baseline on this one"
        )
    return path, f.rows


def read(path: Path, name: str) -> ResultFile:
    """Baseline ``name``'s file at ``path``, or a one-line ConfigError naming the file and what
    is wrong: unreadable, empty, not a results file, of a newer format, a line that holds no
    row (torn or damaged), no rows at all, a header without an environment, or a row whose
    values are not a measurement (``_analysis.states.row_problem``). Judged against part of a
    baseline, every test it lost would pass as "new"."""
    try:
        f = load_file(path)
    except (InferclockError, OSError) as e:
        raise ConfigError(f"baseline {name!r}: {e}") from None
    where, again = f"baseline {name!r} ({path!s})", f"; save it again with --inferclock-save {name}"
    if f.skipped:
        line, torn = f.skipped[0]
        more = f" (and {len(f.skipped) - 1} more line(s))" if len(f.skipped) > 1 else ""
        raise ConfigError(f"{where} is damaged: line {line}: {torn}{more}{again}")
    if not f.rows:
        raise ConfigError(f"{where} holds no results, only its header{again}")
    if not isinstance(f.header.get("environment"), Mapping):
        raise ConfigError(f"{where}: its header has no environment object{again}")
    for r in f.rows:
        why = _states.row_problem(r)
        if why is not None:
            key = _schema.at(r, "key")
            raise ConfigError(f"{where}: result {key!r} is not a measurement: {why}{again}")
    return f


#: The confidence of each side's interval and of the ratio's (compare's default).
_CONFIDENCE = 0.95
#: The order the closing line counts states in: compare's, then the plugin's own "new".
_ORDER = (*_states.STATES, "new")


@dataclass(frozen=True)
class Verdict:
    """One test result against its baseline: its state and what that does to the gate."""

    key: str
    metric: str
    baseline: float | None  # ns, or samples/s for throughput
    now: float | None
    ratio: float | None
    low: float | None
    high: float | None
    state: str  # an _analysis.states.State, or "new" (no baseline row)
    outcome: str  # _analysis.states.outcome's ("new": "pass")
    threshold: float
    gating: bool  # a threshold was given: a "fail" outcome fails the session
    reason: str = ""  # why an unjudged state

    @property
    def failed(self) -> bool:
        return self.gating and self.outcome == "fail"

    @property
    def allowed(self) -> bool:
        return self.gating and self.outcome == "allowed"


def judge_rows(
    key: str,
    base: Sequence[Row],
    now: Sequence[Row],
    metric: str,
    threshold: float,
    gating: bool,
    allow_inconclusive: bool = False,
) -> Verdict:
    """The verdict on one key (``now``: at least one row), by ``compare``'s method: each side
    read (``_analysis.states.read_side``), their ratio (``_common.intervals.ratio``), its state
    and outcome (``_analysis.states``). A result without an interval is judged on its point
    ratio; a side whose value cannot be read is "unreadable" and fails."""
    m = _cell.metric_for(metric, _schema.get(now[0], "mode"))
    t = threshold

    def outcome(state: _states.State, worst: float) -> str:
        return _states.outcome(
            state, worst, t, allow_missing=False, allow_inconclusive=allow_inconclusive
        )

    def unjudged(state: str, out: str, base: float | None, now: float | None, why: str) -> Verdict:
        return Verdict(key, m, base, now, None, None, None, state, out, t, gating, why)

    cb, why_now = _states.read_side(now, m, _CONFIDENCE)
    if not base:
        return unjudged("new", "pass", None, cb.estimate if cb else None, "")
    measured = [r for r in base if _schema.get(r, "error") is None]
    if not measured:
        return unjudged("error in A", "pass", None, None, "the baseline holds only an error")
    ca, why_base = _states.read_side(measured, m, _CONFIDENCE)
    if ca is None or cb is None:
        why = f"baseline: {why_base}" if ca is None else f"now: {why_now}"
        out = outcome("unreadable", math.nan)
        return unjudged("unreadable", out, ca.estimate if ca else None, None, why)
    r, lo, hi = _intervals.ratio(ca, cb, _CONFIDENCE)
    low, high = (math.nan if b is None else b for b in (lo, hi))
    state, out = _states.judge_ratio(r, low, high, m, t, allow_inconclusive=allow_inconclusive)
    return Verdict(key, m, ca.estimate, cb.estimate, r, lo, hi, state, out, t, gating)


def fmt_value(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    if metric == "throughput":
        return f"{v:.4g}/s"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= scale:
            return f"{v / scale:.4g} {unit}"
    return f"{v:.4g} ns"


def _state_text(v: Verdict) -> str:
    text = v.state
    if v.failed:
        judged = v.state in _states.JUDGED
        text += f" (>{v.threshold:.0%}, FAIL)" if judged else " (FAIL)"
    elif v.allowed:
        text += " (allowed)"
    return text + (f": {v.reason}" if v.reason else "")


def table_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """The terminal summary's table: test, metric, baseline, now, ratio [interval], state."""
    head = ("test", "metric", "baseline", "now", "ratio [interval]", "state")
    body = []
    for v in verdicts:
        ratio = "-"
        if v.ratio is not None:
            ratio = f"{v.ratio:.3f}"
            if v.low is not None and v.high is not None:
                ratio += f" [{v.low:.3f}, {v.high:.3f}]"
        base, now = fmt_value(v.metric, v.baseline), fmt_value(v.metric, v.now)
        body.append((v.key, v.metric, base, now, ratio, _state_text(v)))
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (head, *body)]  # fmt: skip


def closing_line(verdicts: Sequence[Verdict], name: str, used: Sequence[str]) -> str:
    """The line under the table: OK or FAIL (or no gate), how many results were compared
    against baseline ``name``, the count of each state, and the allowances ``used``."""
    counts = ", ".join(f"{n} {s}" for s in _ORDER if (n := sum(v.state == s for v in verdicts)))
    text = f"{len(verdicts)} result(s) against baseline {name!r}: {counts}"
    if used:
        text += f"; {' and '.join(used)} used"
    if any(v.failed for v in verdicts):
        return f"inferclock: FAIL: {text}: session failed"
    if any(v.gating for v in verdicts):
        return f"inferclock: OK: {text}"
    return f"inferclock: {text} (no threshold given: nothing fails)"
