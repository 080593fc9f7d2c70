"""The rules of a peak search, as functions of a *step*: a callable that runs the server at
one rate and returns what it measured (a :class:`PeakStep`), or None when the step may not
start (the search then stops; the caller knows why). ``ic.find_peak_qps`` hands them a step
that runs a server run in a fresh worker process; a test can hand them a queueing simulation.

``loadgen`` is MLPerf LoadGen's FindPeakPerformance (``loadgen/loadgen.cc``: the start must
pass, ``FindBoundaries`` doubles until a step fails, ``FindPeakPerformanceBinarySearch``
halves the bracket until ``IsFinished``, ``test_settings_internal.h``); a step passes when the
percentile of its due-time latency is within the bound (``PerfConstraintsMet``), nothing else.
``verdict`` is inferclock's older search: a step passes when its full verdict is VALID (the
percentile, early stopping and the whole schedule run); it brackets from any start by doubling
or halving and stops when the bracket is within a relative tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: The search rules (``find_peak_qps(rule=...)``), the first the default.
RULES = ("loadgen", "verdict")
#: LoadGen's ``server_find_peak_qps_decimals_of_precision`` default.
DEFAULT_DECIMALS = 1
#: LoadGen's ``server_find_peak_qps_boundary_step_size`` default: each widening multiplies the
#: rate by 1 + this.
BOUNDARY_STEP = 1.0
#: The verdict rule's default relative tolerance.
DEFAULT_TOLERANCE = 0.02
#: Significant digits of a loadgen-rule rate: a rate is a cell key (``server@<qps:g>qps``), so
#: two rates must differ within ``g``'s six digits.
LOADGEN_DIGITS = 6
#: Significant digits of a verdict-rule rate (readable keys).
VERDICT_DIGITS = 3


@dataclass(frozen=True)
class PeakStep:
    """One server run of the search."""

    qps: float
    verdict: str | None
    reason: str | None
    percentile_latency_ms: float | None  # due-time latency at the percentile
    achieved_qps: float | None
    key: str
    resumed: bool  # the row was already in the results file
    #: the whole schedule ran (no guard or stop cut it short: its percentile covers it all)
    complete: bool = True


Step = Callable[[float], "PeakStep | None"]


@dataclass(frozen=True)
class Bracket:
    """Where a rule ended: the highest passing rate, the lowest failing one above it, and why
    there is no peak when the rule itself says so (a failing start under ``loadgen``)."""

    lo: float | None
    hi: float | None
    note: str | None = None


def rounded(q: float, digits: int) -> float:
    return float(f"{q:.{digits}g}")


def within_bound(step: PeakStep, bound_ms: float) -> bool:
    """LoadGen's ``PerfConstraintsMet`` for Server: the percentile of latency not above the
    bound. A step whose schedule was cut short fails (its percentile covers a prefix only)."""
    pct = step.percentile_latency_ms
    return step.complete and pct is not None and pct <= bound_ms


def is_finished(lo: float, hi: float, decimals: int) -> bool:
    """LoadGen's ``IsFinished``: the bracket no longer splits at ``decimals`` places."""
    scale = math.pow(10, decimals)
    return math.floor(lo * scale) + 1 >= math.floor(hi * scale)


def loadgen_search(start: float, step: Step, bound_ms: float, decimals: int) -> Bracket:
    """FindPeakPerformance: the start must be within the bound; then ``FindBoundaries`` widens
    by 1 + ``BOUNDARY_STEP`` (x2) until a step is not, then the midpoint of the bracket is
    tried until ``is_finished``. Returns the last passing rate as ``lo``."""
    first = step(start)
    if first is None:
        return Bracket(None, None)
    if not within_bound(first, bound_ms):
        got = first.percentile_latency_ms
        over = "no query completed" if got is None else f"{got:.3f} ms"
        cut = "" if first.complete else ", its schedule cut short"
        return Bracket(
            None, start,
            f"the start rate {start:g} qps does not keep the bound ({over}{cut}); LoadGen's "
            "rule needs a start within it: give a lower start_qps (--start-qps)",
        )  # fmt: skip
    lo, hi = start, None
    while hi is None:  # FindBoundaries
        q = rounded(lo * (1 + BOUNDARY_STEP), LOADGEN_DIGITS)
        if (s := step(q)) is None:
            return Bracket(lo, None)
        lo, hi = (q, None) if within_bound(s, bound_ms) else (lo, q)
    while not is_finished(lo, hi, decimals):  # FindPeakPerformanceBinarySearch
        q = rounded(lo + (hi - lo) / 2, LOADGEN_DIGITS)
        if q in (lo, hi) or (s := step(q)) is None:
            break
        lo, hi = (q, hi) if within_bound(s, bound_ms) else (lo, q)
    return Bracket(lo, hi)


def verdict_search(
    lo: float | None, hi: float | None, start: float | None, step: Step, tolerance: float
) -> Bracket:
    """The full-verdict search, from the bracket ``lo``/``hi`` the results file already holds
    or else from ``start``: halve until VALID or double until INVALID, then bisect until the
    bracket is within ``tolerance`` of its lower end."""

    def valid(q: float) -> bool | None:
        s = step(q)
        return None if s is None else s.verdict == "VALID"

    if lo is None and hi is None and start is not None:
        q = rounded(start, VERDICT_DIGITS)
        if (ok := valid(q)) is not None:
            lo, hi = (q, None) if ok else (None, q)
    while lo is None and hi is not None:
        q = rounded(hi / 2, VERDICT_DIGITS)  # halve until VALID
        if q <= 0 or q == hi or (ok := valid(q)) is None:
            break
        lo, hi = (q, hi) if ok else (None, q)
    while hi is None and lo is not None:
        q = rounded(lo * 2, VERDICT_DIGITS)  # double until INVALID
        if (ok := valid(q)) is None:
            break
        lo, hi = (q, None) if ok else (lo, q)
    while lo is not None and hi is not None:
        if (hi - lo) / lo <= tolerance:
            break
        q = rounded((lo + hi) / 2, VERDICT_DIGITS)
        if q in (lo, hi) or (ok := valid(q)) is None:
            break
        lo, hi = (q, hi) if ok else (lo, q)
    return Bracket(lo, hi)
