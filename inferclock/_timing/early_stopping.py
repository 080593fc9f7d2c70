"""MLPerf LoadGen's early stopping, ported operation for operation: the odds of ``t`` or fewer
overlatency queries (``loadgen/early_stopping.cc``: a regularized incomplete beta through
LoadGen's own hypergeometric series), the least passing count ``h`` (its binary search and
starting bracket) and the early-stopping percentile estimate (``loadgen/results.cc``,
``PerformanceSummary::EarlyStopping``: SingleStream's official metric at p90, MultiStream's at
p99). Pure functions of counts and sorted latencies, no engine.

The same IEEE double operations as the C++ in the same order, numpy's sequential
``cumprod``/``cumsum`` standing for its loop, and the C library's ``lgamma`` (CPython's own
``math.lgamma`` differs from it in the last bits), so that a tie is decided as LoadGen decides
it. ``tests/test_early_stopping.py`` compiles LoadGen's own ``early_stopping.cc`` and compares.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

#: LoadGen's confidence and tolerance (hard-coded in ``PerformanceSummary::EarlyStopping``).
CONFIDENCE = 0.99
TOLERANCE = 0.0
#: ``hypergeometric_2F1_A1``'s stopping term.
SERIES_TOLERANCE = 1.0 / (1 << 33)


def _c_lgamma() -> Callable[[float], float]:
    """The C library's lgamma (LoadGen's ``std::lgamma``: the interpreter is linked with it),
    else Python's."""
    import ctypes  # here: a worker that never asks pays nothing

    for name in (None, "libm.so.6"):
        try:
            fn = ctypes.CDLL(name).lgamma
        except (OSError, AttributeError):  # pragma: no cover - another platform
            continue
        fn.restype = ctypes.c_double
        fn.argtypes = [ctypes.c_double]
        return fn
    return math.lgamma  # pragma: no cover


@lru_cache(maxsize=1)
def _lgamma_fn() -> Callable[[float], float]:
    return _c_lgamma()


def _lgamma(x: float) -> float:
    return _lgamma_fn()(x)


def lbeta(x: int, y: int) -> float:
    return _lgamma(float(x)) + _lgamma(float(y)) - _lgamma(float(x + y))


def hypergeometric_2f1_a1(b: int, c: int, x: float) -> float:
    """LoadGen's 2F1(1, b, c; x): terms until one is at most ``SERIES_TOLERANCE``. Here b <= 0,
    so the term at i = -b is 0 and the series has at most 1 - b terms. Computed in chunks,
    each carrying the last term and sum on, so every product and sum is the loop's own."""
    term, result = 1.0, 1.0
    start, size, end = 0, 1024, max(1 - b, 1)
    while start < end:
        i = np.arange(start, min(start + size, end), dtype=np.int64)
        factors = ((b + i).astype(np.float64) * x) / (c + i).astype(np.float64)
        terms = np.cumprod(np.concatenate(([term], factors)))[1:]  # term *= ..., in order
        small = np.flatnonzero(np.abs(terms) <= SERIES_TOLERANCE)
        last = int(small[0]) if small.size else terms.size - 1  # added, then the loop stops
        result = float(np.cumsum(np.concatenate(([result], terms[: last + 1])))[-1])
        if small.size:
            break
        term, start, size = float(terms[-1]), start + terms.size, size * 2
    return result


def beta_regularized(x: float, a: int, b: int) -> float:
    head = math.exp(a * math.log(x) + (b - 1) * math.log(1 - x) - lbeta(a, b))
    return head / a * hypergeometric_2f1_a1(1 - b, 1 + a, x / (x - 1))


def odds(h: int, t: int, p: float, d: float = TOLERANCE) -> float:
    """The odds of ``t`` or fewer overlatency queries among ``h + t`` were a query within the
    bound with probability only ``p - d``."""
    return beta_regularized(p - d, h, 1 + t)


def find_min_passing(min_h: int, max_h: int, t: int, p: float, d: float, c: float) -> int:
    """LoadGen's binary search for the least h in [min_h, max_h] with odds < 1 - c (max_h when
    none is)."""
    count = max_h - min_h
    while count > 0:
        step = count // 2
        h = min_h + step
        if odds(h, t, p, d) < 1 - c:
            count = step
        else:
            min_h = h + 1
            count -= step + 1
    return min_h


def _trunc(x: float) -> int:
    return int(x)  # a double converted to int64: toward zero, as C++


class MinPassingQueriesFinder:
    """LoadGen's ``MinPassingQueriesFinder``: memoized, each answer bracketing the next
    search by the two nearest smaller ``t`` already answered (so, as in LoadGen, an answer
    depends on the calls before it; a fresh finder per question is the Server check's)."""

    def __init__(self) -> None:
        self._caches: dict[tuple[float, float, float], tuple[list[int], dict[int, int]]] = {}

    def __call__(self, t: int, p: float, d: float = TOLERANCE, c: float = CONFIDENCE) -> int:
        keys, cache = self._caches.setdefault((p, d, c), ([], {}))
        if t in cache:
            return cache[t]
        at = bisect.bisect_left(keys, t)  # keys[at - 1]: the largest t' < t
        x0, y0 = -1, 0
        x1, y1 = 0, math.ceil(math.log(1 - c) / math.log(p - d))
        if at >= 1:
            x1, y1 = keys[at - 1], cache[keys[at - 1]]
        if at >= 2:
            x0, y0 = keys[at - 2], cache[keys[at - 2]]
        min_slope = (p - d) / (1 - p + d)
        max_slope = float((y1 - y0) * (x1 - x0))  # LoadGen's product, as written
        min_h = _trunc((t - x1) * min_slope + y1)
        max_h = _trunc((t - x1) * max_slope + y1 + 1)
        h = find_min_passing(min_h, max_h, t, p, d, c)
        keys.insert(at, t)
        cache[t] = h
        return h


def fraction(percentile: float) -> float:
    """A percentile (0, 100) as LoadGen reads it from its settings: ``strtod(text) * 0.01``."""
    return percentile * 0.01


@lru_cache(maxsize=8192)
def min_passing(t: int, percentile: float) -> int:
    """The least h such that h queries within the bound and ``t`` over it pass early stopping:
    LoadGen's Server check, one question to a fresh finder."""
    return MinPassingQueriesFinder()(t, fraction(percentile))


@dataclass(frozen=True)
class PercentileEstimate:
    """LoadGen's early-stopping estimate of a latency percentile: the latency below which the
    percentile lies with 99% confidence. ``value_ns`` is None when the run is too short
    (``reason`` says how many queries it needs)."""

    percentile: float
    value_ns: float | None
    queries: int  # the queries it was computed from
    needed: int  # the fewest queries that give an estimate (LoadGen: h_min + 1)
    discarded: int | None  # highest latencies passed over (LoadGen's "would discard t - 1")
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "percentile": self.percentile, "value_ns": self.value_ns, "queries": self.queries,
            "needed": self.needed, "discarded": self.discarded, "reason": self.reason,
        }  # fmt: skip

    def text(self) -> str:
        """'p90 9.830 ms (early stopping, 3 of 1000 highest passed over)' or the reason."""
        p = f"p{self.percentile:g}"
        if self.value_ns is None:
            return f"{p} early-stopping estimate: none ({self.reason})"
        return (
            f"{p} early-stopping estimate {self.value_ns / 1e6:.4f} ms ({self.discarded} of "
            f"{self.queries} highest passed over)"
        )


def _bracket(t: int, p: float) -> tuple[int, int]:
    """A fresh finder's search range for ``t``: [min_h, max_h]."""
    y1 = math.ceil(math.log(1 - CONFIDENCE) / math.log(p - TOLERANCE))
    min_slope = (p - TOLERANCE) / (1 - p + TOLERANCE)
    return _trunc(t * min_slope + y1), _trunc(t * float(y1) + y1 + 1)


@lru_cache(maxsize=8192)
def _least_passing(t: int, percentile: float) -> int:
    """``min_passing(t)`` found faster: the same least passing h in the same range, searched
    from a normal approximation outward (the odds fall as h grows, so any search of the
    range finds the same h; the tests compare with LoadGen's own code)."""
    p = fraction(percentile)
    min_h, max_h = _bracket(t, p)
    q, z = 1 - p, 2.326  # the overlatency share; the 99% one-sided normal quantile
    s = (z * math.sqrt(q * p) + math.sqrt(z * z * q * p + 4 * q * t)) / (2 * q)
    guess = min(max(int(s * s) - t, min_h), max_h)

    def passes(h: int) -> bool:
        return odds(h, t, p) < 1 - CONFIDENCE

    w = 8
    if passes(guess):  # the answer is at or below the guess
        hi, lo = guess, guess - w
        while lo > min_h and passes(lo):
            hi, w = lo, w * 2
            lo = hi - w
        lo = max(lo, min_h)
    else:
        lo, hi = guess + 1, guess + w
        while hi < max_h and not passes(hi):
            lo, w = hi + 1, w * 2
            hi = lo + w
        hi = min(hi, max_h)
    return find_min_passing(lo, hi, t, p, TOLERANCE, CONFIDENCE)


def overlatency_allowed(queries: int, percentile: float) -> int | None:
    """LoadGen's ``t``: the rank from the top whose latency is the estimate (1: the highest),
    or None when ``queries`` is too few (under ``min_passing(1) + 1``).

    LoadGen walks i = 2, 3, ... until ``queries < min_passing(i) + i`` and takes i - 1;
    ``min_passing(i) + i`` grows with i, so the same i is found by bisection (LoadGen's walk
    costs a search per i: minutes at a million queries). No i at or above
    ``queries x (1 - p)`` passes: min_passing(i) exceeds i p / (1 - p)."""
    if queries < _least_passing(1, percentile) + 1:
        return None

    def fails(i: int) -> bool:
        return queries < _least_passing(i, percentile) + i

    lo, hi = 1, min(queries, math.ceil(queries * (1 - fraction(percentile))) + 2)
    if not fails(hi):  # pragma: no cover - the bound above holds
        hi = queries
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fails(mid):
            hi = mid
        else:
            lo = mid
    return lo


def estimate(latencies_ns: npt.ArrayLike, percentile: float) -> PercentileEstimate:
    """LoadGen's early-stopping estimate of ``percentile`` over these latencies (one per query,
    any order): ``sorted[n - t]``. A non-finite latency (a query that never completed) can be
    the estimate: then it is None, with that reason."""
    lat = np.sort(np.asarray(latencies_ns, dtype=np.float64))
    n = int(lat.size)
    need = min_passing(1, percentile) + 1
    t = overlatency_allowed(n, percentile)
    p = f"p{percentile:g}"
    if t is None:
        reason = f"{n} queries; early stopping needs at least {need} for a {p} estimate"
        return PercentileEstimate(percentile, None, n, need, None, reason)
    value = float(lat[n - t])
    if not math.isfinite(value):
        reason = f"it falls on a query that never completed ({t - 1} of {n} passed over)"
        return PercentileEstimate(percentile, None, n, need, t - 1, reason)
    reason = f"sorted[{n} - {t}] of {n} queries (LoadGen's early-stopping estimate)"
    return PercentileEstimate(percentile, value, n, need, t - 1, reason)
