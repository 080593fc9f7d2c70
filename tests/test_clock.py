"""The public clock: ic.clock(), to_ns, timer."""

from __future__ import annotations

import time

import numpy as np

import inferclock as ic


def test_clock_is_process_wide() -> None:
    assert ic.clock() is ic.clock()
    clk = ic.clock()
    assert clk.source in ("tsc", "cntvct", "monotonic_raw")
    assert isinstance(clk.source_reason, str) and clk.source_reason
    assert clk.frequency_hz > 0 and clk.overhead_ns > 0 and clk.resolution_ns > 0
    assert isinstance(clk.invariant, bool)
    assert "source" in clk.to_dict()


def test_to_ns_array_equals_elementwise() -> None:
    clk = ic.clock()
    rng = np.random.default_rng(1)
    ticks = rng.integers(0, 10**13, size=1000, dtype=np.int64)
    arr = clk.to_ns(ticks)
    assert arr.dtype == np.int64
    assert [clk.to_ns(int(t)) for t in ticks] == arr.tolist()
    assert clk.to_ns(0) == 0
    assert isinstance(clk.to_ns(5), int)


def test_timer_measures_a_sleep() -> None:
    clk = ic.clock()
    # The sleep lasts at least 0.02 s; how much longer is the machine's load, but the span
    # can be no longer than the monotonic time around it (plus the clocks' disagreement).
    t0 = time.monotonic_ns()
    with clk.timer() as span:
        time.sleep(0.02)
    around = time.monotonic_ns() - t0
    assert 0.019e9 < span.ns <= around * 1.001 + 1000
    assert span.ms == span.ns / 1e6


def test_now_advances() -> None:
    clk = ic.clock()
    t0 = time.monotonic_ns()
    a = clk.now()
    time.sleep(0.001)
    b = clk.now()
    around = time.monotonic_ns() - t0
    assert 0.0009e9 < clk.to_ns(b - a) <= around * 1.001 + 1000
