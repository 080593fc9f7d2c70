"""The stopping rule's honesty (issue 10): a minimum count before the CI may stop a run, a
default budget that grows for it up to a cap, the confidence a short run's interval really
has; throughput with its interval; one cell timed in several processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock._common.intervals import rate_interval
from inferclock._timing import control as _control


class _VirtualClock:
    """The stop rule's wall clock (``_control.time``), advanced only by the sampler below: a
    sampler's "10 ms a call" is then exactly that however loaded the machine is."""

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _VirtualClock:
    virtual = _VirtualClock()
    monkeypatch.setattr(_control, "time", virtual)
    return virtual


def _slow_sampler(seconds_per_call: float, clock: _VirtualClock) -> _control.Sampler:
    """A sampler whose calls take ``seconds_per_call`` of (virtual) wall time (ticks: 1000 +-
    noise)."""
    rng = np.random.default_rng(0)

    def sample(n: int, budget_s: float) -> tuple[np.ndarray, bool]:
        clock.now += n * seconds_per_call
        return (1000 + rng.integers(0, 3, n)).astype(np.int64), False

    return sample


def test_the_ci_cannot_stop_a_run_before_min_samples(clock: _VirtualClock) -> None:
    # Identical timings: the CI is zero-width from the first chunk, only the count holds it.
    rule = _control.make_rule(warmup=1, target_ci=0.5, min_time=0.0, min_samples=40)
    driven = _control.drive(_slow_sampler(0.001, clock), rule)
    assert driven.stop_reason == "target_ci" and driven.samples.size >= 40


def test_a_default_budget_grows_to_min_samples_then_the_cap_cuts_it(
    monkeypatch: pytest.MonkeyPatch, clock: _VirtualClock
) -> None:
    monkeypatch.setattr(_control, "DEFAULT_MAX_TIME", 0.2)
    monkeypatch.setattr(_control, "TIME_CAP", 0.6)
    rule = _control.make_rule(warmup=1, target_ci=1e-9, min_time=0.0, min_samples=30)
    # 10 ms a call: 30 samples take 0.3 s, past the 0.2 s budget, within the 0.6 s cap. The
    # clock is virtual (the rule's own time), so the bounds below are exact, not load-bound.
    grown = _control.drive(_slow_sampler(0.01, clock), rule)
    assert grown.stop_reason == "max_time" and grown.samples.size >= 30
    assert 0.3 - 1e-9 <= grown.elapsed_s < 0.6
    # 50 ms a call: 30 samples would take 1.5 s; the cap stops it short, and says so.
    capped = _control.drive(_slow_sampler(0.05, clock), rule)
    assert capped.stop_reason == "time_cap" and capped.samples.size < 30
    assert 0.6 <= capped.elapsed_s < 0.6 + 0.05 * 4 + 1e-9  # stopped at the cap's chunk
    note = _control.stop_note(rule, capped, 0.95)
    assert note is not None and "time cap" in note and "min_samples=30" in note
    # A max_time the user gives is a hard limit: no growth.
    hard = _control.make_rule(warmup=1, target_ci=1e-9, max_time=0.2, min_samples=30)
    held = _control.drive(_slow_sampler(0.02, clock), hard)
    assert held.stop_reason == "max_time" and held.samples.size < 30


def test_a_run_too_short_for_95_percent_says_what_its_interval_holds(
    matmul_model: Path,
) -> None:
    r = ic.run(str(matmul_model), iterations=4, warmup=1)
    assert r.latency.n == 4 and r.latency.ci_confidence == pytest.approx(0.875)
    assert (r.latency.ci_ns[0], r.latency.ci_ns[1]) == (r.latency.min_ns, r.latency.max_ns)
    text = r.summary()
    assert "87.5% CI" in text and "95% CI" not in text.split("throughput")[0]
    assert r.stop_note is not None and "too small for a 95% interval" in r.stop_note
    row = r.to_dict()
    assert row["latency_ci_confidence"] == pytest.approx(0.875) and row["stop_note"]
    big = ic.run(str(matmul_model), iterations=200, warmup=1)
    assert "too small" not in (big.stop_note or "")
    # 200 samples are enough for 95% unless a loaded machine made them autocorrelated; then
    # the interval is wider than 95% would need and the note must say why.
    if big.latency.ci_confidence < 0.95:
        assert big.stop_note is not None and "autocorrelated samples" in big.stop_note


def test_autocorrelated_samples_hold_the_stop_and_say_so() -> None:
    # A machine that slows in long steps: 600 samples, but few independent ones. The stop
    # waits for them (ci_halfwidth_ratio is infinite), and a run cut short says why.
    steps = np.repeat(np.arange(1000, 1060, 10), 100).astype(np.int64)
    rule = _control.make_rule(warmup=1, target_ci=0.05, min_time=0.0)
    driven = _control.Driven(steps, steps[:1], None, "max_time", 1.0)
    note = _control.stop_note(rule, driven, 0.95)
    assert note is not None and "n=600 autocorrelated samples count as about" in note
    assert "too few for a 95% interval of the median" in note
    shuffled = np.random.default_rng(0).permutation(steps)
    calm = _control.Driven(shuffled, steps[:1], None, "max_time", 1.0)
    assert "autocorrelated" not in (_control.stop_note(rule, calm, 0.95) or "")


def test_throughput_has_a_batch_means_interval_in_both_modes(
    matmul_model: Path, conv_model: Path
) -> None:
    # Back to back, the window is the sum of the latencies: the run's rate and interval are
    # exactly the batch means of its own samples. One stall of a loaded machine can stretch a
    # sub-window so far that the interval reaches zero: then there is none, and that must be
    # what the samples say, not a failure of the run (rate_interval's own cases are in
    # test_intervals.py, on synthetic completions).
    lat = ic.run(str(matmul_model), iterations=400, warmup=5)
    ends = np.cumsum(lat.samples_ns, dtype=np.float64)
    rate, low, high = rate_interval(ends, 1.0)
    assert lat.throughput == pytest.approx(rate) and lat.throughput_ci == (low, high)
    lo, hi = lat.throughput_ci
    assert (lo is None) == (hi is None)
    if lo is not None and hi is not None:
        assert lo < lat.throughput < hi
    # The same batch means on calm synthetic completions always give an interval around it.
    calm = np.cumsum(1000 + np.random.default_rng(1).integers(0, 50, 400), dtype=np.float64)
    r, clo, chi = rate_interval(calm, 1.0)
    assert clo is not None and chi is not None and clo < r < chi
    tp = ic.run(
        str(conv_model), mode="throughput", batch_size=2, iterations=120, warmup=6, requests=3
    )
    lo, hi = tp.throughput_ci
    row = tp.to_dict()
    assert row["throughput_ci_low_fps"] == lo and row["throughput_ci_high_fps"] == hi
    assert (lo is None) == (hi is None)
    if lo is not None and hi is not None:
        assert lo < tp.throughput < hi
        assert "samples/s [95% CI" in tp.summary()
    else:  # a stall stretched the window's spread past its mean: no interval, and none shown
        assert "samples/s [95% CI" not in tp.summary()
    # Too few completions for two sub-windows: no interval rather than a false one.
    one = ic.run(str(matmul_model), iterations=1, warmup=1)
    assert one.throughput_ci == (None, None)


def test_one_cell_in_several_processes(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), processes=2, iterations=200, warmup=5)
    assert r.isolated and len(r.process_runs) == 2
    assert r.samples_ns.size == 400 and r.multimodal in (True, False)
    medians = sorted(p.latency.median_ns for p in r.process_runs)
    assert r.latency.median_ns == pytest.approx(float(np.sqrt(medians[0] * medians[1])))
    lo, hi = r.latency.ci_ns
    assert lo <= r.latency.median_ns <= hi
    assert "processes 2: medians" in r.summary()
    row = r.to_dict()
    assert row["processes"] == 2 and row["multimodal"] == r.multimodal


def test_a_resume_on_another_host_is_refused(matmul_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    ic.sweep(str(matmul_model), out=out, iterations=5, warmup=1, quiet=True, processes=1)
    lines = out.read_text().splitlines()
    header = json.loads(lines[0])
    header["environment"]["cpu_model"] = "Another CPU"
    out.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    with pytest.raises(ic.ConfigError, match=r"host\.cpu_model"):
        ic.sweep(
            str(matmul_model), batch_sizes=[1, 2], out=out, iterations=5, quiet=True, processes=1
        )


def test_a_change_of_speed_is_noted_at_any_stop() -> None:
    rng = np.random.default_rng(1)
    rule = _control.make_rule(warmup=1, iterations=400)

    def driven(second: float) -> _control.Driven:
        x = np.r_[1000 + rng.integers(0, 20, 200), second + rng.integers(0, 20, 200)]
        return _control.Driven(x.astype(np.int64), np.ones(1, np.int64), None, "iterations", 1.0)

    note = _control.stop_note(rule, driven(1100), 0.95)
    assert note is not None and "second half ran +9.9%" in note and "drift" in note
    assert _control.stop_note(rule, driven(1000), 0.95) is None
    # 3% apart, but within the noise of the halves' own medians: no drift to report.
    spread = np.linspace(1000, 1400, 200)
    noisy = np.r_[spread, spread * 1.03].astype(np.int64)
    d = _control.Driven(noisy, np.ones(1, np.int64), None, "iterations", 1.0)
    assert _control.stop_note(rule, d, 0.95) is None


def test_the_processes_of_a_cell_share_its_budget_and_count() -> None:
    from inferclock._timing.options import DEFAULT_MAX_TIME, TIME_CAP, RunOptions

    one, three = _control.rule_of(RunOptions()), _control.rule_of(RunOptions(processes=3))
    assert (one.default_max_time, one.time_cap, one.grow_to) == (DEFAULT_MAX_TIME, TIME_CAP, 30)
    assert three.default_max_time == pytest.approx(DEFAULT_MAX_TIME / 3)
    assert three.time_cap == pytest.approx(TIME_CAP / 3) and three.grow_to == 10
    assert three.run_target_ci == pytest.approx(0.01 * 3**0.5)
    assert three.min_samples == 30  # a run's own CI still needs 30 samples to stop it
