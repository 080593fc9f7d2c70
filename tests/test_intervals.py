"""Interval arithmetic (inferclock._common.intervals): exact quantile ranks, t quantiles, percentile
methods, batch-means throughput, and combining runs and processes; coverage by simulation."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from scipy import stats as sps

from inferclock._common import intervals as iv
from inferclock._common.intervals import Run, combine, ratio


def _bench_coverage() -> ModuleType:
    # Loaded from its file under its own name: "coverage" is also the coverage.py package.
    path = Path(__file__).parents[1] / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("_bench_coverage", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cov = _bench_coverage()


def _reference_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """The rule written directly on scipy's binomial: equal tails of alpha/2; an end whose tail
    cannot get there is the extreme rank and the other takes the rest; else (0, n - 1)."""
    alpha = 1 - confidence
    sd = math.sqrt(n * q * (1 - q))
    k = np.arange(max(0, int(n * q - 30 * sd - 60)), min(n, int(n * q + 30 * sd + 60)) + 1)
    below, above = sps.binom.cdf(k, n, q), sps.binom.sf(k, n, q)  # P(B <= k), P(B > k)

    def largest_lo(budget: float) -> int | None:
        ok = k[(below <= budget) & (k <= n - 1)]
        return int(ok.max()) if ok.size else None

    def smallest_hi(budget: float) -> int | None:
        ok = k[(above <= budget) & (k <= n - 1)]
        return int(ok.min()) if ok.size else None

    lo, hi = largest_lo(alpha / 2), smallest_hi(alpha / 2)
    if hi is None and lo is not None:
        hi, lo = n - 1, largest_lo(alpha - q**n)
    elif lo is None and hi is not None:
        lo, hi = 0, smallest_hi(alpha - (1 - q) ** n)
    return (lo, hi) if lo is not None and hi is not None else (0, n - 1)


def _exact_coverage(n: int, lo: int, hi: int, q: float) -> float:
    return float(sps.binom.sf(lo, n, q) - sps.binom.sf(hi, n, q))


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("n", [6, 7, 30, 101, 1000, 1001, 12345, 10**5, 10**6])
def test_quantile_ranks_match_the_binomial_law(n: int, q: float) -> None:
    lo, hi, coverage = iv.quantile_ranks(n, q)
    assert (lo, hi) == _reference_ranks(n, q, 0.95)
    assert coverage == pytest.approx(_exact_coverage(n, lo, hi, q), abs=1e-12)
    if (lo, hi) != (0, n - 1) or coverage >= 0.95:
        assert coverage >= 0.95 - 1e-12
        if lo + 1 <= hi - 1:
            assert _exact_coverage(n, lo + 1, hi - 1, q) < 0.95, "one rank narrower reaches it"


def test_quantile_ranks_small_n_and_min_count() -> None:
    assert iv.quantile_ranks(4, 0.5) == (0, 3, 0.875)
    for q in (0.5, 0.9, 0.95, 0.99, 0.999):  # not 1 - q - (1 - q) = 1e-16
        assert iv.quantile_ranks(1, q) == (0, 0, 0.0), "one sample covers nothing"
    assert iv.quantile_ranks(5, 0.5)[2] == pytest.approx(0.9375)
    assert iv.min_count(0.5) == 6
    assert iv.quantile_ranks(6, 0.5) == (0, 5, pytest.approx(1 - 2 / 64))
    for q, conf in ((0.9, 0.95), (0.99, 0.95), (0.5, 0.99), (0.1, 0.9)):
        m = iv.min_count(q, conf)
        assert iv.quantile_ranks(m, q, conf)[2] >= conf > iv.quantile_ranks(m - 1, q, conf)[2]
        assert iv.quantile_ranks(m - 1, q, conf)[:2] == (0, m - 2)


def test_quantile_ranks_ten_million_is_exact_and_symmetric() -> None:
    lo, hi, coverage = iv.quantile_ranks(10**7, 0.5)
    assert lo + hi == 10**7 - 1
    assert coverage == pytest.approx(_exact_coverage(10**7, lo, hi, 0.5), abs=1e-12)


@pytest.mark.parametrize(
    "args", [(0, 0.5, 0.95), (10, 0.0, 0.95), (10, 1.0, 0.95), (10, 0.5, 1.0), (10, 0.5, 0.0)]
)
def test_quantile_ranks_rejects_bad_arguments(args: tuple[int, float, float]) -> None:
    with pytest.raises(ValueError):
        iv.quantile_ranks(*args)


def test_quantile_ci_reads_the_order_statistics() -> None:
    x = np.random.default_rng(5).permutation(np.arange(1000.0))
    lo, hi, coverage = iv.quantile_ranks(1000, 0.9)
    assert iv.quantile_ci(x, 0.9) == (float(lo), float(hi), coverage)


@pytest.mark.parametrize("df", [1, 2, 3, 5, 19, 100, 2.5, 7.3, math.inf])
@pytest.mark.parametrize("p", [0.975, 0.995, 0.5, 0.05, 1e-6, 0.7])
def test_t_quantile_matches_scipy(df: float, p: float) -> None:
    assert iv.t_quantile(p, df) == pytest.approx(sps.t.ppf(p, df), rel=1e-8, abs=1e-12)


def test_percentile_loadgen_is_the_truncated_order_statistic() -> None:
    x = np.random.default_rng(6).permutation(np.arange(1.0, 1001.0))  # 1..1000
    # LoadGen reads sorted[int(n * p / 100)]: the 901st, 991st, 501st smallest of 1000.
    assert iv.percentile(x, 90, "loadgen") == 901.0
    assert iv.percentile(x, 99, "loadgen") == 991.0
    assert iv.percentile(x, 50, "loadgen") == 501.0
    assert iv.percentile(x, 100, "loadgen") == 1000.0
    assert iv.percentile(x[:10], 99.9, "loadgen") == float(np.sort(x[:10])[9])
    assert iv.percentile(x, 90) == pytest.approx(np.percentile(x, 90)) != 901.0
    with pytest.raises(ValueError, match="linear, loadgen"):
        iv.percentile(x, 90, "nearest")
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        iv.percentile(x, 101)


def test_rate_interval_point_and_degenerate_cases() -> None:
    ends = np.arange(1, 401) * 1e6  # one completion per ms, items 2: 2000 items/s exactly
    rate, low, high = iv.rate_interval(ends, 2.0, granule=4)
    assert rate == pytest.approx(2000.0)
    assert low == pytest.approx(2000.0) and high == pytest.approx(2000.0)
    assert iv.rate_interval(ends[:4], 1.0, granule=4)[1:] == (None, None), "one round"
    assert iv.rate_interval(ends[:7], 1.0, granule=4)[1:] == (None, None), "one whole round"
    assert iv.rate_interval(ends[:8], 1.0, granule=4)[1] is not None


def test_rate_interval_subwindows_hold_whole_rounds() -> None:
    # Rounds of 3 completions: the first in each round slow to come (2 ms), two quick (0.1 ms).
    # Sub-windows cut at whole rounds (8 rounds each) all last the same: a zero-width interval.
    # Cut mid-round (granule 1: 25 completions each) they do not.
    ends = np.cumsum(np.tile([2e6, 1e5, 1e5], 60))
    _, low, high = iv.rate_interval(ends, 1.0, granule=3, batches=7)
    assert low == pytest.approx(high)
    _, low1, high1 = iv.rate_interval(ends, 1.0, granule=1, batches=7)
    assert low1 is not None and high1 is not None and high1 > 1.01 * low1


@pytest.mark.parametrize(("phi", "completions"), [(0.5, 2000), (0.9, 8000)])
def test_rate_interval_covers_an_autocorrelated_async_process(phi: float, completions: int) -> None:
    # AR(1) log service times, 4 requests in flight, 1000 runs. At phi 0.9 an interval from the
    # spread of single rounds would cover far less: batches matter (and need 8000 completions
    # to be long enough: 2000 give about 93%, see benchmarks/coverage.py).
    inflight = 4
    ends = cov.async_ends(cov.ar1(phi), np.random.default_rng(11), 1000, completions, inflight)
    true_rate = inflight * 1e9 / math.exp(cov.SIGMA**2 / 2)
    coverage, have = cov.rate_coverage(ends, true_rate, granule=inflight)
    assert have == 1.0
    assert 0.93 <= coverage <= 0.97, coverage


@pytest.mark.parametrize(
    ("scenario", "max_n"), [("i.i.d. lognormal", 2000), ("AR(1) phi=0.5", 4000)]
)
def test_median_ci_covers_at_the_adaptive_stopping_point(scenario: str, max_n: int) -> None:
    from inferclock import stats

    # 2000 simulated runs under the adaptive stop (5% target): the median's interval holds
    # the true median at the point where each run stopped. Stopping at the first check that
    # looks precise enough costs a point or two against a fixed n; 2000 runs tell 95% from
    # 93% (standard error 0.5%). Autocorrelated samples (AR(1) 0.5) need the effective
    # sample size: the ranks for independent samples cover about 78% there.
    draw, true_median, _ = cov.SCENARIOS[scenario]
    x = draw(np.random.default_rng(12), 2000, max_n)
    stops = cov.sequential_stop(x, target=0.05)
    assert np.all(stops < max_n), "every run reached the target"
    points = cov.check_points(max_n)
    for row, n in zip(x[:10], stops[:10], strict=True):  # the real check, where it stopped
        assert stats.ci_halfwidth_ratio(row[:n]) <= 0.05
        before = points[points.index(int(n)) - 1] if n > points[0] else None
        assert before is None or stats.ci_halfwidth_ratio(row[:before]) > 0.05
    coverage = cov.median_coverage(x, stops, true_median)
    assert 0.93 <= coverage <= 0.97, coverage
    if scenario.startswith("AR"):
        old = cov.sequential_stop(x, target=0.05, serial=False)
        assert cov.median_coverage(x, old, true_median, serial=False) < 0.85


def _run(process: int | str, value: float, rel: float, confidence: float = 0.95) -> Run:
    return Run(process, value, value * (1 - rel), value * (1 + rel), confidence)


def test_combine_one_run_gives_back_its_own_interval() -> None:
    c = combine([Run("a", 100.0, 95.0, 105.0, 0.95)])
    assert c.low is not None and c.high is not None
    assert c.estimate == pytest.approx(100.0) and (c.processes, c.runs, c.multimodal) == (
        1,
        1,
        False,
    )
    assert c.high / c.low == pytest.approx(105 / 95)  # same width, centred on the log scale
    assert c.low * c.high == pytest.approx(100.0**2)
    assert (c.df, c.between) == (math.inf, False)
    # A run whose interval holds only 87.5% gets wider at 95%.
    c875 = combine([Run("a", 100.0, 95.0, 105.0, 0.875)])
    assert c875.high is not None and c875.low is not None
    widen = iv.normal_quantile(0.975) / iv.normal_quantile(0.9375)
    assert math.log(c875.high / c875.low) == pytest.approx(math.log(105 / 95) * widen)


def test_combine_repeats_in_one_process_shrink_the_within_term() -> None:
    one = combine([_run(0, 100.0, 0.04)])
    four = combine([_run(0, 100.0, 0.04)] * 4)
    assert four.log_se == pytest.approx(one.log_se / 2)
    assert (four.processes, four.runs) == (1, 4)


def test_combine_between_term_widens_when_processes_disagree() -> None:
    values = [97.0, 100.0, 103.0]
    c = combine([_run(i, v, 0.001) for i, v in enumerate(values)])
    y = np.log(values)
    se = float(np.std(y, ddof=1)) / math.sqrt(3)
    assert c.between and c.df == 2 and c.log_se == pytest.approx(se)
    assert c.low == pytest.approx(math.exp(y.mean() - sps.t.ppf(0.975, 2) * se))
    assert c.high == pytest.approx(math.exp(y.mean() + sps.t.ppf(0.975, 2) * se))
    # The same three with wide intervals of their own: the within term sets the width.
    wide = combine([_run(i, v, 0.2) for i, v in enumerate(values)])
    assert not wide.between and wide.df == math.inf


def test_combine_multimodal_needs_separate_intervals_and_a_real_gap() -> None:
    two_modes = [_run(0, 100.0, 0.01), _run(1, 100.5, 0.01), _run(2, 130.0, 0.01)]
    assert combine(two_modes).multimodal
    agreeing = [_run(0, 100.0, 0.02), _run(1, 100.5, 0.02), _run(2, 99.8, 0.02)]
    assert not combine(agreeing).multimodal
    hairline = [_run(0, 100.0, 1e-4), _run(1, 100.3, 1e-4)]  # apart, but by 0.3% < min_gap
    assert not combine(hairline).multimodal
    assert combine(hairline, min_gap=0.001).multimodal


def test_combine_without_intervals() -> None:
    alone = combine([Run(0, 50.0, None, None, None)])
    assert (alone.low, alone.high) == (None, None) and math.isnan(alone.log_se)
    two = combine([Run(0, 50.0, None, None, None), Run(1, 52.0, None, None, None)])
    assert two.between and two.df == 1 and two.low is not None and two.low < 50.0
    with pytest.raises(ValueError):
        combine([])
    with pytest.raises(ValueError):
        combine([Run(0, 0.0, None, None, None)])


def test_ratio_is_symmetric_and_welch() -> None:
    a = combine([_run(i, v, 0.001) for i, v in enumerate([97.0, 100.0, 103.0])])
    b = combine([_run(0, 120.0, 0.03)])
    r, lo, hi = ratio(a, b)
    r2, lo2, hi2 = ratio(b, a)
    assert lo is not None and hi is not None and lo2 is not None and hi2 is not None
    assert r == pytest.approx(1 / r2)
    assert (lo, hi) == (pytest.approx(1 / hi2), pytest.approx(1 / lo2))
    se2 = a.log_se**2 + b.log_se**2
    df = se2**2 / (a.log_se**4 / a.df)  # b's infinite df adds no term
    half = sps.t.ppf(0.975, df) * math.sqrt(se2)
    assert lo == pytest.approx(r * math.exp(-half)) and hi == pytest.approx(r * math.exp(half))
    none = combine([Run(0, 50.0, None, None, None)])
    assert ratio(none, b)[1:] == (None, None)
