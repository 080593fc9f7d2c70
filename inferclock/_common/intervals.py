"""Honest intervals: every confidence interval inferclock prints, with the coverage it really has.

This module owns the interval arithmetic; ``stats`` summarizes one run with it, the engine gives
throughput its interval, and ``compare``/sweeps combine runs and processes with ``combine``.
Pure numpy and the standard library.

* **Quantiles** (``quantile_ranks``, ``quantile_ci``): order statistics x[lo] <= xi_q <= x[hi]
  whose coverage P(lo + 1 <= B <= hi), B ~ Binomial(n, q), holds for any continuous
  distribution. The binomial tails are computed exactly for every n (no normal approximation),
  equal-tailed, and the coverage actually achieved is returned with the ranks: it is at least
  the confidence asked for, or below it when n is too small (87.5% for the median at n = 4).
* **Percentiles** (``percentile``): "linear" is numpy's default (Hyndman & Fan type 7);
  "loadgen" is the order statistic MLPerf LoadGen reports (no interpolation).
* **Throughput** (``rate_interval``): batch means. Completions are split into consecutive
  sub-windows of whole rounds of requests; the Student-t interval of their mean duration is
  mapped to the rate. Sub-window means are nearly independent even when consecutive service
  times are correlated (they are on a VM), which an interval from per-call spread is not.
* **Runs and processes** (``combine``), on the log scale. Run r gives y_r = ln(value_r) and,
  from its own interval, s_r = ln(high/low) / (2 z_r) with z_r the normal quantile of its own
  coverage (which may be below 95%). Per process p: y_p = mean of its y_r and
  w_p^2 = mean(s_r^2) / R_p (repeats in one process treated as independent). Over k processes:
  estimate exp(ybar), ybar = mean(y_p); between-process variance s_b^2 = var(y_p, ddof=1);
  SE^2 = max(s_b^2 / k, mean(w_p^2) / k), with t on k - 1 degrees of freedom when the between
  term is the larger (``between``) and the normal quantile otherwise; interval
  exp(ybar -+ t SE). One process: the within term alone (one run gives back its own interval).
  Runs without intervals: two or more processes use the between term alone; one gives none.
  ``multimodal``: two processes whose own intervals y_p -+ z w_p do not overlap and whose values
  differ by more than ``min_gap`` (relative): two real speed modes, not two tight intervals a
  hair apart. ``ratio`` compares two combined figures: Welch on the log scale.

The normal and Student-t quantiles come from ``_common.distributions``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import overload

import numpy as np
import numpy.typing as npt

from inferclock._common.distributions import check_open as _check_open, normal_quantile, t_quantile

__all__ = [
    "METHODS",
    "Combined",
    "Run",
    "combine",
    "loadgen_index",
    "min_count",
    "normal_quantile",
    "percentile",
    "quantile_ci",
    "quantile_ranks",
    "rate_interval",
    "ratio",
    "t_quantile",
]

#: How ``percentile`` reads a percentile from samples.
METHODS: tuple[str, ...] = ("linear", "loadgen")


def _binomial_window(n: int, q: float) -> tuple[int, npt.NDArray[np.float64]]:
    """(a, pmf) with pmf[i] = P(B = a + i), B ~ Binomial(n, q), over every rank whose mass is
    not negligible: outside mean -+ (50 + 12 sd) the tails hold < 1e-30 (Bernstein's bound)."""
    mean, sd = n * q, math.sqrt(n * q * (1.0 - q))
    a = max(0, math.floor(mean - 50.0 - 12.0 * sd))
    b = min(n, math.ceil(mean + 50.0 + 12.0 * sd))
    k = np.arange(a, b, dtype=np.float64)
    # log pmf(k+1) - log pmf(k), summed from the low end, then normalized to the window's mass:
    # no lgamma anchor, whose rounding (lgamma(1e7) ~ 1.5e8) would cost 1e-8 of every term.
    steps = np.log((n - k) / (k + 1.0)) + math.log(q / (1.0 - q))
    logs = np.concatenate(([0.0], np.cumsum(steps)))
    pmf = np.exp(logs - logs.max())
    return a, pmf / pmf.sum()


@lru_cache(maxsize=4096)
def quantile_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int, float]:
    """0-based ranks (lo, hi) of the sorted sample bounding the q-quantile, and their coverage.

    Coverage P(x[lo] <= xi_q <= x[hi]) = P(lo + 1 <= B <= hi), B ~ Binomial(n, q), exact for
    any continuous distribution. Equal-tailed: lo is the largest rank with P(B <= lo) <= alpha/2
    and hi the smallest with P(B > hi) <= alpha/2 (the narrowest such pair). When one tail cannot
    reach alpha/2 (a high quantile of a short sample), that end is the extreme order statistic
    and the other end gets the rest of alpha. When n is too small for ``confidence`` at all:
    (0, n - 1) and its coverage 1 - q^n - (1 - q)^n. Milliseconds for n up to 1e7 and beyond.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n!r}")
    _check_open("q", q)
    _check_open("confidence", confidence)
    alpha = 1.0 - confidence
    a, pmf = _binomial_window(n, q)
    below = np.cumsum(pmf)  # P(B <= a + i)
    above = np.concatenate((np.cumsum(pmf[::-1])[::-1][1:], [0.0]))  # P(B > a + i)

    def miss_low(r: int) -> float:  # P(x[r] > xi_q) = P(B <= r)
        return float(below[r - a]) if r >= a else 0.0

    def miss_high(r: int) -> float:  # P(x[r] < xi_q) = P(B > r)
        return float(above[r - a]) if r - a < above.size else 0.0

    def largest_lo(budget: float) -> int | None:
        i = int(np.searchsorted(below, budget, side="right")) - 1
        if i >= 0:
            return a + i
        return a - 1 if a > 0 and budget > 0 else None  # below the window the mass is ~0

    def smallest_hi(budget: float) -> int | None:
        r = a + int(np.searchsorted(-above, -budget, side="left"))
        return r if r <= n - 1 else None

    lo, hi = largest_lo(alpha / 2), smallest_hi(alpha / 2)
    if hi is None and lo is not None:
        hi = n - 1
        lo = largest_lo(alpha - miss_high(hi))
    elif lo is None and hi is not None:
        lo = 0
        hi = smallest_hi(alpha - miss_low(lo))
    if lo is None or hi is None:
        lo, hi = 0, n - 1
    coverage = 1.0 - miss_low(lo) - miss_high(hi)
    # (0, 0) of one sample covers nothing; 1 - q - (1 - q) can leave 1e-16 of rounding.
    return lo, hi, coverage if coverage > 1e-12 else 0.0


@lru_cache(maxsize=256)
def min_count(q: float, confidence: float = 0.95) -> int:
    """Smallest n for which ``quantile_ranks`` reaches ``confidence`` (6 for the median at 95%)."""
    _check_open("q", q)
    _check_open("confidence", confidence)
    # Coverage of (0, n-1) is 1 - q^n - (1-q)^n <= 1 - max(q, 1-q)^n: start where that bound
    # first allows it and step up (one or two steps).
    n = max(1, math.ceil(math.log(1.0 - confidence) / math.log1p(-min(q, 1.0 - q))))
    while quantile_ranks(n, q, confidence)[2] < confidence:
        n += 1
    return n


def quantile_ci(x: npt.ArrayLike, q: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(low, high, achieved coverage): distribution-free interval of the q-quantile of ``x``."""
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("quantile_ci needs at least one sample")
    lo, hi, coverage = quantile_ranks(int(a.size), q, confidence)
    part = np.partition(a, (lo, hi))
    return float(part[lo]), float(part[hi]), coverage


def percentile(x: npt.ArrayLike, p: float, method: str = "linear") -> float:
    """The p-th percentile (p in [0, 100]) of ``x`` by ``method`` (one of ``METHODS``)."""
    if method not in METHODS:
        raise ValueError(
            f"unknown percentile method {method!r}; choose one of: {', '.join(METHODS)}"
        )
    if not 0.0 <= p <= 100.0:
        raise ValueError(f"percentile p must be in [0, 100], got {p!r}")
    a = np.asarray(x, dtype=np.float64).ravel()
    if a.size == 0:
        raise ValueError("percentile needs at least one sample")
    if method == "linear":
        return float(np.percentile(a, p))
    i = loadgen_index(int(a.size), p)
    return float(np.partition(a, i)[i])


@overload
def loadgen_index(n: int, p: float) -> int: ...
@overload
def loadgen_index(n: npt.NDArray[np.int64], p: float) -> npt.NDArray[np.int64]: ...
def loadgen_index(n: int | npt.NDArray[np.int64], p: float) -> int | npt.NDArray[np.int64]:
    """0-based rank of the sorted sample that MLPerf LoadGen reports as percentile p of n.

    LoadGen reads the percentile as ``strtod(text) * 0.01`` (loadgen/test_settings_internal.cc)
    and reports ``sorted[sample_count * percentile]`` (loadgen/results.cc,
    PerformanceSummary::ProcessLatencies): the double product truncated to an index, never
    interpolated. So here: ``int(n * (p * 0.01))``, clamped to [0, n - 1] (LoadGen asserts
    percentile < 1; p = 100 reads the maximum). ``p / 100`` is not the same double: at
    n = 10000, p = 99.99 it gives rank 9998 where LoadGen takes 9999. The one place this rank
    is computed (``percentile``, ``stats``, the open-loop verdict); ``n`` may be an array of
    counts.
    """
    fraction = p * 0.01
    if isinstance(n, np.ndarray):
        return np.clip((n * fraction).astype(np.int64), 0, n - 1)
    return min(max(int(n * fraction), 0), n - 1)


def rate_interval(
    ends_ns: npt.ArrayLike,
    items: float,
    granule: int = 1,
    batches: int = 20,
    confidence: float = 0.95,
) -> tuple[float, float | None, float | None]:
    """Throughput in items per second, with a batch-means interval: (rate, low, high).

    ``ends_ns``: completion times in ns from the opening of the steady window (increasing, one
    per completion; for a back-to-back loop, the cumulative sum of the latencies). ``items``:
    samples per completion (the batch size). ``granule``: completions per round of requests
    (the number in flight); sub-windows hold whole rounds. The rate is completions * items over
    the whole window. Its interval: with rounds = completions // granule, each sub-window holds
    rounds // min(batches, rounds) rounds, which gives k sub-windows (batches <= k < 2 batches,
    or k = rounds when fewer; leftover completions at the end count for the rate, not the
    spread). The mean sub-window
    duration has a Student-t interval on k - 1 degrees of freedom, mapped to the rate (monotone)
    and rescaled about the whole-window rate. Consecutive service times on a VM are correlated;
    means over long sub-windows are nearly independent, so this interval keeps its coverage where
    one from the per-call spread would be far too narrow. Fewer than 2 sub-windows: no interval.
    """
    ends = np.asarray(ends_ns, dtype=np.float64).ravel()
    if ends.size == 0 or not ends[-1] > 0:
        raise ValueError("rate_interval needs completion times ending after the window opened")
    if granule < 1 or batches < 1:
        raise ValueError(f"granule and batches must be >= 1, got {granule}, {batches}")
    _check_open("confidence", confidence)
    rate = ends.size * items / float(ends[-1]) * 1e9
    rounds = ends.size // granule
    if rounds < 2:
        return rate, None, None
    per = rounds // min(batches, rounds)
    k, m = rounds // per, per * granule
    bounds = np.concatenate(([0.0], ends[m - 1 : k * m : m]))
    durations = np.diff(bounds)
    mean = float(durations.mean())
    half = t_quantile(0.5 + confidence / 2, k - 1) * float(durations.std(ddof=1)) / math.sqrt(k)
    if not mean - half > 0:
        return rate, None, None
    # The rate m items / T falls as T grows: the duration interval maps onto it exactly, and
    # scaled about the whole-window rate (which also counts the leftover) it is rate * Tbar / T.
    return rate, rate * mean / (mean + half), rate * mean / (mean - half)


@dataclass(frozen=True)
class Run:
    """One run's figure for ``combine``: a median latency, a percentile or a throughput."""

    process: int | str  # runs with the same process id came from one worker process
    value: float  # > 0
    low: float | None  # the run's own interval of ``value`` (None: none)
    high: float | None
    confidence: float | None  # coverage of (low, high); None when no interval


@dataclass(frozen=True)
class Combined:
    """Runs and processes combined (see the module docstring for the method)."""

    estimate: float
    low: float | None
    high: float | None
    confidence: float
    processes: int
    runs: int
    multimodal: bool
    log_se: float  # standard error of ln(estimate); NaN when there is no interval
    df: float  # degrees of freedom of the t quantile (math.inf: normal)
    between: bool  # True when the between-process term set the width


def _log_error(run: Run) -> float | None:
    """The run's standard error of ln(value), from its own interval and coverage."""
    if run.low is None or run.high is None or run.confidence is None or run.confidence <= 0:
        return None  # no interval, or one that covers nothing (a single sample)
    if not 0 < run.low <= run.high:
        raise ValueError(f"a run's interval must be positive and ordered, got {run!r}")
    _check_open("a run's confidence", run.confidence)
    return math.log(run.high / run.low) / (2.0 * normal_quantile((1.0 + run.confidence) / 2.0))


def combine(runs: Sequence[Run], confidence: float = 0.95, min_gap: float = 0.01) -> Combined:
    """One figure, with its interval, from runs in one or more processes (module docstring)."""
    _check_open("confidence", confidence)
    if not runs:
        raise ValueError("combine needs at least one run")
    groups: dict[int | str, list[Run]] = {}
    for r in runs:
        if not r.value > 0:
            raise ValueError(f"a run's value must be > 0, got {r!r}")
        groups.setdefault(r.process, []).append(r)
    ys: list[float] = []
    ws: list[float | None] = []  # per-process within standard error (None: unknown)
    for members in groups.values():
        ys.append(statistics.fmean(math.log(r.value) for r in members))
        # A run without an interval shares its process's known ones; none known: unknown.
        known = [s for s in map(_log_error, members) if s is not None]
        ws.append(
            math.sqrt(statistics.fmean(s * s for s in known) / len(members)) if known else None
        )
    k, ybar = len(ys), statistics.fmean(ys)
    known_w = [w for w in ws if w is not None]
    within = statistics.fmean(w * w for w in known_w) / k if known_w else None
    between_var = statistics.variance(ys) / k if k >= 2 else None
    if between_var is not None and (within is None or between_var > within):
        se2, df, between = between_var, float(k - 1), True
    elif within is not None:
        se2, df, between = within, math.inf, False
    else:
        se2, df, between = math.nan, math.inf, False
    z = normal_quantile((1.0 + confidence) / 2.0)
    multimodal = any(
        abs(ys[i] - ys[j]) > z * (wi + wj) and math.expm1(abs(ys[i] - ys[j])) > min_gap
        for i, wi in enumerate(ws)
        for j, wj in enumerate(ws)
        if i < j and wi is not None and wj is not None  # no interval: no overlap to judge
    )
    se = math.sqrt(se2)
    low = high = None
    if math.isfinite(se):
        t = t_quantile((1.0 + confidence) / 2.0, df)
        low, high = math.exp(ybar - t * se), math.exp(ybar + t * se)
    return Combined(
        math.exp(ybar), low, high, confidence, k, len(runs), multimodal, se, df, between
    )


def ratio(
    a: Combined, b: Combined, confidence: float = 0.95
) -> tuple[float, float | None, float | None]:
    """b / a with its interval: Welch on the log scale, Welch-Satterthwaite degrees of freedom
    (a side with infinite df adds no term). None bounds when either side has no interval."""
    _check_open("confidence", confidence)
    y = math.log(b.estimate) - math.log(a.estimate)
    if not (math.isfinite(a.log_se) and math.isfinite(b.log_se)):
        return math.exp(y), None, None
    va, vb = a.log_se**2, b.log_se**2
    se2 = va + vb
    terms = sum(v * v / d for v, d in ((va, a.df), (vb, b.df)) if math.isfinite(d))
    df = se2 * se2 / terms if terms > 0 else math.inf
    half = t_quantile((1.0 + confidence) / 2.0, df) * math.sqrt(se2)
    return math.exp(y), math.exp(y - half), math.exp(y + half)
