"""MLPerf LoadGen's arithmetic for the open-loop scenarios: the query schedule (exponential gaps
for the Server scenario, or a fixed interval) and the early-stopping test. Pure functions, no
engine: the serving driver (``_timing.serve``) and the tests use them.

Early stopping follows ``loadgen/early_stopping.cc``: with ``t`` queries over the latency
bound, the run passes when it processed at least ``h + t`` queries, ``h`` the smallest count
for which ``t`` or fewer overlatency queries among ``h + t`` would happen with probability at
most ``1 - confidence`` if the true fraction within the bound were only ``percentile``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from inferclock._common.errors import ConfigError

ARRIVALS = ("poisson", "constant")
#: LoadGen's confidence for early stopping.
CONFIDENCE = 0.99


def schedule(
    qps: float,
    arrival: str,
    seed: int,
    *,
    duration: float | None = None,
    queries: int | None = None,
) -> npt.NDArray[np.float64]:
    """Due times in ns after the start, ascending: every query due within ``duration`` seconds,
    and at least ``queries`` of them (LoadGen's minimum duration and minimum query count; give
    one or both). Poisson: exponential gaps of mean 1/qps from a generator seeded with
    ``seed`` (LoadGen's Server scenario); constant: one every 1/qps, the first at 0."""
    if duration is None and queries is None:
        raise ConfigError("schedule: give duration, queries or both")
    gap_ns = 1e9 / qps
    horizon = 0.0 if duration is None else duration * 1e9
    least = queries or 0
    if arrival == "constant":
        n = max(least, math.ceil(horizon / gap_ns - 1e-9), 1)
        return np.arange(n, dtype=np.float64) * gap_ns
    if arrival != "poisson":
        raise ConfigError(f"arrival must be one of {', '.join(ARRIVALS)}, got {arrival!r}")
    rng = np.random.Generator(np.random.PCG64(seed))
    expect = max(horizon / gap_ns, least)
    chunks: list[npt.NDArray[np.float64]] = []
    total, count = 0.0, 0
    while total < horizon or count < least:  # one draw almost always suffices
        size = max(16, int(expect + 6 * math.sqrt(expect) + 16))
        offsets = total + np.cumsum(rng.exponential(gap_ns, size))
        chunks.append(offsets)
        total, count = float(offsets[-1]), count + size
    out = np.concatenate(chunks)
    return out[: max(least, int(np.searchsorted(out, horizon)))]


def _log_binom_cdf(t: int, n: int, q: float) -> float:
    """log P(X <= t) for X ~ Binomial(n, q)."""
    x = np.arange(t + 1, dtype=np.float64)
    lg = np.vectorize(math.lgamma, otypes=[np.float64])
    terms = lg(n + 1.0) - lg(x + 1) - lg(n - x + 1) + x * math.log(q) + (n - x) * math.log1p(-q)
    m = float(terms.max())
    return m + math.log(float(np.exp(terms - m).sum()))


def _passes(h: int, t: int, p: float, confidence: float) -> bool:
    # The odds of t or fewer overlatency queries in h + t, were a query within the bound with
    # probability only p: small enough means the true percentile is within the bound.
    return _log_binom_cdf(t, h + t, 1.0 - p) <= math.log(1.0 - confidence)


@lru_cache(maxsize=4096)
def min_passing(t: int, percentile: float, confidence: float = CONFIDENCE) -> int:
    """LoadGen's MinPassingQueriesFinder: the least h such that h queries within the bound
    and t over it pass early stopping (percentile in (0, 100))."""
    if t < 0:
        raise ConfigError(f"overlatency count must be >= 0, got {t}")
    p = percentile / 100.0
    if not 0 < p < 1:
        raise ConfigError(f"percentile must be in (0, 100), got {percentile!r}")
    lo = 0
    hi = max(1, math.ceil(math.log(1 - confidence) / math.log(p)))  # t = 0's exact answer
    while not _passes(hi, t, p, confidence):
        lo, hi = hi, 2 * hi
    while lo < hi:  # the least passing h in [lo, hi] (passing is monotone in h)
        mid = (lo + hi) // 2
        if _passes(mid, t, p, confidence):
            hi = mid
        else:
            lo = mid + 1
    return hi


def early_stopping(
    queries: int, overlatency: int, percentile: float, confidence: float = CONFIDENCE
) -> tuple[bool, int]:
    """(passed, queries needed) for a run of ``queries`` with ``overlatency`` of them over the
    bound: LoadGen's Server test, ``queries >= min_passing(t) + t``."""
    need = min_passing(overlatency, percentile, confidence) + overlatency
    return queries >= need, need
