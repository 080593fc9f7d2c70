"""Coverage of inferclock's intervals, simulated: do the 95% intervals hold 95%?

Run: python benchmarks/coverage.py [--reps 2000] [--seed 1]   (prints markdown tables)

Table 1, a back-to-back (sync) loop under the adaptive stop: samples arrive in chunks (10, or 5%
of the run so far, like ``_timing.control``), and the run stops at the first check where n >= 30
and the median's interval reaches 95% with a half-width <= 5% of the median (the drift check is
left out). Each run is stopped twice, on the same samples: with the ranks for independent
samples (``intervals.quantile_ranks``, the rule before issue 23) and with the effective-size
ranks inferclock uses (``autocorr.serial_ranks``). At each stop: does the median's interval
hold the true median? At the effective-size stop: does ``rate_interval`` (batch means,
granule 1) hold the true rate 1 / E[latency]? A naive rate interval that treats the latencies
as independent (mean -+ z sd / sqrt(n)) is shown beside it.
Table 1b, a fixed n = 1000: coverage and mean width of both intervals for p50, p90 and p99.
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
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from inferclock._common.autocorr import MAX_SERIES, serial_ranks
from inferclock._common.intervals import quantile_ranks, rate_interval

Array = npt.NDArray[np.float64]
#: draw(rng, rows, n) -> (rows, n) latencies, one independent sequence per row.
Draw = Callable[[np.random.Generator, int, int], Array]

SIGMA = 0.5
MAX_N = 30_000  # samples a simulated sync run may take before the stop gives up
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


def _bimodal_quantile(q: float) -> float:
    def cdf(x: float) -> float:
        return sum(w * statistics.NormalDist(mu, s).cdf(math.log(x)) for w, mu, s in _BIMODAL)

    lo, hi = 0.5, 4.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return (lo + hi) / 2


def true_quantile(name: str, q: float) -> float:
    """The scenario's true q-quantile (the AR(1) ones share the lognormal marginal)."""
    if name.startswith("bimodal"):
        return _bimodal_quantile(q)
    return math.exp(SIGMA * statistics.NormalDist().inv_cdf(q))


#: name -> (draw, true median, true mean)
SCENARIOS: dict[str, tuple[Draw, float, float]] = {
    "i.i.d. lognormal": (lognormal, 1.0, math.exp(SIGMA**2 / 2)),
    "AR(1) phi=0.5": (ar1(0.5), 1.0, math.exp(SIGMA**2 / 2)),
    "AR(1) phi=0.9": (ar1(0.9), 1.0, math.exp(SIGMA**2 / 2)),
    "bimodal 70/30": (
        bimodal,
        _bimodal_quantile(0.5),
        sum(w * math.exp(mu + s * s / 2) for w, mu, s in _BIMODAL),
    ),
}


def _ranks(
    x: Array, q: float, serial: bool, confidence: float = 0.95
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """(lo, hi, coverage) per row: the effective-size ranks (``_common.autocorr``, the ones
    inferclock uses) or, ``serial=False``, the ranks for independent samples (before issue 23).
    Rows go through in blocks that keep the FFTs' memory near 64 MB."""
    rows, n = x.shape
    if not serial:
        lo, hi, c = quantile_ranks(n, q, confidence)
        return np.full(rows, lo), np.full(rows, hi), np.full(rows, c)
    step = max(1, (1 << 22) // min(n, MAX_SERIES))
    parts = [serial_ranks(x[i : i + step], q, confidence)[:3] for i in range(0, rows, step)]
    lo, hi, c = (np.concatenate([p[j] for p in parts]) for j in range(3))
    return lo, hi, c


def _interval(
    x: Array, q: float, serial: bool, confidence: float = 0.95
) -> tuple[Array, Array, npt.NDArray[np.float64]]:
    """(low, high, coverage) of the q-quantile per row of x."""
    lo, hi, c = _ranks(x, q, serial, confidence)
    xs = np.sort(x, axis=1)
    rows = np.arange(x.shape[0])
    return xs[rows, lo], xs[rows, hi], c


def sequential_stop(
    x: Array,
    target: float = 0.05,
    min_n: int = 30,
    chunk: int = 10,
    confidence: float = 0.95,
    serial: bool = True,
) -> npt.NDArray[np.int64]:
    """Sample count at which each row's adaptive stop fires (x.shape[1] when it never does):
    checks at n = min_n, then after chunks of max(chunk, 5% of n) samples, as
    ``stats.ci_halfwidth_ratio(x[:n]) <= target`` does (an interval that reaches the
    confidence, half-width over the median), vectorized over rows."""
    reps, max_n = x.shape
    stops = np.full(reps, max_n, dtype=np.int64)
    active = np.arange(reps)
    for n in check_points(max_n, min_n, chunk):
        if not active.size:
            break
        median = np.median(x[active, :n], axis=1)
        # The effective-size interval holds the independent one: only rows whose independent
        # interval is narrow enough can stop (the FFTs are spent on those alone).
        low, high, c = _interval(x[active, :n], 0.5, False, confidence)
        done = (c >= confidence) & (0.5 * (high - low) <= target * median)
        if serial and done.any():
            low, high, c = _interval(x[active[done], :n], 0.5, True, confidence)
            done[done] = (c >= confidence) & (0.5 * (high - low) <= target * median[done])
        stops[active[done]] = n
        active = active[~done]
    return stops


def check_points(max_n: int, min_n: int = 30, chunk: int = 10) -> list[int]:
    """The sample counts at which a simulated run checks its interval: min_n, then after
    chunks of max(chunk, 5% of n) samples, up to max_n."""
    points, n = [], min_n
    while n <= max_n:
        points.append(n)
        n += max(chunk, math.ceil(0.05 * n))
    return points


def median_coverage(
    x: Array,
    stops: npt.NDArray[np.int64],
    true_median: float,
    confidence: float = 0.95,
    serial: bool = True,
) -> float:
    """Share of rows whose median interval over x[i, :stops[i]] holds ``true_median``."""
    hits = 0
    for n in np.unique(stops):
        low, high, _ = _interval(x[stops == n, :n], 0.5, serial, confidence)
        hits += int(np.sum((low <= true_median) & (true_median <= high)))
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


def _blocks(draw: Draw, reps: int, seed: int, n: int, block: int = 250) -> Iterator[Array]:
    """The scenario's ``reps`` runs of n samples, ``block`` rows at a time (memory)."""
    rng = np.random.default_rng(seed)
    for i in range(0, reps, block):
        yield draw(rng, min(block, reps - i), n)


def sync_table(reps: int, seed: int, max_n: int = MAX_N, target: float = 0.05) -> list[list[str]]:
    """Per scenario: the stop and the median's coverage there, for the effective-size interval
    and for the ranks of independent samples (the rule before issue 23); the rate's coverage
    at the (effective-size) stop."""
    rows = []
    for name, (draw, true_median, true_mean) in SCENARIOS.items():
        stops: dict[bool, list[npt.NDArray[np.int64]]] = {True: [], False: []}
        hits = {True: 0.0, False: 0.0}
        rate_hits = naive_hits = 0.0
        for x in _blocks(draw, reps, seed, max_n):
            for serial in (True, False):
                st = sequential_stop(x, target, serial=serial)
                stops[serial].append(st)
                hits[serial] += median_coverage(x, st, true_median, serial=serial) * x.shape[0]
            st = stops[True][-1]
            ends = [np.cumsum(r[:n]) for r, n in zip(x, st, strict=True)]
            rate_hits += rate_coverage(ends, 1e9 / true_mean)[0] * x.shape[0]
            naive_hits += naive_rate_coverage(x, st, 1e9 / true_mean) * x.shape[0]
        new, old = np.concatenate(stops[True]), np.concatenate(stops[False])
        rows.append(
            [
                name,
                f"{np.median(old):.0f}",
                f"{hits[False] / reps:.1%}",
                f"{np.median(new):.0f}",
                f"{np.mean(new < max_n):.1%}",
                f"**{hits[True] / reps:.1%}**",
                f"{rate_hits / reps:.1%}",
                f"{naive_hits / reps:.1%}",
            ]
        )
    return rows


def fixed_table(reps: int, seed: int, n: int = 1000) -> list[list[str]]:
    """Per scenario and quantile, at a fixed n: coverage and mean width (over the true
    quantile) of the ranks for independent samples and of the effective-size interval."""
    rows = []
    for name, (draw, _, _) in SCENARIOS.items():
        x = np.concatenate(list(_blocks(draw, reps, seed, n)))
        for q in (0.5, 0.9, 0.99):
            truth = true_quantile(name, q)
            cells = []
            widths = []
            for serial in (False, True):
                low, high, _ = _interval(x, q, serial)
                cells.append(f"{np.mean((low <= truth) & (truth <= high)):.1%}")
                widths.append(float(np.mean(high - low)) / truth)
            rows.append(
                [name, f"p{100 * q:g}", *cells, *(f"{w:.3f}" for w in widths),
                 f"{widths[1] / widths[0]:.2f}"]
            )  # fmt: skip
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
        "n at stop, i.i.d. ranks",
        "median CI, i.i.d. ranks",
        "n at stop, effective n",
        f"stopped by {MAX_N}",
        "median CI, effective n",
        "rate (batch means)",
        "rate (naive i.i.d.)",
    ]
    print(table(heads, sync_table(args.reps, args.seed)))
    print("\nFixed n = 1000, nominal 95%: coverage and mean width / true quantile:\n")
    heads = ["scenario", "quantile", "coverage, i.i.d. ranks", "coverage, effective n",
             "width, i.i.d. ranks", "width, effective n", "ratio"]  # fmt: skip
    print(table(heads, fixed_table(args.reps, args.seed)))
    print("\nAsync loop, rate_interval with granule = in-flight requests, nominal 95%:\n")
    heads = ["scenario", "completions", "in flight", "rate coverage", "with interval"]
    rows = async_table(args.reps, args.seed) + async_table(args.reps, args.seed, completions=400)
    print(table(heads, rows))


if __name__ == "__main__":
    main()
