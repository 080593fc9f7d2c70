"""The LoadGen order statistic (issue 23): one function, ``_common.intervals.loadgen_index``,
computes it as LoadGen does (the percentile read as p * 0.01, rank int(n * percentile),
clamped); ``percentile``, ``stats.summarize`` (median included) and the open-loop verdict
all read it from there."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from inferclock import stats
from inferclock._common import intervals as iv
from inferclock._timing import serve

PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9, 99.99, 99.999)
COUNTS = np.arange(1, 10**6 + 1, dtype=np.int64)


@pytest.mark.parametrize("p", PERCENTILES)
def test_loadgen_index_is_loadgens_rank_for_every_n_up_to_a_million(p: float) -> None:
    # LoadGen: percentile = strtod("99.99") * 0.01; sorted[sample_count * percentile], the
    # double product truncated. float64 products in numpy are the C++ doubles.
    fraction = np.float64(float(str(p)) * 0.01)
    want = np.floor(COUNTS.astype(np.float64) * fraction).astype(np.int64)
    assert np.array_equal(iv.loadgen_index(COUNTS, p), want)
    # The scalar path, and numpy's arithmetic against Python's, on every 997th n.
    for n in range(1, 10**6 + 1, 997):
        assert iv.loadgen_index(n, p) == int(n * (p * 0.01)) == want[n - 1]


def test_the_old_roundings_differ_from_loadgens() -> None:
    # int(n * (p / 100.0)) (the old loadgen_index) and int(n * p / 100) (the old verdict):
    # each differs from LoadGen for some n <= 10**6, so the test above tells them apart.
    lg = iv.loadgen_index(COUNTS, 99.99)
    assert int(np.sum((COUNTS * (99.99 / 100.0)).astype(np.int64) != lg)) == 89
    lg5 = iv.loadgen_index(COUNTS, 99.999)
    assert COUNTS[(COUNTS * 99.999 / 100).astype(np.int64) != lg5].tolist() == [
        500_000,
        900_000,
        1_000_000,
    ]
    assert iv.loadgen_index(10_000, 99.99) == 9999  # p / 100.0 took 9998


def test_loadgen_index_is_clamped() -> None:
    assert iv.loadgen_index(10, 100.0) == 9
    assert iv.loadgen_index(1, 99.9) == 0
    assert iv.loadgen_index(10, 0.0) == 0
    assert iv.loadgen_index(np.array([1, 10], dtype=np.int64), 100.0).tolist() == [0, 9]


def test_percentile_and_summarize_read_the_same_rank() -> None:
    x = np.random.default_rng(3).permutation(np.arange(10_000.0))
    assert iv.percentile(x, 99.99, "loadgen") == 9999.0
    s = stats.summarize(x, percentiles=[50, 99.99], method="loadgen")
    assert s.percentile(99.99).value_ns == 9999.0


def test_median_ns_honours_the_method() -> None:
    x = np.random.default_rng(4).permutation(np.arange(1.0, 1001.0))  # 1..1000
    assert stats.summarize(x).median_ns == 500.5  # linear: interpolated
    loadgen = stats.summarize(x, method="loadgen")
    assert loadgen.median_ns == 501.0 == loadgen.percentile(50).value_ns  # sorted[500]


def _server_stats(percentile: float) -> serve.ServerStats:
    fields = {f.name: None for f in dataclasses.fields(serve.ServerStats)}
    fields.update(skipped=0, completed=0, scheduled=0, percentile=percentile)
    return serve.ServerStats(**fields)  # type: ignore[arg-type]


def test_the_open_loop_verdict_reads_loadgens_rank() -> None:
    # At n = 500000, p99.999 LoadGen takes rank 499994; int(n * p / 100) took 499995.
    due = np.random.default_rng(5).permutation(np.arange(500_000.0))
    judged = serve._judge(_server_stats(99.999), due, stopped=False)
    assert judged.percentile_latency_ns == 499_994.0
