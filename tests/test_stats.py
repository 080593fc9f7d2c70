"""The shared statistics module."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from inferclock import stats
from inferclock._common.errors import ConfigError, ConfigTypeError


def test_ci_of_median_covers_true_median_at_95_percent() -> None:
    # 1000 samples of n=101 from a skewed distribution (lognormal, true median exp(mu)). The
    # interval allows for autocorrelation (tau estimated, never below 1): at n = 101 the
    # estimate's noise makes it cautious (about 98%; benchmarks/coverage.py has the widths).
    rng = np.random.default_rng(2024)
    mu, sigma, n = 0.0, 0.8, 101
    true_median = math.exp(mu)
    hits = 0
    for _ in range(1000):
        lo, hi = stats.median_ci(rng.lognormal(mu, sigma, n))
        hits += lo <= true_median <= hi
    assert 950 <= hits <= 990, hits


def _coverage(n: int, lo: int, hi: int) -> float:
    """P(x[lo] <= median <= x[hi]) for 0-based ranks: P(lo + 1 <= B <= hi), B ~ Bin(n, 1/2)."""
    log_half_n = n * math.log(0.5)
    return sum(
        math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + log_half_n)
        for k in range(lo + 1, hi + 1)
    )


@pytest.mark.parametrize("n", [6, 20, 101, 1000, 1001, 50_000])
def test_ci_ranks_are_the_tightest_that_reach_95_percent(n: int) -> None:
    lo, hi = stats.median_ci_ranks(n)
    assert lo + hi == n - 1, "symmetric"
    assert _coverage(n, lo, hi) >= 0.95
    assert _coverage(n, lo + 1, hi - 1) < 0.95, "one rank narrower would not reach 95%"


def test_ci_ranks_small_n_falls_back_to_range() -> None:
    assert stats.median_ci_ranks(3) == (0, 2)
    assert stats.median_ci_ranks(5) == (0, 4)
    with pytest.raises(ValueError):
        stats.median_ci_ranks(0)


def test_summarize_matches_numpy() -> None:
    x = np.random.default_rng(3).gamma(2.0, 1000.0, size=777)
    s = stats.summarize(x)
    assert s.n == 777
    assert s.median_ns == pytest.approx(np.median(x))
    # Read by index from one sort, yet bit for bit numpy's default ("linear") percentiles.
    assert (s.p90_ns, s.p95_ns, s.p99_ns) == tuple(np.percentile(x, [90, 95, 99]))
    ps = np.linspace(0, 100, 1001)
    every = stats.summarize(x, percentiles=ps)
    assert [p.value_ns for p in every.percentiles] == list(np.percentile(x, ps))
    assert s.stdev_ns == pytest.approx(np.std(x, ddof=1))
    assert s.mad_ns == pytest.approx(np.median(np.abs(x - np.median(x))))
    assert s.median_ms == pytest.approx(s.median_ns / 1e6)
    assert stats.Stats.from_dict(s.to_dict()) == s
    assert s.ci_confidence >= 0.95 and s.method == "linear"
    assert [p.p for p in s.percentiles] == [50.0, 90.0, 95.0, 99.0]


def test_summarize_percentiles_carry_intervals() -> None:
    x = np.random.default_rng(7).permutation(np.arange(1.0, 1001.0))  # 1..1000
    s = stats.summarize(x, percentiles=[99.9, 0, 90, 90.0, 100], method="loadgen")
    assert [p.p for p in s.percentiles] == [0.0, 90.0, 99.9, 100.0], "sorted, unique"
    p90 = s.percentile(90)
    assert p90.value_ns == 901.0 == s.p90_ns, "LoadGen: sorted[int(n * 0.9)]"
    assert s.p99_ns == 991.0 and s.median_ns == 501.0, "the median read as LoadGen reads it"
    lo, hi, coverage = stats._intervals.quantile_ranks(1000, 0.9)
    assert (p90.low_ns, p90.high_ns, p90.confidence) == (lo + 1.0, hi + 1.0, coverage)
    assert p90.confidence >= 0.95
    assert s.percentile(0) == stats.Percentile(0.0, 1.0, None, None, 0.0)
    assert s.percentile(100).value_ns == 1000.0 and s.percentile(100).low_ns is None
    assert stats.Stats.from_dict(s.to_dict()) == s
    assert s.to_dict()["percentiles"][1] == {
        "p": 90.0, "value_ns": 901.0, "low_ns": lo + 1.0, "high_ns": hi + 1.0,
        "confidence": coverage,
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"p0, p90, p99\.9, p100"):
        s.percentile(95)


def test_stats_from_an_older_dict_gets_the_defaults() -> None:
    d = stats.summarize([5.0, 6.0, 7.0, 8.0, 9.0, 10.0]).to_dict()
    for key in ("ci_confidence", "percentiles", "method", "ci_level"):
        del d[key]
    old = stats.Stats.from_dict(d)
    assert (old.ci_confidence, old.percentiles, old.method) == (0.95, (), "linear")


def test_small_n_says_what_its_interval_holds() -> None:
    s = stats.summarize([4975.0, 5000.0, 5100.0, 5148.0])
    assert s.ci_ns == (4975.0, 5148.0)
    assert s.ci_confidence == 0.875
    assert "[87.5% CI 4.975 us .. 5.148 us: n=4 is too small for 95%]" in str(s)
    shuffled = np.random.default_rng(1).permutation(np.arange(1000.0, 1100.0))
    big = stats.summarize(shuffled)
    assert "[95% CI " in str(big) and "too small" not in str(big)
    assert "[90% CI " in str(stats.summarize(shuffled, confidence=0.9))
    # A run that slows steadily is one long stretch of correlated samples: no 95% interval.
    creeping = stats.summarize(np.arange(1000.0, 1100.0))
    assert creeping.ci_confidence < 0.95
    assert "n=100 autocorrelated samples are too few for 95%]" in str(creeping)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "nearest"}, ConfigError, "linear, loadgen"),
        ({"method": 3}, ConfigTypeError, "linear, loadgen"),
        ({"percentiles": []}, ConfigError, "percentiles"),
        ({"percentiles": [50, 101]}, ConfigError, r"\[0, 100\]"),
        ({"percentiles": ["p99"]}, ConfigTypeError, "percentiles"),
        ({"percentiles": "99"}, ConfigTypeError, "percentiles"),
        ({"percentiles": [True]}, ConfigTypeError, "percentiles"),
        ({"confidence": 1.0}, ConfigError, "confidence"),
        ({"confidence": "0.95"}, ConfigTypeError, "confidence"),
    ],
)
def test_summarize_rejects_bad_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        stats.summarize([1.0, 2.0, 3.0], **kwargs)


@example([5e-324])  # p > 0 whose p / 100 underflows to 0: no interval, not a crash
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-1000, 1000)), max_size=6))
def test_summarize_percentiles_are_checked(ps: list[float]) -> None:
    valid = bool(ps) and all(0 <= p <= 100 for p in ps)
    try:
        s = stats.summarize([3.0, 1.0, 2.0], percentiles=ps)
    except ConfigError:
        assert not valid
    else:
        assert valid and [p.p for p in s.percentiles] == sorted({float(p) for p in ps})


def test_halfwidth_ratio_shrinks_with_n() -> None:
    rng = np.random.default_rng(4)
    small = stats.ci_halfwidth_ratio(rng.normal(100, 10, 50))
    large = stats.ci_halfwidth_ratio(rng.normal(100, 10, 50_000))
    assert large < small
    assert stats.ci_halfwidth_ratio([1, 2]) == math.inf
    # Infinite until n reaches the confidence: 6 samples at 95%, 8 at 99%.
    assert stats.ci_halfwidth_ratio([1, 2, 3, 4, 5]) == math.inf
    assert stats.ci_halfwidth_ratio([1, 2, 3, 4, 5, 6]) < math.inf
    assert stats.ci_halfwidth_ratio(np.arange(1.0, 8.0), 0.99) == math.inf
    assert stats.ci_halfwidth_ratio(np.arange(1.0, 9.0), 0.99) < math.inf


def test_windows_agree() -> None:
    assert stats.windows_agree([100, 101, 99], [100.5, 100, 101], 0.02)
    assert not stats.windows_agree([100, 101, 99], [150, 150, 150], 0.02)


def test_drift_compares_the_halves() -> None:
    assert stats.drift([10, 10, 10, 11, 11, 11]) == pytest.approx(0.1)
    assert stats.drift([5, 5, 5, 5]) == 0.0
    assert math.isnan(stats.drift([1]))
