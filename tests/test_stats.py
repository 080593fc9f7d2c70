"""The shared statistics module."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferclock import stats


def test_ci_of_median_covers_true_median_at_95_percent() -> None:
    # 1000 samples of n=101 from a skewed distribution (lognormal, true median exp(mu)).
    rng = np.random.default_rng(2024)
    mu, sigma, n = 0.0, 0.8, 101
    true_median = math.exp(mu)
    hits = 0
    for _ in range(1000):
        lo, hi = stats.median_ci(rng.lognormal(mu, sigma, n))
        hits += lo <= true_median <= hi
    assert 930 <= hits <= 970, hits


def _coverage(n: int, lo: int, hi: int) -> float:
    """P(x[lo] <= median <= x[hi]) for 0-based ranks: P(lo + 1 <= B <= hi), B ~ Bin(n, 1/2)."""
    log_half_n = n * math.log(0.5)
    return sum(
        math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half_n)
        for k in range(lo + 1, hi + 1)
    )


@pytest.mark.parametrize("n", [6, 20, 101, 1000])
def test_ci_ranks_are_the_tightest_that_reach_95_percent(n: int) -> None:
    lo, hi = stats.median_ci_ranks(n)
    assert lo + hi == n - 1, "symmetric"
    assert _coverage(n, lo, hi) >= 0.95
    assert _coverage(n, lo + 1, hi - 1) < 0.95, "one rank narrower would not reach 95%"


@pytest.mark.parametrize("n", [1001, 50_000])
def test_ci_ranks_of_large_n_reach_95_percent(n: int) -> None:
    lo, hi = stats.median_ci_ranks(n)
    assert lo + hi == n - 1
    assert 0.95 - 1e-3 <= _coverage(n, lo, hi) < 0.96


def test_ci_ranks_small_n_falls_back_to_range() -> None:
    assert stats.median_ci_ranks(3) == (0, 2)
    with pytest.raises(ValueError):
        stats.median_ci_ranks(0)


def test_summarize_matches_numpy() -> None:
    x = np.random.default_rng(3).gamma(2.0, 1000.0, size=777)
    s = stats.summarize(x)
    assert s.n == 777
    assert s.median_ns == pytest.approx(np.median(x))
    assert s.p90_ns == pytest.approx(np.percentile(x, 90))
    assert s.p99_ns == pytest.approx(np.percentile(x, 99))
    assert s.stdev_ns == pytest.approx(np.std(x, ddof=1))
    assert s.mad_ns == pytest.approx(np.median(np.abs(x - np.median(x))))
    assert s.median_ms == pytest.approx(s.median_ns / 1e6)
    assert stats.Stats.from_dict(s.to_dict()) == s


def test_halfwidth_ratio_shrinks_with_n() -> None:
    rng = np.random.default_rng(4)
    small = stats.ci_halfwidth_ratio(rng.normal(100, 10, 50))
    large = stats.ci_halfwidth_ratio(rng.normal(100, 10, 50_000))
    assert large < small
    assert stats.ci_halfwidth_ratio([1, 2]) == math.inf


def test_windows_agree() -> None:
    assert stats.windows_agree([100, 101, 99], [100.5, 100, 101], 0.02)
    assert not stats.windows_agree([100, 101, 99], [150, 150, 150], 0.02)


def test_drift_compares_the_halves() -> None:
    assert stats.drift([10, 10, 10, 11, 11, 11]) == pytest.approx(0.1)
    assert stats.drift([5, 5, 5, 5]) == 0.0
    assert math.isnan(stats.drift([1]))
