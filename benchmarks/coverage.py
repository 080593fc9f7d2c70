"""Coverage of inferclock's intervals, simulated: do the 95% intervals hold 95%?

Run: python benchmarks/coverage.py [--reps 2000] [--seed 1]   (prints markdown tables)

Table 1, a back-to-back (sync) loop under the adaptive stop: samples arrive in chunks (10, or 5%
of the run so far, like ``_timing.control``), and the run stops at the first check where n >= 30 and
the median's CI half-width is <= 5% of the median (the drift check is left out). At that point:
does the median's distribution-free CI hold the true median, and does ``rate_interval`` (batch
means, granule 1) hold the true rate 1 / E[latency]? A naive rate interval that treats the
latencies as independent (mean -+ z sd / sqrt(n)) is shown beside it.
Table 2, an async loop: ``inflight`` requests served in parallel, a new one issued at each
completion; the service times, in the order the requests are issued, follow the scenario (so
the AR(1) ones correlate requests in flight together); a fixed number of completions,
``rate_interval`` with granule = inflight.

Scenarios (latency in arbitrary units, the median of the main mode 1): i.i.d. lognormal
(sigma 0.5); AR(1) on the log latency with phi 0.5 and 0.9 (same lognormal marginal); bimodal
(70% lognormal at 1, 30% at 1.5, sigma 0.15 each). The functions are imported by
tests/test_intervals.py.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from inferclock._common.intervals import quantile_ranks, rate_interval

Array = npt.NDArray[np.float64]
#: draw(rng, rows, n) -> (rows, n) latencies, one independent sequence per row.
Draw = Callable[[np.random.Generator, int, int], Array]

SIGMA = 0.5
MAX_N = 2000  # samples a simulated sync run may take before the stop gives up
_BIMODAL = ((0.7, 0.0, 0.15), (0.3, math.log(1.5), 0.15))  # (weight, mu, sigma) per mode


def lognormal(rng: np.random.Generator, rows: int, n: int) -> Array:
    return np.exp(rng.normal(0.0, SIGMA, (rows, n)))


def ar1(phi: float) -> Draw:
    """Log latency AR(1) with coefficient ``phi``, stationary N(0, SIGMA^2) from the start."""

    def draw(rng: np.random.Generator, rows: int, n: int) -> Array:
        eta = rng.standard_normal((rows, n))
        e = np.empty((rows, n))
        e[:, 0] = SIGMA * eta[:, 0]
        scale = SIGMA * math.sqrt(1 - phi * phi)
        for t in range(1, n):
            e[:, t] = phi * e[:, t - 1] + scale * eta[:, t]
        return np.exp(e)

    return draw


def bimodal(rng: np.random.Generator, rows: int, n: int) -> Array:
    (w0, mu0, s0), (_, mu1, s1) = _BIMODAL
    first = rng.random((rows, n)) < w0
    return np.exp(np.where(first, rng.normal(mu0, s0, (rows, n)), rng.normal(mu1, s1, (rows, n))))


def _bimodal_median() -> float:
    def cdf(x: float) -> float:
        return sum(w * statistics.NormalDist(mu, s).cdf(math.log(x)) for w, mu, s in _BIMODAL)

    lo, hi = 0.5, 2.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < 0.5 else (lo, mid)
    return (lo + hi) / 2


#: name -> (draw, true median, true mean)
SCENARIOS: dict[str, tuple[Draw, float, float]] = {
    "i.i.d. lognormal": (lognormal, 1.0, math.exp(SIGMA**2 / 2)),
    "AR(1) phi=0.5": (ar1(0.5), 1.0, math.exp(SIGMA**2 / 2)),
    "AR(1) phi=0.9": (ar1(0.9), 1.0, math.exp(SIGMA**2 / 2)),
    "bimodal 70/30": (
        bimodal,
        _bimodal_median(),
        sum(w * math.exp(mu + s * s / 2) for w, mu, s in _BIMODAL),
    ),
}


def sequential_stop(
    x: Array, target: float = 0.05, min_n: int = 30, chunk: int = 10, confidence: float = 0.95
) -> npt.NDArray[np.int64]:
    """Sample count at which each row's adaptive stop fires (x.shape[1] when it never does):
    checks at n = min_n, then after chunks of max(chunk, 5% of n) samples, as
    ``stats.ci_halfwidth_ratio(x[:n]) <= target`` does, vectorized over rows."""
    reps, max_n = x.shape
    stops = np.full(reps, max_n, dtype=np.int64)
    active = np.arange(reps)
    n = min_n
    while n <= max_n and active.size:
        lo, hi, _ = quantile_ranks(n, 0.5, confidence)
        mid = ((n - 1) // 2, n // 2)
        part = np.partition(x[active, :n], sorted({lo, hi, *mid}), axis=1)
        median = 0.5 * (part[:, mid[0]] + part[:, mid[1]])
        done = 0.5 * (part[:, hi] - part[:, lo]) <= target * median
        stops[active[done]] = n
        active = active[~done]
        n += max(chunk, math.ceil(0.05 * n))
    return stops


def median_coverage(
    x: Array, stops: npt.NDArray[np.int64], true_median: float, confidence: float = 0.95
) -> float:
    """Share of rows whose median CI over x[i, :stops[i]] holds ``true_median``."""
    hits = 0
    for n in np.unique(stops):
        rows = x[stops == n, :n]
        lo, hi, _ = quantile_ranks(int(n), 0.5, confidence)
        part = np.partition(rows, (lo, hi), axis=1)
        hits += int(np.sum((part[:, lo] <= true_median) & (true_median <= part[:, hi])))
    return hits / int(x.shape[0])


def rate_coverage(
    ends: list[Array], true_rate: float, granule: int = 1, confidence: float = 0.95
) -> tuple[float, float]:
    """(coverage, share of runs with an interval) of ``rate_interval`` over completion times
    (one array per run, in ns from the window's opening; one item per completion)."""
    hits = have = 0
    for e in ends:
        _, low, high = rate_interval(e, 1.0, granule=granule, confidence=confidence)
        if low is not None and high is not None:
            have += 1
            hits += low <= true_rate <= high
    return hits / len(ends), have / len(ends)


def naive_rate_coverage(
    x: Array, stops: npt.NDArray[np.int64], true_rate: float, confidence: float = 0.95
) -> float:
    """Coverage of the interval that treats latencies as independent: 1e9 / (mean -+ z se)."""
    z = statistics.NormalDist().inv_cdf((1 + confidence) / 2)
    hits = 0
    for row, n in zip(x, stops, strict=True):
        lat = row[:n]
        mean, se = float(lat.mean()), float(lat.std(ddof=1)) / math.sqrt(n)
        hits += 1e9 / (mean + z * se) <= true_rate <= 1e9 / (mean - z * se)
    return hits / int(x.shape[0])


def async_ends(
    draw: Draw, rng: np.random.Generator, reps: int, completions: int, inflight: int
) -> list[Array]:
    """Completion times of ``reps`` async runs, in latency units (read as ns): ``inflight``
    requests issued at time 0, then one more at each completion, the j-th issued taking the
    j-th latency of the scenario's sequence (event simulation, vectorized over runs)."""
    service = draw(rng, reps, completions + inflight)
    finish = service[:, :inflight].copy()
    ends = np.empty((reps, completions))
    rows = np.arange(reps)
    for j in range(completions):
        w = np.argmin(finish, axis=1)
        ends[:, j] = finish[rows, w]
        finish[rows, w] += service[:, inflight + j]
    return list(ends)


def sync_table(reps: int, seed: int, max_n: int = MAX_N) -> list[list[str]]:
    rows = []
    for name, (draw, true_median, true_mean) in SCENARIOS.items():
        rng = np.random.default_rng(seed)
        x = draw(rng, reps, max_n)
        stops = sequential_stop(x)
        ends = [np.cumsum(r[:n]) for r, n in zip(x, stops, strict=True)]
        rate_cov, _ = rate_coverage(ends, 1e9 / true_mean)
        rows.append(
            [
                name,
                f"{np.median(stops):.0f}",
                f"{np.mean(stops < max_n):.1%}",
                f"{median_coverage(x, stops, true_median):.1%}",
                f"{rate_cov:.1%}",
                f"{naive_rate_coverage(x, stops, 1e9 / true_mean):.1%}",
            ]
        )
    return rows


def async_table(
    reps: int, seed: int, completions: int = 2000, inflight: int = 4
) -> list[list[str]]:
    rows = []
    for name, (draw, _, true_mean) in SCENARIOS.items():
        ends = async_ends(draw, np.random.default_rng(seed), reps, completions, inflight)
        cov, have = rate_coverage(ends, inflight * 1e9 / true_mean, granule=inflight)
        rows.append([name, str(completions), str(inflight), f"{cov:.1%}", f"{have:.0%}"])
    return rows


def main() -> None:
    sys.path.insert(0, __file__.rsplit("/", 1)[0])  # here, not at import: tests import us
    from _common import machine, table, today

    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--reps", type=int, default=4000, help="replications per scenario")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(f"coverage.py, {today()}, {machine()}; {args.reps} replications, seed {args.seed}\n")
    print("Sync loop, adaptive stop (n >= 30, median CI half-width <= 5%), nominal 95%:\n")
    heads = [
        "scenario",
        "median n at stop",
        f"stopped by {MAX_N}",
        "median CI",
        "rate (batch means)",
    ]
    print(table([*heads, "rate (naive i.i.d.)"], sync_table(args.reps, args.seed)))
    print("\nAsync loop, rate_interval with granule = in-flight requests, nominal 95%:\n")
    heads = ["scenario", "completions", "in flight", "rate coverage", "with interval"]
    rows = async_table(args.reps, args.seed) + async_table(args.reps, args.seed, completions=400)
    print(table(heads, rows))


if __name__ == "__main__":
    main()
