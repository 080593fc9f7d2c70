"""Statistics shared by ``measure``, the engine, sweeps and reports.

One module so every number inferclock prints is computed the same way:

* Percentiles use numpy's default method ("linear", Hyndman & Fan type 7): the p-th percentile of
  sorted samples x[0..n-1] is interpolated at rank (n - 1) * p / 100.
* The 95% confidence interval of the median is distribution-free: order statistics whose ranks
  come from the Binomial(n, 1/2) law (exact for n <= 1000, normal approximation with continuity
  correction above). It needs no assumption about the shape of the latency distribution, which
  is skewed and often multi-modal. For n < 6 no such interval reaches 95%: (min, max) is given.
* Warm-up is steady when two consecutive windows have medians within a relative tolerance.
* The adaptive stop ends when the CI half-width is at most ``target_ci`` times the median and
  the two halves of the run agree (``drift``): a narrow CI over a short window says nothing
  about a machine whose speed shifts from one second to the next (seen on shared VMs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Stats",
    "ci_halfwidth_ratio",
    "drift",
    "median_ci",
    "median_ci_ranks",
    "summarize",
    "windows_agree",
]

_EXACT_LIMIT = 1000


@lru_cache(maxsize=4096)
def median_ci_ranks(n: int, confidence: float = 0.95) -> tuple[int, int]:
    """0-based ranks (lo, hi) of sorted samples bounding the median with ``confidence``.

    P(x[lo] <= median <= x[hi]) >= confidence for any continuous distribution. For n too small
    to reach the confidence, returns (0, n - 1).
    """
    if n <= 0:
        raise ValueError(f"n must be positive, got {n}")
    alpha = 1.0 - confidence
    if n <= _EXACT_LIMIT:
        # Largest j with 2 * P(X <= j - 1) <= alpha, X ~ Binomial(n, 1/2).
        log_half_n = n * math.log(0.5)
        cdf = 0.0
        j = 0
        for k in range(n // 2 + 1):
            cdf += math.exp(
                math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half_n
            )
            if 2.0 * cdf > alpha:
                break
            j = k + 1
    else:
        z = _normal_quantile(1.0 - alpha / 2.0)
        j = math.floor(n / 2.0 - z * math.sqrt(n) / 2.0 + 0.5)
    if j < 1:
        return 0, n - 1
    return j - 1, n - j


def _normal_quantile(p: float) -> float:
    # Acklam's rational approximation (|error| < 1.2e-9), enough for ranks.
    a = (
        -3.969683028665376e01,
        2.209460984245205e02,
        -2.759285104469687e02,
        1.383577518672690e02,
        -3.066479806614716e01,
        2.506628277459239e00,
    )
    b = (
        -5.447609879822406e01,
        1.615858368580409e02,
        -1.556989798598866e02,
        6.680131188771972e01,
        -1.328068155288572e01,
    )
    c = (
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e00,
        -2.549732539343734e00,
        4.374664141464968e00,
        2.938163982698783e00,
    )
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - 0.02425:
        return -_normal_quantile(1 - p)
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def median_ci(samples: npt.ArrayLike, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median of ``samples``."""
    x = np.asarray(samples)
    n = x.size
    if n == 0:
        raise ValueError("median_ci needs at least one sample")
    lo, hi = median_ci_ranks(n, confidence)
    part = np.partition(x, (lo, hi))
    return float(part[lo]), float(part[hi])


def ci_halfwidth_ratio(samples: npt.ArrayLike, confidence: float = 0.95) -> float:
    """Half-width of the median's CI over the median: the adaptive stop compares it to target_ci."""
    x = np.asarray(samples)
    if x.size < 6:
        return math.inf
    lo, hi = median_ci_ranks(x.size, confidence)
    mid = (x.size - 1) // 2, x.size // 2
    part = np.partition(x, sorted({lo, hi, *mid}))
    median = 0.5 * (float(part[mid[0]]) + float(part[mid[1]]))
    if median <= 0:
        return math.inf
    return 0.5 * (float(part[hi]) - float(part[lo])) / median


def windows_agree(a: npt.ArrayLike, b: npt.ArrayLike, tolerance: float) -> bool:
    """True when the medians of two windows are within ``tolerance`` (relative) of each other."""
    ma, mb = float(np.median(np.asarray(a))), float(np.median(np.asarray(b)))
    return abs(ma - mb) <= tolerance * max(ma, mb)


def drift(samples: npt.ArrayLike) -> float:
    """Relative change of the median from the first half of a run to the second half
    (0.02: the second half ran 2% slower). NaN with fewer than 2 samples."""
    x = np.asarray(samples)
    if x.size < 2:
        return math.nan
    first, second = float(np.median(x[: x.size // 2])), float(np.median(x[x.size // 2 :]))
    return second / first - 1.0 if first > 0 else math.nan


@dataclass(frozen=True)
class Stats:
    """Summary of timings in nanoseconds; every figure rests on ``n`` samples."""

    n: int
    min_ns: float
    mean_ns: float
    median_ns: float
    p90_ns: float
    p95_ns: float
    p99_ns: float
    max_ns: float
    stdev_ns: float
    cv: float
    mad_ns: float
    ci95_ns: tuple[float, float]

    @property
    def min_ms(self) -> float:
        return self.min_ns / 1e6

    @property
    def mean_ms(self) -> float:
        return self.mean_ns / 1e6

    @property
    def median_ms(self) -> float:
        return self.median_ns / 1e6

    @property
    def p90_ms(self) -> float:
        return self.p90_ns / 1e6

    @property
    def p95_ms(self) -> float:
        return self.p95_ns / 1e6

    @property
    def p99_ms(self) -> float:
        return self.p99_ns / 1e6

    @property
    def max_ms(self) -> float:
        return self.max_ns / 1e6

    @property
    def stdev_ms(self) -> float:
        return self.stdev_ns / 1e6

    @property
    def mad_ms(self) -> float:
        return self.mad_ns / 1e6

    @property
    def ci95_ms(self) -> tuple[float, float]:
        return self.ci95_ns[0] / 1e6, self.ci95_ns[1] / 1e6

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci95_ns"] = list(self.ci95_ns)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stats:
        fields = dict(d)
        fields["ci95_ns"] = tuple(fields["ci95_ns"])
        return cls(**fields)

    def __str__(self) -> str:
        lo, hi = self.ci95_ns
        return (
            f"median {_fmt_ns(self.median_ns)} [95% CI {_fmt_ns(lo)} .. {_fmt_ns(hi)}], "
            f"p90 {_fmt_ns(self.p90_ns)}, p99 {_fmt_ns(self.p99_ns)}, "
            f"min {_fmt_ns(self.min_ns)}, cv {self.cv:.1%}, n={self.n}"
        )


def _fmt_ns(ns: float) -> str:
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


def summarize(samples_ns: npt.ArrayLike | Sequence[float]) -> Stats:
    """Stats of a sample of durations in ns (see the module docstring for the methods)."""
    x = np.asarray(samples_ns, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("summarize needs a non-empty 1-d array of durations")
    p50, p90, p95, p99 = np.percentile(x, [50, 90, 95, 99])
    mean = float(np.mean(x))
    stdev = float(np.std(x, ddof=1)) if x.size > 1 else 0.0
    return Stats(
        n=int(x.size),
        min_ns=float(np.min(x)),
        mean_ns=mean,
        median_ns=float(p50),
        p90_ns=float(p90),
        p95_ns=float(p95),
        p99_ns=float(p99),
        max_ns=float(np.max(x)),
        stdev_ns=stdev,
        cv=stdev / mean if mean > 0 else math.nan,
        mad_ns=float(np.median(np.abs(x - p50))),
        ci95_ns=median_ci(x),
    )
