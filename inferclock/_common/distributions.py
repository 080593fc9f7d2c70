"""The two distributions the intervals need, in the standard library alone: the standard
normal quantile and Student's t quantile (with its exact tail through the regularized
incomplete beta), so a worker that summarizes one run never imports scipy."""

from __future__ import annotations

import math
import statistics
from functools import lru_cache

__all__ = ["check_open", "normal_quantile", "t_quantile"]

_NORMAL = statistics.NormalDist()


def check_open(name: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")


def normal_quantile(p: float) -> float:
    """Standard normal quantile (``statistics.NormalDist().inv_cdf``)."""
    check_open("p", p)
    return _NORMAL.inv_cdf(p)


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularized incomplete beta (modified Lentz), x < (a+1)/(a+b+2)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _t_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: I_x(df/2, 1/2) / 2 with x = df / (df + t^2)."""
    a, b = df / 2.0, 0.5
    x, y = df / (df + t * t), t * t / (df + t * t)  # y = 1 - x without cancellation
    if y == 0.0:
        return 0.5
    log_front = a * math.log(x) + b * math.log(y) + math.lgamma(a + b) - math.lgamma(a)
    log_front -= math.lgamma(b)
    if x < (a + 1.0) / (a + b + 2.0):
        return 0.5 * math.exp(log_front) * _beta_cf(a, b, x) / a
    return 0.5 * (1.0 - math.exp(log_front) * _beta_cf(b, a, y) / b)


def _t_pdf(t: float, df: float) -> float:
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(log_c - (df + 1) / 2 * math.log1p(t * t / df))


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: float) -> float:
    """Student t quantile for ``df`` > 0 degrees of freedom (math.inf: the normal quantile).

    Closed forms for df 1 and 2; otherwise a Cornish-Fisher start (Abramowitz & Stegun 26.7.5)
    refined by safeguarded Newton steps on the exact tail P(T > t) (regularized incomplete beta).
    """
    check_open("p", p)
    if not df > 0:
        raise ValueError(f"degrees of freedom must be > 0, got {df!r}")
    if math.isinf(df):
        return normal_quantile(p)
    sign, tail = (1.0, 1.0 - p) if p >= 0.5 else (-1.0, p)  # solve P(T > t) = tail, t >= 0
    if df == 1:  # Cauchy; written with the tail so p near 1 keeps its digits
        return sign / math.tan(math.pi * tail) if tail < 0.5 else 0.0
    if df == 2:
        return sign * (1 - 2 * tail) / math.sqrt(2 * tail * (1 - tail))
    z = normal_quantile(1.0 - tail)
    z2 = z * z
    g = (
        z * (z2 + 1) / 4,
        z * ((5 * z2 + 16) * z2 + 3) / 96,
        z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384,
        z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160,
    )
    t = z + sum(gi / df ** (i + 1) for i, gi in enumerate(g))
    t = t if math.isfinite(t) and t > 0 else z  # the expansion fails for df well below 1
    lo, hi = 0.0, math.inf  # bracket kept so a Newton step never leaves it
    for _ in range(100):
        f = _t_tail(t, df) - tail
        if f > 0:
            lo = t
        else:
            hi = t
        step = f / _t_pdf(t, df)
        new = t + step
        if not lo < new < hi:
            new = (lo + hi) / 2 if math.isfinite(hi) else 2 * max(t, 1.0)
        if abs(new - t) <= 1e-13 * max(1.0, abs(t)):
            t = new
            break
        t = new
    return sign * t
