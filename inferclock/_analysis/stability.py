"""When a figure cannot be trusted: the instability check of ``ic.measure``, ``ic.run`` and the
summaries, in the spirit of pyperf's warnings, and the speed-mode test behind ``multimodal``.

A figure is flagged unstable, with one reason each, when its samples spread widely (coefficient
of variation above ``CV_LIMIT``), its fastest sample is far from its median (below
``MIN_SHARE`` of it: the median is not what the code costs on a quiet machine), its processes
fall into separate speed modes (:func:`modes`), or it rests on too few samples
(``FEW_SAMPLES``). The reasons go to an :class:`InstabilityWarning` and to the result; the
interval itself is not changed by them.

``multimodal`` means separate speed modes, not a spread: the processes' values (on the log
scale, sorted) split at their widest gap into two groups whose values differ by more than
``MODE_GAP`` and whose own intervals do not overlap. Processes 1-3% apart, each with a tight
interval, are ordinary between-process spread, which the combined interval already carries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from inferclock._common.intervals import Run

#: Coefficient of variation (stdev / mean) above which the samples are called unstable.
CV_LIMIT = 0.5
#: The fastest sample below this share of the median: flagged.
MIN_SHARE = 0.5
#: Fewer samples than this: flagged.
FEW_SAMPLES = 30
#: Two groups of processes further apart than this (relative) are two speed modes.
MODE_GAP = 0.10


class InstabilityWarning(UserWarning):
    """A measured figure whose spread says it cannot be trusted as it stands (the reasons are
    in the message and on the result's ``instability``)."""


def modes(runs: Sequence[Run]) -> str | None:
    """A note naming two speed modes when the processes' values split into two groups (see the
    module docstring), else None. One value per process: the mean of its runs' logs."""
    by: dict[int | str, list[Run]] = {}
    for r in runs:
        by.setdefault(r.process, []).append(r)
    if len(by) < 2:
        return None
    procs = []
    for rs in by.values():
        y = sum(math.log(r.value) for r in rs) / len(rs)
        lows = [r.low for r in rs if r.low is not None]
        highs = [r.high for r in rs if r.high is not None]
        lo = math.log(min(lows)) if len(lows) == len(rs) else y
        hi = math.log(max(highs)) if len(highs) == len(rs) else y
        procs.append((y, lo, hi))
    procs.sort()
    gaps = [procs[i + 1][0] - procs[i][0] for i in range(len(procs) - 1)]
    cut = max(range(len(gaps)), key=gaps.__getitem__)
    slow, fast = procs[cut + 1 :], procs[: cut + 1]
    if gaps[cut] <= math.log1p(MODE_GAP) or max(p[2] for p in fast) >= min(p[1] for p in slow):
        return None

    def centre(group: list[tuple[float, float, float]]) -> float:
        return math.exp(sum(p[0] for p in group) / len(group))

    a, b = centre(fast), centre(slow)
    return (
        f"two speed modes: {len(fast)} process(es) near {_fmt(a)}, {len(slow)} near {_fmt(b)} "
        f"({b / a - 1:.0%} apart, their intervals disjoint)"
    )


def _fmt(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


def reasons(
    n: int, cv: float | None, min_ns: float | None, median_ns: float | None, modes_note: str | None
) -> tuple[str, ...]:
    """Why a figure of ``n`` samples cannot be trusted (empty: no sign of it)."""
    out = []
    if n < FEW_SAMPLES:
        out.append(f"only {n} sample(s) (fewer than {FEW_SAMPLES})")
    if cv is not None and math.isfinite(cv) and cv > CV_LIMIT:
        out.append(f"coefficient of variation {cv:.0%} (above {CV_LIMIT:.0%})")
    if min_ns is not None and median_ns and math.isfinite(median_ns) and median_ns > 0:
        share = min_ns / median_ns
        if share < MIN_SHARE:
            out.append(
                f"the fastest sample took {share:.0%} of the median (below {MIN_SHARE:.0%}): "
                "the median is far from the code's cost on a quiet machine"
            )
    if modes_note:
        out.append(f"processes disagree: {modes_note}")
    return tuple(out)


def warning_text(what: str, why: Sequence[str]) -> str:
    return f"{what} may be unstable: " + "; ".join(why)
