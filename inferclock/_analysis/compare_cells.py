"""One cell of a comparison: its state (``_analysis.states``) and, when both sides could be
read, the :class:`CellComparison`: each side's metric combined over its rows, the ratio B/A
with its interval, the verdict. ``compare`` walks the cells; this module judges one, and says
which fields of a row that reads (:func:`fields_kept`: ``compare`` keeps only those of each
row it streams from a file)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from inferclock._analysis import cell as _cell
from inferclock._analysis.states import CellState, judged_state, read_side, row_problem
from inferclock._common import intervals as _intervals
from inferclock._common.jsonl import Row
from inferclock._timing import schema as _schema

Verdict = _cell.Verdict


# What judging a cell reads of a row (besides a percentile metric's own fields): its key and
# error, the cell's description, the process, the median and throughput with their intervals,
# and the host fields that pick and name a side's host.
_READ = _schema.names(
    "key", "error", "model", "device", "precision_requested", "batch_size", "mode", "n",
    "process", "host", "host_name", "latency_median_ns", "latency_ci95_low_ns",
    "latency_ci95_high_ns", "latency_ci_confidence", "throughput_fps", "throughput_ci_low_fps",
    "throughput_ci_high_fps",
)  # fmt: skip


def fields_kept(metric: str) -> Callable[[Row], Row]:
    """A row cut down to what comparing on ``metric`` (checked: "auto", "median",
    "throughput", "p99"...) reads of it: the fields present among those above, and for a
    percentile its ``latency_percentiles`` entry and its fixed column (``latency_p99_ns``).
    A field absent stays absent: states tell "absent" from "null"."""
    flat = f"latency_{metric}_ns"
    names = _READ + ((flat,) if _schema.declared(flat) else ())
    pct = metric not in ("auto", "median", "throughput")
    pct_field = _schema.name("latency_percentiles")

    shared: dict[str, str] = {}  # one copy of each key, model, host... string: per cell, not row

    def cut(row: Row) -> Row:
        out: Row = {}
        for f in names:
            if f in row:
                v = row[f]
                out[f] = shared.setdefault(v, v) if isinstance(v, str) else v
        if pct and pct_field in row:
            p = row[pct_field]
            out[pct_field] = (
                {metric: p[metric]}
                if isinstance(p, dict) and metric in p
                else (p if not isinstance(p, dict) else {})
            )
        return out

    return cut


@dataclass(frozen=True)
class CellComparison:
    """One cell present on both sides: its metric on each side, their ratio b/a with its
    interval, and the verdict (in the metric's bad direction)."""

    key: str
    model: str
    device: str
    precision: str
    batch_size: int
    mode: str
    metric: str  # "median", "throughput" or a percentile such as "p99"
    value_a: float  # ns for latency metrics, samples/s for throughput
    value_b: float
    ratio: float  # value_b / value_a
    ci_low: float
    ci_high: float
    verdict: Verdict
    method: str  # "between" or "within": which variation set the interval's width
    runs_a: int
    runs_b: int
    n_a: int
    n_b: int
    median_a_ns: float
    median_b_ns: float
    throughput_ratio: float | None
    multimodal_a: bool | None = None
    multimodal_b: bool | None = None
    #: "no interval" for a cell judged on its point ratio, else ``verdict``.
    state: str = ""

    @property
    def higher_is_better(self) -> bool:
        return _cell.higher_is_better(self.metric)

    @property
    def slowdown(self) -> float:
        """How many times worse B is (above 1: worse), whatever the metric's direction."""
        return 1.0 / self.ratio if self.higher_is_better else self.ratio

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_state(
    key: str,
    ga: dict[str, list[Row]],
    gb: dict[str, list[Row]],
    ia: dict[str, list[Row]],
    ib: dict[str, list[Row]],
    in_b: bool,
    metric: str,
    threshold: float,
    confidence: float,
) -> tuple[CellState, CellComparison | None]:
    """The state of cell ``key`` of A, and its comparison when both sides could be read."""
    if key in ia:
        return CellState(key, "unreadable", f"A: {row_problem(ia[key][0])}"), None
    if key not in ga:
        return CellState(key, "error in A", "A has only error rows: nothing to compare"), None
    if not in_b:
        return CellState(key, "missing in B", "B has no row of this cell"), None
    if key in ib:
        return CellState(key, "unreadable", f"B: {row_problem(ib[key][0])}"), None
    if key not in gb:
        return CellState(key, "error in B", "B has only error rows"), None
    ra, rb = ga[key], gb[key]
    m = _cell.metric_for(metric, _schema.get(ra[0], "mode"))
    (ca, why_a), (cb, why_b) = read_side(ra, m, confidence), read_side(rb, m, confidence)
    if ca is None or cb is None:
        why = f"A {why_a}" if why_a else f"B {why_b}"
        return CellState(key, "unreadable", f"{m}: {why}"), None
    c = _comparison(key, ra, rb, m, ca, cb, threshold, confidence)
    if c.state == "no interval":
        side = " and ".join(s for s, x in (("A", ca), ("B", cb)) if x.low is None) or "A or B"
        reason = f"{side} without an interval (too few samples): judged on the point ratio"
    else:
        reason = f"{c.ratio:.3f} [{c.ci_low:.3f}, {c.ci_high:.3f}] at threshold {threshold:.1%}"
    return CellState(key, c.state, reason), c  # type: ignore[arg-type]


def _comparison(
    key: str,
    ra: list[Row],
    rb: list[Row],
    m: str,
    ca: _intervals.Combined,
    cb: _intervals.Combined,
    threshold: float,
    confidence: float,
) -> CellComparison:
    r, lo, hi = _intervals.ratio(ca, cb, confidence)
    lo = math.nan if lo is None else lo  # no interval on a side: judged on the point ratio
    hi = math.nan if hi is None else hi
    state = judged_state(r, lo, hi, m, threshold)
    hb = _cell.higher_is_better(m)
    verdict = _cell.judge(r, r, threshold, hb) if state == "no interval" else state
    ma, mb = _cell.combine_rows(ra, "median"), _cell.combine_rows(rb, "median")
    ta_, tb_ = _cell.combine_rows(ra, "throughput"), _cell.combine_rows(rb, "throughput")
    first = ra[0]
    batch = _schema.get(first, "batch_size")
    return CellComparison(
        key=key, model=str(_schema.get(first, "model")),
        device=str(_schema.get(first, "device")),
        precision=str(_schema.get(first, "precision_requested")),
        batch_size=batch if isinstance(batch, int) else 0, mode=str(_schema.get(first, "mode")),
        metric=m, value_a=ca.estimate, value_b=cb.estimate, ratio=r, ci_low=lo, ci_high=hi,
        verdict=verdict,  # type: ignore[arg-type]
        method="between" if ca.between or cb.between else "within",
        runs_a=len(ra), runs_b=len(rb),
        n_a=sum(int(_schema.get(x, "n") or 0) for x in ra),
        n_b=sum(int(_schema.get(x, "n") or 0) for x in rb),
        median_a_ns=ma.estimate if ma else math.nan,
        median_b_ns=mb.estimate if mb else math.nan,
        throughput_ratio=tb_.estimate / ta_.estimate if ta_ and tb_ else None,
        multimodal_a=ca.multimodal if ca.processes > 1 else None,
        multimodal_b=cb.multimodal if cb.processes > 1 else None,
        state=state,
    )  # fmt: skip
