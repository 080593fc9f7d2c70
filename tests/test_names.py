"""The naming rule of CONTRIBUTING.md ("Public names"): each renamed public name is the new
name, and the old one still works for one release with a DeprecationWarning naming the new."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock import stats


def spin() -> None:
    sum(range(200))


@pytest.fixture(scope="module")
def measured() -> ic.Measurement:
    def step() -> None:
        with ic.phase("work"):
            spin()

    return ic.measure(step, warmup=2, iterations=40, batch_size=4)


def old_and_new(obj: object, old: str, new: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"\.{old} is deprecated: use \.{new}\b"):
        value = getattr(obj, old)
    assert value == getattr(obj, new) or (value is None and getattr(obj, new) is None)


def test_stats_interval_is_ci_ns_at_its_level() -> None:
    s = stats.summarize(np.arange(1, 101, dtype=np.int64) * 1000, confidence=0.9)
    assert s.ci_level == 0.9 and s.ci_ns[0] < s.median_ns < s.ci_ns[1]
    assert s.ci_ms == (s.ci_ns[0] / 1e6, s.ci_ns[1] / 1e6)
    old_and_new(s, "ci95_ns", "ci_ns")
    old_and_new(s, "ci95_ms", "ci_ms")
    d = s.to_dict()
    assert "ci_ns" in d and "ci95_ns" not in d
    old = dict(d, ci95_ns=d.pop("ci_ns"))  # a dict written before the rename still loads
    assert stats.Stats.from_dict(old) == s


def test_run_samples_are_samples_ns(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=20, warmup=1)
    assert r.samples_ns.dtype == np.int64 and r.samples_ns.size == r.n == 20
    with pytest.warns(
        DeprecationWarning, match=r"RunResult\.latencies_ns is deprecated: use \.samples_ns"
    ):
        assert r.latencies_ns is r.samples_ns


def test_rates_of_samples_are_throughput(measured: ic.Measurement) -> None:
    assert measured.throughput is not None and measured.throughput > 0
    assert measured.throughput_ci is not None
    old_and_new(measured, "samples_per_s", "throughput")
    old_and_new(measured, "samples_per_s_ci", "throughput_ci")
    work = measured.phases["work"]
    assert work.throughput is not None and work.throughput > 0
    old_and_new(work, "samples_per_s", "throughput")
    old_and_new(work, "samples_per_s_ci", "throughput_ci")
    assert "throughput" in measured.to_dict() and "throughput" in work.to_dict()


def test_new_names_do_not_warn(measured: ic.Measurement, matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=5, warmup=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ = (r.samples_ns, r.latency.ci_ns, r.latency.ci_ms, measured.throughput)
        _ = (measured.throughput_ci, measured.phases["work"].throughput)


def test_sweep_axis_of_rates_is_qps(matmul_model: Path, tmp_path: Path) -> None:
    """``ic.sweep(qps=[...])`` as ``ic.run(qps=...)`` and ``--qps``; ``rates=`` still works,
    with a warning (checked here on a grid refused before anything runs)."""
    out = tmp_path / "r.jsonl"
    with pytest.raises(ic.ConfigError, match=r"qps \(offered rates\) apply to modes server"):
        ic.sweep(str(matmul_model), qps=[100], modes=["latency"], out=out, quiet=True)
    with pytest.warns(DeprecationWarning, match="sweep: rates= is deprecated: use qps="):
        with pytest.raises(ic.ConfigError, match=r"qps \(offered rates\) apply"):
            ic.sweep(str(matmul_model), rates=[100], modes=["latency"], out=out, quiet=True)
    for qps in ([100], np.array([100.0, 200.0])):
        with pytest.raises(ic.ConfigError, match=r"give qps= only"):
            ic.sweep(str(matmul_model), qps=qps, rates=[200], out=out, quiet=True)
    assert not out.exists()
