"""A cell measured by several runs (worker processes x repeats): its metric, combined into one
estimate with one interval, and whether its processes disagree (multimodal).

Summaries (``ResultTable.summary``), ``compare`` and ``ic.run(processes=k)`` all combine runs
here, with ``_common.intervals.combine``: within-run intervals and the spread between processes on
the log scale (see that module for the method). A cell is judged on one *metric*: the median
latency, a latency percentile ("p99"), or throughput; "auto" picks throughput for a
throughput-mode cell and the median for a latency-mode one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from inferclock._analysis import stability as _stability
from inferclock._common import intervals as _intervals
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.intervals import Combined, Run
from inferclock._common.util import is_real
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    from inferclock._timing.result import RunResult

Verdict = Literal["faster", "slower", "same", "inconclusive"]

METRICS_TEXT = "'auto', 'median', 'throughput' or a percentile such as 'p99' or 'p99.9'"


def check_metric(metric: Any) -> str:
    """'auto', 'median', 'throughput' or 'pNN' (0 < NN < 100), normalized ('P99.0' -> 'p99')."""
    if not isinstance(metric, str):
        raise ConfigTypeError(f"metric must be {METRICS_TEXT}, got {metric!r}")
    m = metric.strip().lower()
    if m in ("auto", "median", "throughput"):
        return m
    if m.startswith("p"):
        try:
            p = float(m[1:])
        except ValueError:
            p = math.nan
        if 0 < p < 100:
            return "median" if p == 50 else f"p{p:g}"
    raise ConfigError(f"metric must be {METRICS_TEXT}, got {metric!r}")


def metric_for(metric: str, mode: Any) -> str:
    """The metric a cell of ``mode`` is judged on ("auto": throughput in throughput mode)."""
    if metric != "auto":
        return metric
    return "throughput" if mode == "throughput" else "median"


def higher_is_better(metric: str) -> bool:
    return metric == "throughput"


def judge(lo: float, hi: float, threshold: float, higher_better: bool) -> Verdict:
    """The verdict on an interval (lo, hi) of a ratio B/A: "slower" when it lies entirely
    beyond the threshold in the metric's bad direction, "faster" in the good one, "same"
    within [1/(1+t), 1+t], else "inconclusive" (also for NaN bounds: no interval)."""
    up, down = 1.0 + threshold, 1.0 / (1.0 + threshold)
    if lo > up:
        return "faster" if higher_better else "slower"
    if hi < down:
        return "slower" if higher_better else "faster"
    if lo >= down and hi <= up:
        return "same"
    return "inconclusive"


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not is_real(v):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


_MEDIAN = _schema.names("latency_median_ns", "latency_ci95_low_ns", "latency_ci95_high_ns")
_THROUGHPUT = _schema.names("throughput_fps", "throughput_ci_low_fps", "throughput_ci_high_fps")


def run_of(row: Mapping[str, Any], metric: str, process: int | str) -> Run | None:
    """The row's value of ``metric`` with its own interval, or None when the row lacks it."""
    if metric == "median":
        value, low, high = (_num(_schema.get(row, f)) for f in _MEDIAN)
        conf = _num(_schema.get(row, "latency_ci_confidence"))
        conf = 0.95 if conf is None and low is not None else conf  # rows before it was stored
    elif metric == "throughput":
        value, low, high = (_num(_schema.get(row, f)) for f in _THROUGHPUT)
        conf = 0.95 if low is not None and high is not None else None
    else:
        pct = _schema.get(row, "latency_percentiles")
        entry = pct.get(metric) if isinstance(pct, Mapping) else None
        flat = f"latency_{metric}_ns"  # the fixed percentile columns, without an interval
        if isinstance(entry, Mapping):
            value, low, high = (_num(entry.get(f)) for f in ("value_ns", "low_ns", "high_ns"))
            conf = _num(entry.get("confidence"))
        elif _schema.declared(flat):
            value, low, high, conf = _num(_schema.get(row, flat)), None, None, None
        else:
            return None
    if value is None or value <= 0:
        return None
    if low is None or high is None or not 0 < low <= high or conf is None or conf <= 0:
        low = high = conf = None
    return Run(process=process, value=value, low=low, high=high, confidence=conf)


def runs_of(rows: Sequence[Mapping[str, Any]], metric: str) -> list[Run]:
    """The runs of a cell's rows for ``metric`` (rows without a process index count as one
    process each)."""
    out = []
    for i, r in enumerate(rows):
        p = _schema.get(r, "process")
        run = run_of(r, metric, p if isinstance(p, (int, str)) else f"row{i}")
        if run is not None:
            out.append(run)
    return out


def combine_rows(
    rows: Sequence[Mapping[str, Any]], metric: str, confidence: float = 0.95
) -> Combined | None:
    """The cell's ``metric`` over its rows, within and between processes (None: no row has
    it). ``confidence`` of the result is the coverage achieved: a single run's own (below the
    level asked when the run was too short for it), else the level asked."""
    runs = runs_of(rows, metric)
    if not runs:
        return None
    c = _intervals.combine(runs, confidence)
    if len(runs) == 1 and runs[0].confidence is not None and c.low is not None:
        # One run's own interval comes back as it is: so does the coverage it achieved.
        c = dataclasses.replace(c, confidence=runs[0].confidence)
    # Multimodal means separate speed modes (_analysis.stability.modes), not a spread between
    # processes that the combined interval carries.
    return dataclasses.replace(c, multimodal=_stability.modes(runs) is not None)


def drift_of(rows: Sequence[Mapping[str, Any]]) -> float | None:
    """A cell's drift: the largest in magnitude of its runs' own drifts (each run's second
    half against its first), None when no run has one. Never a drift over pooled samples: that
    would compare one process with another."""
    vals = [_num(_schema.get(r, "latency_drift")) for r in rows]
    finite = [v for v in vals if v is not None]
    return max(finite, key=abs) if finite else None


def percentile_figure(
    rows: Sequence[Mapping[str, Any]], p: float, confidence: float = 0.95
) -> Combined | None:
    """A cell's ``p``-th percentile: the runs' own percentiles combined as the median is."""
    return combine_rows(rows, "median" if p == 50 else f"p{p:g}", confidence)


def pooled(results: Sequence[RunResult]) -> RunResult:
    """One RunResult for a cell timed in several processes. Every figure that has one
    definition per cell comes from it, so ``ic.run(processes=k)``, sweep summaries, compare and
    the history agree on the same rows: the median, each percentile and throughput (with their
    intervals) combined across the processes (``combine_rows``), the drift (``drift_of``); the
    mean, min, max and spread are of the pooled samples; each process's result is kept in
    ``process_runs``."""
    from inferclock import stats
    from inferclock._timing.rows import result_row

    first = results[0]
    rows = [{**result_row(r), "process": i} for i, r in enumerate(results)]
    lat = np.concatenate([r.samples_ns for r in results])
    o = first.options
    s = stats.summarize(
        lat,
        percentiles=_schema.get(o, "percentiles") or (50, 90, 95, 99),
        method=_schema.get(o, "percentile_method") or "linear",
    )
    s = combined_stats(s, rows)
    tp = combine_rows(rows, "throughput")
    notes = [f"process {i}: {r.stop_note}" for i, r in enumerate(results) if r.stop_note]
    med = combine_rows(rows, "median")
    drift = drift_of(rows)
    return dataclasses.replace(
        first,
        samples_ns=lat,
        warmup_ns=np.concatenate([r.warmup_ns for r in results]),
        latency=s,
        throughput=tp.estimate if tp is not None else math.nan,
        throughput_ci=(tp.low, tp.high) if tp is not None else (None, None),
        drift=drift if drift is not None else math.nan,
        stop_reason="/".join(dict.fromkeys(r.stop_reason for r in results)),
        stop_note="; ".join(notes) or None,
        interrupted=any(r.interrupted for r in results),
        elapsed_s=sum(r.elapsed_s for r in results),
        finished_at=results[-1].finished_at,
        process_runs=tuple(results),
        multimodal=med.multimodal if med is not None else None,
        multimodal_note=modes_note(rows),
        async_lost=_sum(r.async_lost for r in results),
        async_stalls=_sum(r.async_stalls for r in results),
    )


def _sum(values: Any) -> int | None:
    counts = [v for v in values if v is not None]
    return sum(counts) if counts else None


def combined_stats(s: Any, rows: Sequence[Mapping[str, Any]]) -> Any:
    """``s`` (a Stats of the pooled samples) with the median, the fixed p90/p95/p99 and every
    percentile replaced by the cell's combined figures (their intervals and coverage too)."""
    med = combine_rows(rows, "median")
    if med is not None:
        ci = (med.low, med.high) if med.low is not None and med.high is not None else s.ci_ns
        s = dataclasses.replace(s, median_ns=med.estimate, ci_ns=ci, ci_confidence=med.confidence)
    pcts = []
    for p in s.percentiles:
        c = percentile_figure(rows, p.p) if 0 < p.p < 100 else None
        if c is not None:
            has = c.low is not None and c.high is not None
            p = dataclasses.replace(p, value_ns=c.estimate, low_ns=c.low if has else None,
                                    high_ns=c.high if has else None,
                                    confidence=c.confidence if has else 0.0)  # fmt: skip
        pcts.append(p)
    fixed = {}
    for q in (90, 95, 99):
        c = percentile_figure(rows, q)
        if c is not None:
            fixed[f"p{q}_ns"] = c.estimate
    return dataclasses.replace(s, percentiles=tuple(pcts), **fixed)


def modes_note(rows: Sequence[Mapping[str, Any]], metric: str = "median") -> str | None:
    """Which speed modes the cell's processes fall into (``_analysis.stability.modes``), or
    None when they do not split."""
    ok = [r for r in rows if _schema.get(r, "error") is None]
    return _stability.modes(runs_of(ok, metric))


def multimodal(rows: Sequence[Mapping[str, Any]], metric: str = "median") -> bool | None:
    """Whether the cell's processes fall into separate speed modes on ``metric``
    (``_analysis.stability.modes``; None with fewer than two processes measured)."""
    ok = [r for r in rows if _schema.get(r, "error") is None]
    c = combine_rows(ok, metric)
    return None if c is None or c.processes < 2 else c.multimodal
