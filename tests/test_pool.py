"""``_common.pool``: separate measurements pooled by random-effects meta-analysis, as
``inferclock bisect`` pools the runs of one commit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inferclock._common.intervals import Combined, Run, combine
from inferclock._common.pool import pool


def one(value: float, low: float | None, high: float | None) -> Combined:
    return combine([Run(process=0, value=value, low=low, high=high, confidence=0.95)])


def test_one_measurement_is_returned_as_it_is() -> None:
    c = one(1.0, 0.9, 1.1)
    assert pool([c]) is c
    with pytest.raises(ValueError, match="at least one"):
        pool([])


def test_a_run_with_a_wide_interval_counts_little() -> None:
    # A run disturbed by load (1.3 ms, interval 0.7-2.4) beside two clean ones at 1.0 ms: the
    # pooled figure is the clean runs', where an equal-weight mean of the runs' variances (the
    # way one measurement's processes are combined) would stay wide.
    wide, clean = one(1.3, 0.7, 2.4), [one(1.0, 0.99, 1.01), one(1.001, 0.991, 1.011)]
    p = pool([wide, *clean])
    assert p.estimate == pytest.approx(1.0, rel=0.005)
    assert p.low is not None and p.high is not None
    assert 0.985 < p.low < 1.0 < p.high < 1.015
    equal = math.sqrt(sum(c.log_se**2 for c in (wide, *clean)) / 3 / 3)
    assert p.log_se < equal / 10
    assert (p.processes, p.runs) == (3, 3)


def test_runs_that_disagree_beyond_their_intervals_widen_the_pooled_interval() -> None:
    # Two tight runs 20% apart (the machine's speed moved between them): tau^2 > 0 and the
    # interval spans both, where a fixed-effect pool would claim a tight interval at 1.1
    # that neither run agrees with.
    a, b = one(1.0, 0.99, 1.01), one(1.2, 1.19, 1.21)
    p = pool([a, b])
    assert p.between
    assert p.low is not None and p.high is not None
    assert p.low < 1.0 and p.high > 1.2


def test_runs_without_intervals_are_pooled_on_their_spread() -> None:
    p = pool([one(1.0, None, None), one(1.1, None, None), one(1.05, None, None)])
    assert p.low is not None and p.high is not None and p.low < 1.0 and p.high > 1.1
    assert p.df == 2.0
    # One run with an interval: the ones without are left out.
    q = pool([one(1.0, 0.99, 1.01), one(3.0, None, None)])
    assert q.estimate == pytest.approx(1.0) and q.high is not None and q.high < 1.02


def test_the_pooled_interval_covers_the_true_value() -> None:
    # 3 runs of a true value 1.0, each with its own noise (standard errors 1% to 20% on the
    # log scale, some runs between-process dominated with few degrees of freedom): the 95%
    # interval covers 1.0 in at least 93% of 3000 trials.
    rng = np.random.default_rng(7)
    z = 1.959963984540054
    covered = 0
    trials = 3000
    for _ in range(trials):
        parts = []
        for _ in range(3):
            se = float(rng.uniform(0.01, 0.2))
            y = float(rng.normal(0.0, se))
            parts.append(one(math.exp(y), math.exp(y - z * se), math.exp(y + z * se)))
        p = pool(parts)
        assert p.low is not None and p.high is not None
        covered += p.low <= 1.0 <= p.high
    assert covered / trials >= 0.93, covered / trials
