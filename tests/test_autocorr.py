"""Quantile intervals for autocorrelated samples (inferclock._common.autocorr): the integrated
autocorrelation time of the indicator, the effective-size ranks, and what they give back for
independent samples. Their coverage at the adaptive stop is in tests/test_intervals.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferclock import stats
from inferclock._common import autocorr as ac, intervals as iv


def _ar1(phi: float, n: int, seed: int, rows: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    eta = rng.standard_normal((rows, n))
    e = np.empty((rows, n))
    e[:, 0] = eta[:, 0]
    for t in range(1, n):
        e[:, t] = phi * e[:, t - 1] + math.sqrt(1 - phi * phi) * eta[:, t]
    return e


def _median_indicator_tau(phi: float) -> float:
    """tau of 1{x_t <= median} for a Gaussian AR(1): rho_k = (2 / pi) arcsin(phi^k)."""
    return 1 + 2 * sum(2 / math.pi * math.asin(phi**k) for k in range(1, 2000))


@pytest.mark.parametrize("n", [20_000, 200_000])  # one FFT; blocks of 49 summed first
def test_indicator_time_of_an_ar1_series_is_its_integrated_time(n: int) -> None:
    x = _ar1(0.5, n, seed=1)[0]
    assert n <= ac.MAX_SERIES or -(-n // ac.MAX_SERIES) > 1
    tau = float(ac.indicator_time(x, np.median(x)))
    assert tau == pytest.approx(_median_indicator_tau(0.5), rel=0.1)  # 2.31
    independent = np.random.default_rng(2).permutation(x)
    assert 1.0 <= float(ac.indicator_time(independent, np.median(x))) < 1.1


def test_integrated_time_is_one_without_variance_or_correlation() -> None:
    assert ac.integrated_time(np.ones((3, 50))).tolist() == [1.0, 1.0, 1.0]
    alternating = np.tile([0.0, 1.0], 50)  # negatively correlated: never below 1
    assert float(ac.integrated_time(alternating)) == 1.0
    short = _ar1(0.99, ac.MIN_SERIAL - 1, seed=3)[0]
    assert float(ac.indicator_time(short, np.median(short))) == 1.0, "too few to tell"


def test_rows_are_independent_runs() -> None:
    x = _ar1(0.7, 500, seed=4, rows=5)
    lo, hi, coverage, tau = ac.serial_ranks(x, 0.9)
    assert len({float(t) for t in tau}) == 5, "five runs, five estimates"
    for i in range(5):
        one = [a.item() for a in ac.serial_ranks(x[i], 0.9)]
        assert one == [lo[i].item(), hi[i].item(), coverage[i].item(), tau[i].item()]


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("n", [1, 5, 6, 30, 101, 1000, 12_345])
def test_tau_one_gives_the_exact_independent_ranks(n: int, q: float) -> None:
    lo, hi, coverage = ac.effective_ranks(n, 1.0, q)
    assert (int(lo), int(hi), float(coverage)) == iv.quantile_ranks(n, q)


def test_effective_ranks_widen_with_tau() -> None:
    n, q = 10_000, 0.5
    taus = np.array([1.0, 1.5, 2.3, 13.0, 400.0, 5000.0])
    lo, hi, coverage = ac.effective_ranks(n, taus, q)
    assert np.all(np.diff(lo) <= 0) and np.all(np.diff(hi) >= 0)
    # tau = 4 is the independent interval of n / 4 samples, its ranks scaled by 4.
    (lo4, hi4, c4), (lo_e, hi_e, c_e) = ac.effective_ranks(n, 4.0, q), iv.quantile_ranks(2500, q)
    assert (int(lo4) + 1, int(hi4), float(c4)) == (4 * (lo_e + 1), 4 * hi_e, c_e)
    # About sqrt(tau) wider: the median's rank half-width is 1.96 sqrt(n tau) / 2.
    assert (hi[2] - lo[2]) / (hi[0] - lo[0]) == pytest.approx(math.sqrt(2.3), rel=0.03)
    # Two effective samples cannot reach 95%: the extremes, and the coverage they have.
    assert (int(lo[-1]), int(hi[-1]), float(coverage[-1])) == (0, n - 1, 0.5)
    with pytest.raises(ValueError, match="tau"):
        ac.effective_ranks(n, 0.5, q)


def test_a_run_that_drifts_has_a_wide_honest_interval() -> None:
    creeping = np.linspace(100.0, 200.0, 1000)  # a machine that slows steadily
    low, high, coverage = ac.quantile_ci(creeping, 0.5)
    assert (low, high) == (100.0, 200.0) and coverage < 0.95
    shuffled = np.random.default_rng(5).permutation(creeping)
    low, high, coverage = ac.quantile_ci(shuffled, 0.5)
    assert 140 < low < 150 < high < 160 and coverage >= 0.95
    assert stats.ci_halfwidth_ratio(creeping) == math.inf, "the stop waits"
    assert stats.ci_halfwidth_ratio(shuffled) < 0.1


def test_correlated_samples_get_a_wider_median_interval_than_independent_ones() -> None:
    x = np.exp(0.5 * _ar1(0.9, 20_000, seed=6)[0])
    low, high = stats.median_ci(x)
    i_low, i_high, _ = iv.quantile_ci(x, 0.5)  # the ranks for independent samples
    ratio = (high - low) / (i_high - i_low)
    assert ratio == pytest.approx(math.sqrt(_median_indicator_tau(0.9)), rel=0.25)  # ~3.6
    s = stats.summarize(x)
    assert s.ci_ns == (low, high) and s.ci_confidence >= 0.95
