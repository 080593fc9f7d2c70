"""The pytest plugin's records and baselines: the row of a test's result, the session's file,
the baseline it is compared with, and the per-test verdict.

A result of ``ic.run`` becomes its usual row (``_timing.rows.result_row``); a ``Measurement`` of
``ic.measure`` becomes a row with the fields ``compare`` reads (median and its interval,
percentiles with theirs, throughput) so both can be judged the same way. The ``key`` of a row
is the test's nodeid, with ``::name`` when a test records several results.

Baselines live under ``<storage>/<host id>/<NAME>.jsonl``: results files (``_common.jsonl``) whose
header carries the machine fingerprint. A baseline of another machine (another host id, the
volatile readings left out: ``_platform.host``) is refused unless the caller allows any host.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferclock._analysis import cell as _cell
from inferclock._common import intervals as _intervals
from inferclock._common.errors import ConfigError
from inferclock._common.jsonl import ResultWriter, Row, load_file
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


def check_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or os.sep in name:
        raise ConfigError(f"a baseline name is a plain file name such as 'main', got {name!r}")
    return name


def save(path: Path, header: Mapping[str, Any], rows: Sequence[Row]) -> Path:
    """Write ``rows`` as a new results file at ``path`` (replacing one there), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    w = ResultWriter(tmp, header)
    for r in rows:
        _schema.check(r, _WRITER)
        w.append(r)
    os.replace(tmp, path)
    return path


def load_baseline(
    storage: Path, name: str, env: Mapping[str, Any], any_host: bool
) -> tuple[Path, list[Row]]:
    """The rows of baseline ``name`` for this machine. A baseline only found for another host
    (or whose header says another machine) is a ConfigError naming the differing fingerprint
    fields, unless ``any_host``."""
    here = _host.host_id(env)
    path = baseline_path(storage, here, name)
    if not path.exists():
        others = sorted(storage.glob(f"*/{name}.jsonl"))
        if not others:
            raise ConfigError(f"no baseline {name!r} under {str(storage)!r} (save one first)")
        path = others[0]
    f = load_file(path)
    theirs = f.header.get("environment") or {}
    if _host.host_id(theirs) != here and not any_host:
        diff = "; ".join(_host.differences(theirs, env, identity_only=True)) or "host id"
        raise ConfigError(
            f"baseline {name!r} ({path!s}) is of another machine: {diff}. Compare across "
            "hosts with --inferclock-compare-any-host, or save a baseline on this one"
        )
    return path, f.rows


@dataclass(frozen=True)
class Verdict:
    """One test result against its baseline."""

    key: str
    metric: str
    baseline: float | None  # ns, or samples/s for throughput
    now: float | None
    ratio: float | None
    low: float | None
    high: float | None
    verdict: str  # _cell.Verdict, or "new" (no baseline) / "no data"
    threshold: float
    gating: bool  # a "slower" verdict fails the session

    @property
    def failed(self) -> bool:
        return self.gating and self.verdict == "slower"


def judge_rows(
    key: str,
    base: Sequence[Row],
    now: Sequence[Row],
    metric: str,
    threshold: float,
    gating: bool,
) -> Verdict:
    """The verdict on one key, by ``compare``'s method (``_analysis.cell``,
    ``_common.intervals.ratio``)."""
    mode = _schema.get(now[0], "mode") if now else None
    m = _cell.metric_for(metric, mode)
    cb = _cell.combine_rows(now, m)
    if not base:
        est = cb.estimate if cb else None
        return Verdict(key, m, None, est, None, None, None, "new", threshold, gating)
    ca = _cell.combine_rows(base, m)
    if ca is None or cb is None:
        return Verdict(key, m, None, None, None, None, None, "no data", threshold, gating)
    r, lo, hi = _intervals.ratio(ca, cb)
    if lo is None or hi is None:
        v: str = "inconclusive"
    else:
        v = _cell.judge(lo, hi, threshold, _cell.higher_is_better(m))
    return Verdict(key, m, ca.estimate, cb.estimate, r, lo, hi, v, threshold, gating)


def fmt_value(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    if metric == "throughput":
        return f"{v:.4g}/s"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= scale:
            return f"{v / scale:.4g} {unit}"
    return f"{v:.4g} ns"


def table_lines(verdicts: Sequence[Verdict]) -> list[str]:
    """The terminal summary's table: test, metric, baseline, now, ratio [interval], verdict."""
    head = ("test", "metric", "baseline", "now", "ratio [interval]", "verdict")
    body = []
    for v in verdicts:
        ratio = "-"
        if v.ratio is not None:
            ratio = f"{v.ratio:.3f}"
            if v.low is not None and v.high is not None:
                ratio += f" [{v.low:.3f}, {v.high:.3f}]"
        verdict = v.verdict + (f" (>{v.threshold:.0%}, FAIL)" if v.failed else "")
        base, now = fmt_value(v.metric, v.baseline), fmt_value(v.metric, v.now)
        body.append((v.key, v.metric, base, now, ratio, verdict))
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in (head, *body)]  # fmt: skip
