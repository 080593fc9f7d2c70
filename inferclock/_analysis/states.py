"""Whether a row holds a measurement, whether a cell's metric can be read, and the named state
every compared cell ends in, with what each state does to a CI gate.

A row without ``error`` is a *measurement* only when its median latency is a positive finite
number (its interval, when it has one, valid and its coverage in [0, 1)), its ``n`` a
positive integer and its throughput, when present, a positive number; anything else (null,
NaN, 0, negative, a string, a bool, low > high, a confidence of 95) is *invalid*: named by
readers, never averaged, plotted or judged.

States, for each cell of A (``STATES``, in the order tables count them): the judged ones
(faster, same, slower, inconclusive, no interval) and the unjudged ones (unreadable, missing in
B, error in B), plus two that concern no cell of A's measurements (error in A, only in B). The
gate's outcome of each state is :func:`outcome`; docs/statistics.md ("The gate's states") has
the table with exit codes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from inferclock._analysis import cell as _cell
from inferclock._common.intervals import Combined
from inferclock._common.util import is_real
from inferclock._timing import schema as _schema

State = Literal[
    "faster", "same", "slower", "inconclusive", "no interval", "unreadable", "missing in B",
    "error in B", "error in A", "only in B",
]  # fmt: skip
STATES: tuple[State, ...] = (
    "slower", "no interval", "inconclusive", "unreadable", "missing in B", "error in B",
    "same", "faster", "error in A", "only in B",
)  # fmt: skip
#: States whose cells were judged on a ratio of both sides.
JUDGED: frozenset[str] = frozenset({"faster", "same", "slower", "inconclusive", "no interval"})
#: States that fail a gate unless ``allow_missing``: nothing says the cell did not get slower.
UNJUDGED: frozenset[str] = frozenset({"unreadable", "missing in B", "error in B"})

Outcome = Literal["pass", "fail", "allowed"]


@dataclass(frozen=True)
class CellState:
    """A cell's state in a comparison and why (``reason``: one line a person can act on)."""

    key: str
    state: State
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _value_problem(name: str, v: Any, present: bool) -> str | None:
    """Why ``v`` (field ``name``) is not a positive finite number, or None."""
    if not present:
        return f"{name} is absent"
    if v is None:
        return f"{name} is null"
    if isinstance(v, bool) or not is_real(v):
        return f"{name} is not a number ({v!r})"
    f = float(v)
    if math.isnan(f):
        return f"{name} is NaN"
    if not math.isfinite(f) or f <= 0:
        return f"{name} is {v!r} (a measurement is a positive finite number)"
    return None


def _bounds_problem(name: str, low: Any, high: Any) -> str | None:
    """Why an interval (``low``, ``high``) is invalid; None for a valid one or
    none at all (both null or NaN: a run too short for one)."""
    gone = [b is None or (isinstance(b, float) and math.isnan(b)) for b in (low, high)]
    if all(gone):
        return None
    if any(gone):
        return f"{name}'s interval has one bound ({low!r}, {high!r})"
    for b in (low, high):
        if isinstance(b, bool) or not is_real(b) or not 0 < float(b) < math.inf:
            return f"{name}'s interval bound {b!r} is not a positive number"
    if float(low) > float(high):
        return f"{name}'s interval is reversed (low {low!r} > high {high!r})"
    return None


def _confidence_problem(name: str, c: Any) -> str | None:
    """Why an interval's coverage ``c`` (field ``name``) is not a fraction in [0, 1), or None
    (null: no interval; 0: one sample's, which covers nothing). 95 or 1.0 would be read as a
    percent or as certainty."""
    if c is None or (isinstance(c, float) and math.isnan(c)):
        return None
    if isinstance(c, bool) or not is_real(c) or not 0 <= float(c) < 1:
        return f"{name} is {c!r} (a coverage in [0, 1) such as 0.95)"
    return None


_FIELDS = {
    "median": _schema.names("latency_median_ns", "latency_ci95_low_ns", "latency_ci95_high_ns"),
    "throughput": _schema.names(
        "throughput_fps", "throughput_ci_low_fps", "throughput_ci_high_fps"
    ),
}


def metric_problem(row: Mapping[str, Any], metric: str) -> str | None:
    """Why ``row``'s ``metric`` ("median", "throughput", "p99", ...) cannot be read, or None."""
    if metric in _FIELDS:
        value, low, high = _FIELDS[metric]
        v = _schema.get(row, value)
        why = _value_problem(value, v, value in row)
        lo, hi = _schema.get(row, low), _schema.get(row, high)
        why = why or _bounds_problem(value, lo, hi)
        if why is None and metric == "median":
            conf = "latency_ci_confidence"
            why = _confidence_problem(conf, _schema.get(row, conf))
        return why
    pct = _schema.get(row, "latency_percentiles")
    entry = pct.get(metric) if isinstance(pct, Mapping) else None
    if isinstance(entry, Mapping):
        name = f"{metric} (latency_percentiles)"
        v = entry.get("value_ns")
        why = _value_problem(name, v, "value_ns" in entry)
        why = why or _bounds_problem(name, entry.get("low_ns"), entry.get("high_ns"))
        return why or _confidence_problem(f"{name}'s confidence", entry.get("confidence"))
    flat = f"latency_{metric}_ns"
    if _schema.declared(flat):
        return _value_problem(flat, _schema.get(row, flat), flat in row)
    return f"{metric} is absent (not in latency_percentiles: rows carry the percentiles run with)"


def has_metric(row: Mapping[str, Any], metric: str) -> bool:
    """Whether ``row`` carries ``metric`` at all (readable or not)."""
    if metric in _FIELDS:
        return _FIELDS[metric][0] in row
    pct = _schema.get(row, "latency_percentiles")
    return (isinstance(pct, Mapping) and metric in pct) or f"latency_{metric}_ns" in row


def row_problem(row: Mapping[str, Any]) -> str | None:
    """Why a row without an error is not a valid measurement, or None (error rows: None)."""
    if _schema.get(row, "error") is not None:
        return None
    why = metric_problem(row, "median")
    if why is not None:
        return why
    n = _schema.get(row, "n")
    if "n" in row and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        return f"n is {n!r} (a measurement has at least one sample)"
    tp = _schema.get(row, "throughput_fps")
    # Its interval is checked when a cell is judged on throughput (read_side), not here.
    return None if tp is None else _value_problem("throughput_fps", tp, True)


def read_side(
    rows: Sequence[Mapping[str, Any]], metric: str, confidence: float
) -> tuple[Combined | None, str | None]:
    """A side's ``metric`` combined over its rows, or (None, why) when a row's value cannot be
    read: one unreadable row makes the side unreadable (it may be the slow process)."""
    for i, r in enumerate(rows):
        why = metric_problem(r, metric)
        if why is not None:
            p = _schema.get(r, "process")
            return None, (f"process {p}: " if isinstance(p, int) else f"row {i + 1}: ") + why
    return _cell.combine_rows(rows, metric, confidence), None


def worst_slowdown(ratio: float, low: float, high: float, metric: str) -> float:
    """A ratio B/A's worst plausible slow-down (above 1: B worse): its interval's bad end, or
    the point ratio when it has no interval (NaN bounds)."""
    hb = _cell.higher_is_better(metric)
    if math.isnan(low) or math.isnan(high):
        return 1.0 / ratio if hb else ratio
    return 1.0 / low if hb else high


def judged_state(ratio: float, low: float, high: float, metric: str, t: float) -> State:
    """The state of a cell judged on ``ratio`` [low, high] at threshold ``t``: "no interval"
    (NaN bounds) or ``_cell.judge``'s verdict."""
    if math.isnan(low) or math.isnan(high):
        return "no interval"
    return _cell.judge(low, high, t, _cell.higher_is_better(metric))


def judge_ratio(
    ratio: float, low: float, high: float, metric: str, t: float, *, allow_inconclusive: bool
) -> tuple[State, Outcome]:
    """The state of a judged ratio B/A [low, high] (NaN bounds: none) at threshold ``t`` and
    what it does to a gate: the one judgement of ``compare``'s gate, the plugin and ``ab``."""
    state = judged_state(ratio, low, high, metric, t)
    worst = worst_slowdown(ratio, low, high, metric)
    return state, outcome(
        state, worst, t, allow_missing=False, allow_inconclusive=allow_inconclusive
    )


def outcome(
    state: State,
    worst: float,
    t: float,
    *,
    allow_missing: bool,
    allow_inconclusive: bool,
) -> Outcome:
    """What a cell in ``state`` does to a gate at threshold ``t``: ``worst`` is its worst
    plausible slow-down (the interval's bad end; the point ratio without an interval).

    same, faster, error in A, only in B: pass. slower: fail. no interval: fail when its point
    ratio is worse than 1 + t, else pass. inconclusive: pass when even the interval's bad end is
    within 1 + t (B may be faster, is not slower beyond t), else fail unless
    ``allow_inconclusive``. unreadable, missing in B, error in B: fail unless
    ``allow_missing``.
    """
    if state in ("same", "faster", "error in A", "only in B"):
        return "pass"
    if state == "slower":
        return "fail"
    if state == "no interval":
        return "fail" if worst > 1.0 + t else "pass"
    if state == "inconclusive":
        if worst <= 1.0 + t:
            return "pass"
        return "allowed" if allow_inconclusive else "fail"
    return "allowed" if allow_missing else "fail"
