"""Intervals of the median and of every percentile that hold for autocorrelated samples.

Timings arrive in order, and on a real machine consecutive ones are alike (frequency, caches,
neighbours come and go over many calls). The order-statistic interval of ``intervals``
(ranks from Binomial(n, q)) is exact for independent samples and too narrow for these: at the
adaptive stop it covered the median 78.6% of the time for AR(1) 0.5 samples, 36.8% for AR(1)
0.9 (``benchmarks/coverage.py``). The interval here keeps its ranks, with n replaced by an
**effective sample size** (the same idea as the Monte Carlo standard error of a quantile in
Vehtari et al. 2021, "Rank-normalization, folding, and localization"):

* Whether x_t <= xi_q is a 0/1 series whose mean is the sample's share at or below the
  quantile; the quantile's error is that share's error mapped through the density. Its
  variance is q(1 - q) tau / n, with tau = 1 + 2 sum_k rho_k the **integrated
  autocorrelation time** of the indicator. The indicator is taken at the sample's own
  quantile, x_(ceil(nq)) (1-based).
* tau by Geyer's initial monotone sequence (1992): autocorrelations by FFT, summed in pairs
  rho_2k + rho_2k+1 up to the first pair that is negative, each pair no larger than the one
  before. Series longer than ``MAX_SERIES`` are cut into that many consecutive blocks first
  (their sums keep the long-run variance: tau = var(block sum) tau_blocks / (b var(x_t)) for
  blocks of b), so the cost stays O(n) with a bounded FFT. tau is at least 1: an interval is
  never narrower than the one for independent samples.
* n_eff = floor(n / tau); the exact Binomial(n_eff, q) ranks (lo_e, hi_e) are scaled back to
  the sample, lo + 1 = floor(n (lo_e + 1) / n_eff) and hi = ceil(n hi_e / n_eff); an extreme
  rank stays extreme. With tau = 1 these are exactly ``intervals.quantile_ranks(n, q)``. The
  coverage reported is Binomial(n_eff, q)'s: below the confidence asked for when n_eff is too
  small (the stop then waits, and a note says so).
* Fewer than ``MIN_SERIAL`` samples say nothing about their correlation: they are taken as
  independent.

Every function takes samples along the last axis, in time order, and works row by row on
leading axes (so a simulation of many runs calls the same code as a run).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from inferclock._common.distributions import check_open as _check_open
from inferclock._common.intervals import quantile_ranks

__all__ = [
    "MAX_SERIES",
    "MIN_SERIAL",
    "effective_ranks",
    "indicator_time",
    "integrated_time",
    "quantile_ci",
    "serial_ranks",
    "threshold_rank",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

#: Below this many samples, tau is 1 (too few to tell correlation from chance).
MIN_SERIAL = 20
#: Longer indicator series are summed in consecutive blocks down to at most this many.
MAX_SERIES = 1 << 12


def integrated_time(series: npt.ArrayLike) -> Floats:
    """tau >= 1 of each row (time along the last axis): Geyer's initial monotone sequence.

    A constant row (no variance) gives 1. Cost: one FFT of twice the row length per row.
    """
    y = np.asarray(series, dtype=np.float64)
    n = y.shape[-1]
    if n < 2:
        return np.ones(y.shape[:-1])
    y = y - y.mean(axis=-1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(y, size, axis=-1)
    acov = np.fft.irfft(f.real**2 + f.imag**2, size, axis=-1)[..., :n]
    v0 = acov[..., :1]
    ok = v0[..., 0] > 1e-12 * n
    m = n // 2
    pairs = (acov[..., 0 : 2 * m : 2] + acov[..., 1 : 2 * m : 2]) / np.where(ok[..., None], v0, 1.0)
    negative = pairs < 0
    first = np.where(negative.any(axis=-1), negative.argmax(axis=-1), m)
    kept = np.arange(m) < first[..., None]
    monotone = np.minimum.accumulate(pairs, axis=-1)
    tau = 2.0 * np.where(kept, monotone, 0.0).sum(axis=-1) - 1.0
    return np.where(ok, np.maximum(tau, 1.0), 1.0)


def indicator_time(x: npt.ArrayLike, threshold: npt.ArrayLike) -> Floats:
    """tau of the series 1{x_t <= threshold}, per row of ``x`` (``threshold``: one per row).

    1 below ``MIN_SERIAL`` samples. Rows longer than ``MAX_SERIES`` are summed in blocks first.
    """
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[-1]
    if n < MIN_SERIAL:
        return np.ones(a.shape[:-1])
    ind = (a <= np.asarray(threshold, dtype=np.float64)[..., None]).astype(np.float64)
    b = -(-n // MAX_SERIES)
    if b == 1:
        return integrated_time(ind)
    k = n // b
    used = ind[..., : k * b]
    sums = used.reshape(*used.shape[:-1], k, b).sum(axis=-1)
    var_one = used.var(axis=-1)
    ok = var_one > 0
    tau = sums.var(axis=-1) * integrated_time(sums) / (b * np.where(ok, var_one, 1.0))
    return np.where(ok, np.maximum(tau, 1.0), 1.0)


def threshold_rank(n: int, q: float) -> int:
    """0-based rank of the sample's own q-quantile, x_(ceil(nq)), at which the indicator is
    taken."""
    return min(n - 1, max(0, math.ceil(n * q) - 1))


def effective_ranks(
    n: int, tau: npt.ArrayLike, q: float, confidence: float = 0.95
) -> tuple[Ints, Ints, Floats]:
    """(lo, hi, coverage) per tau: the Binomial(n_eff, q) ranks, n_eff = floor(n / tau),
    scaled back to a sample of n (module docstring). tau = 1 gives ``quantile_ranks(n, q)``."""
    if n < 1:
        raise ValueError(f"n must be a positive number of samples, got {n!r}")
    _check_open("q", q)
    _check_open("confidence", confidence)
    t = np.asarray(tau, dtype=np.float64)
    if np.any(~(t >= 1.0)):
        raise ValueError("tau must be >= 1")
    n_eff = np.clip(np.floor(n / t), 1, n).astype(np.int64)
    lo, hi = np.empty(t.shape, np.int64), np.empty(t.shape, np.int64)
    coverage = np.empty(t.shape, np.float64)
    for e in np.unique(n_eff).tolist():
        lo_e, hi_e, cov = quantile_ranks(e, q, confidence)
        rows = n_eff == e
        lo[rows] = 0 if lo_e == 0 else (n * (lo_e + 1)) // e - 1
        hi[rows] = n - 1 if hi_e == e - 1 else -(-(n * hi_e) // e)
        coverage[rows] = cov
    # Rounding to whole ranks may leave a side one rank inside the independent-sample ranks.
    lo_n, hi_n, _ = quantile_ranks(n, q, confidence)
    return np.clip(lo, 0, lo_n), np.clip(hi, hi_n, n - 1), coverage


def serial_ranks(
    x: npt.ArrayLike, q: float, confidence: float = 0.95
) -> tuple[Ints, Ints, Floats, Floats]:
    """(lo, hi, coverage, tau) of the q-quantile, per row of ``x`` (samples in time order along
    the last axis): x_sorted[lo] <= xi_q <= x_sorted[hi] at about ``coverage``."""
    a = np.asarray(x, dtype=np.float64)
    n = a.shape[-1]
    if n == 0:
        raise ValueError("serial_ranks needs at least one sample")
    r = threshold_rank(n, q)
    tau = indicator_time(a, np.partition(a, r, axis=-1)[..., r])
    return (*effective_ranks(n, tau, q, confidence), tau)


def quantile_ci(x: npt.ArrayLike, q: float, confidence: float = 0.95) -> tuple[float, float, float]:
    """(low, high, coverage): the interval of the q-quantile of ``x`` (1-d, in time order)."""
    a = np.asarray(x, dtype=np.float64).ravel()
    lo, hi, coverage, _ = serial_ranks(a, q, confidence)
    part = np.partition(a, (int(lo), int(hi)))
    return float(part[int(lo)]), float(part[int(hi)]), float(coverage)
