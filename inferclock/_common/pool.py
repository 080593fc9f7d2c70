"""Separate measurements of one thing pooled into one figure with its interval: a random-effects
meta-analysis (DerSimonian and Laird, 1986) on the log scale.

``_common.intervals.combine`` averages the processes of one measurement with equal weight; a
measurement repeated later (``inferclock bisect`` measures a commit again while its verdict is
inconclusive) is another matter: one run disturbed by load has a wide interval of its own, and
an equal-weight mean of the runs' variances would let it widen the pooled interval however
many clean runs follow. Here each run j gives y_j = ln(estimate_j) and v_j = log_se_j^2; with
weights w_j = 1 / v_j, Cochran's Q = sum w_j (y_j - ybar_w)^2 measures how much the runs
disagree beyond their own intervals, and tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum
w)) is the variance between runs that their intervals do not carry. The pooled estimate is the
mean weighted by w*_j = 1 / (v_j + tau^2), its standard error 1 / sqrt(sum w*_j): a wide run
counts little, and runs that disagree (a machine whose speed moved between them) widen the
interval by tau^2. The quantile is the t of the fewest degrees of freedom of the runs (the
normal one when every run's is); tau^2 itself adds none, as in DerSimonian-Laird's interval:
a t on k - 1 would make two runs that disagree a little useless (t(1) = 12.7), where a third
run is what settles it. With few runs that disagree much the interval is somewhat narrow;
``inferclock bisect`` judges against a threshold halfway between its ends, which leaves room.

Runs without an interval are left out of the weights (their estimate too) while one has an
interval; when none has, the runs' spread alone gives the interval (k - 1 degrees of freedom).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from inferclock._common.distributions import t_quantile
from inferclock._common.intervals import Combined


def pool(parts: Sequence[Combined], confidence: float = 0.95) -> Combined:
    """``parts`` (separate measurements of one figure) as one Combined; one part unchanged."""
    if not parts:
        raise ValueError("pool needs at least one measurement")
    if len(parts) == 1:
        return parts[0]
    known = [p for p in parts if math.isfinite(p.log_se) and p.log_se > 0]
    ys = [math.log(p.estimate) for p in (known or parts)]
    k = len(ys)
    if not known:
        se = statistics.stdev(ys) / math.sqrt(k) if k >= 2 else math.nan
        return _combined(parts, statistics.fmean(ys), se, float(k - 1), confidence, True)
    v = [p.log_se**2 for p in known]
    w = [1.0 / x for x in v]
    sw = sum(w)
    ybar_fixed = sum(wi * yi for wi, yi in zip(w, ys, strict=True)) / sw
    q = sum(wi * (yi - ybar_fixed) ** 2 for wi, yi in zip(w, ys, strict=True))
    c = sw - sum(wi * wi for wi in w) / sw
    tau2 = max(0.0, (q - (k - 1)) / c) if c > 0 else 0.0
    ws = [1.0 / (x + tau2) for x in v]
    ybar = sum(wi * yi for wi, yi in zip(ws, ys, strict=True)) / sum(ws)
    se = 1.0 / math.sqrt(sum(ws))
    df = min(p.df for p in known)
    between = tau2 > 0 or any(p.between for p in known)
    return _combined(parts, ybar, se, df, confidence, between)


def _combined(
    parts: Sequence[Combined], ybar: float, se: float, df: float, confidence: float, between: bool
) -> Combined:
    low = high = None
    if math.isfinite(se):
        t = t_quantile((1.0 + confidence) / 2.0, df)
        low, high = math.exp(ybar - t * se), math.exp(ybar + t * se)
    return Combined(
        estimate=math.exp(ybar), low=low, high=high, confidence=confidence,
        processes=sum(p.processes for p in parts), runs=sum(p.runs for p in parts),
        multimodal=any(p.multimodal for p in parts), log_se=se, df=df, between=between,
    )  # fmt: skip
