"""ic.measure on Python callables."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import inferclock as ic


def test_iterations_and_statistics_match_numpy() -> None:
    m = ic.measure(lambda: sum(range(50)), warmup=10, iterations=500)
    x = m.samples_ns
    assert x.dtype == np.int64 and x.size == 500
    assert m.warmup_ns.size == 10
    s = m.stats
    assert s.n == 500
    assert s.min_ns == x.min() and s.max_ns == x.max()
    assert s.mean_ns == pytest.approx(x.mean())
    assert s.median_ns == pytest.approx(np.median(x))
    for p in (90, 95, 99):
        assert getattr(s, f"p{p}_ns") == pytest.approx(np.percentile(x, p))
    assert s.stdev_ns == pytest.approx(np.std(x, ddof=1))
    assert s.cv == pytest.approx(np.std(x, ddof=1) / x.mean())
    lo, hi = s.ci_ns
    assert lo <= s.median_ns <= hi
    assert m.stop_reason == "iterations"


def test_measures_a_known_spin() -> None:
    from inferclock import _core

    m = ic.measure(lambda: _core.busy_wait_ns(200_000), warmup=2, iterations=30)
    # The spin never runs short; a loaded machine only makes some calls long, so the
    # shortest of the 30 is the clean one (a median can be half preempted calls).
    assert 200_000 <= m.samples_ns.min() < 260_000 and m.stats.median_ns >= 200_000


def test_auto_warmup_and_adaptive_stop() -> None:
    from inferclock import _core

    # A loose target is met long before max_time (on a 2 us spin, whose halves agree: an empty
    # callable can switch speed modes mid-run on a VM, and the drift check then waits it out);
    # an unreachable target runs to max_time.
    m = ic.measure(lambda: _core.busy_wait_ns(2000), target_ci=0.05, min_time=0.05, max_time=10.0)
    assert m.warmup_ns.size >= 1
    assert m.stop_reason == "target_ci"
    lo, hi = m.stats.ci_ns
    assert (hi - lo) / 2 <= 0.05 * m.stats.median_ns
    # Waits spread over 1-30 us: a narrow spread (1-3 us) gave 10^5 samples of a few hundred
    # distinct values in 0.3 s on a quiet machine, whose median interval is then 0 wide.
    waits = iter(np.random.default_rng(5).integers(1_000, 30_000, 10**7).tolist())
    m = ic.measure(lambda: _core.busy_wait_ns(next(waits)), target_ci=1e-9, max_time=0.3)
    assert m.stop_reason == "max_time"


def test_duration_and_time_warmup() -> None:
    m = ic.measure(lambda: time.sleep(0.001), warmup=0.02, duration=0.1)
    # What holds on any machine: the timed phase lasts at least its duration, and covers its
    # calls; how far past it the last chunk ran, or how many 1 ms sleeps fit in the 0.02 s
    # warm-up, is the machine's load (the rule's bounds are exact in test_stopping.py).
    assert m.stop_reason == "duration"
    assert m.elapsed_s >= 0.1 and m.samples_ns.sum() <= m.elapsed_s * 1e9
    assert m.warmup_ns.size >= 1 and m.warmup_ns.min() >= 1_000_000


def test_cpus_pins_and_restores() -> None:
    before = os.sched_getaffinity(0)
    cpu = min(before)
    seen: list[set[int]] = []
    m = ic.measure(lambda: seen.append(os.sched_getaffinity(0)), warmup=0, iterations=3, cpus=[cpu])
    assert m.cpus == [cpu]
    assert all(s == {cpu} for s in seen)
    assert os.sched_getaffinity(0) == before


def test_exception_from_fn_comes_back_as_itself() -> None:
    boom = RuntimeError("boom")
    calls = 0

    def fn() -> None:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise boom

    with pytest.raises(RuntimeError) as info:
        ic.measure(fn, warmup=0, iterations=100)
    assert info.value is boom
    assert any("#7" in n for n in info.value.__notes__)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"iterations": 0}, "iterations"),
        ({"iterations": -1}, "iterations"),
        ({"duration": -1.0}, "duration"),
        ({"target_ci": 0}, "target_ci"),
        ({"target_ci": -0.5}, "target_ci"),
        ({"warmup": "sometimes"}, "warmup"),
        ({"warmup": -3}, "warmup"),
        ({"min_time": 2.0, "max_time": 1.0}, "max_time"),
    ],
)
def test_bad_arguments_name_themselves(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        ic.measure(lambda: None, **kwargs)  # type: ignore[arg-type]


def test_non_callable_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="callable"):
        ic.measure(42)  # type: ignore[arg-type]


def test_ctrl_c_stops_promptly() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ic.measure(lambda: None, warmup=0, duration=30.0)
    # Stopped at the Ctrl-C, not at the end of the 30 s asked for (a hang guard, not a
    # deadline: a loaded machine gets most of it).
    assert time.monotonic() - t0 < 0.75 * 30.0
    timer.join()


def test_measurement_to_dict() -> None:
    m = ic.measure(lambda: None, warmup=0, iterations=10)
    d = m.to_dict(samples=True)
    assert d["stats"]["n"] == 10 and len(d["samples_ns"]) == 10


def test_adaptive_stop_waits_out_a_drift() -> None:
    # Each call is 20 ns slower than the one before: the CI of the median soon gets narrow,
    # but the halves of the run never agree, so the run must go on to max_time.
    from inferclock import _core

    calls = [0]

    def fn() -> None:
        calls[0] += 1
        _core.busy_wait_ns(10_000 + 20 * calls[0])

    m = ic.measure(fn, warmup=0, min_time=0.05, max_time=0.6)
    assert m.stop_reason == "max_time"
    assert m.drift > 0.02
