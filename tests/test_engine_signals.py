"""Signals and the GIL while the engine's loops run in C++ without the GIL.

SIGINT ends a loop with a partial result marked interrupted; every other signal handler runs
when the call returns, and its exception propagates. A Python thread keeps running meanwhile.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TypeVar

import numpy as np
import pytest

import inferclock as ic
from inferclock import _core

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signal handlers run in the main thread only",
)

T = TypeVar("T")

#: run_sync iterations of slow_model (about 0.4 ms each here) that outlast the signals below.
LONG = 2500


class Alarm(Exception):
    pass


def _raise_alarm(signum: int, frame: FrameType | None) -> None:
    raise Alarm


@pytest.fixture
def alarm_raises() -> Iterator[Callable[[float], None]]:
    """SIGALRM's handler raises Alarm; call the fixture's value to arm the timer."""
    previous = signal.signal(signal.SIGALRM, _raise_alarm)
    try:
        yield lambda seconds: signal.setitimer(signal.ITIMER_REAL, seconds)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _sigint_in(seconds: float) -> threading.Timer:
    timer = threading.Timer(seconds, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _without_keyboard_interrupt(call: Callable[[], T]) -> T:
    """call(), then some bytecode and a sleep: a KeyboardInterrupt raised or left pending by
    the call surfaces here and fails the test (instead of stopping pytest)."""
    try:
        result = call()
        for _ in range(100_000):
            pass
        time.sleep(0.02)
    except KeyboardInterrupt:
        pytest.fail("the loop let a KeyboardInterrupt through")
    return result


@pytest.fixture
def slow_engine(slow_model: Path) -> _core.Engine:
    return _core.Engine(str(slow_model), "CPU", 1, {}, {"INFERENCE_NUM_THREADS": "1"}, "", 2)


def test_alarm_during_run_sync_raises_its_exception(
    slow_engine: _core.Engine, alarm_raises: Callable[[float], None]
) -> None:
    buf = np.empty(LONG, np.int64)
    alarm_raises(0.1)
    with pytest.raises(Alarm):
        slow_engine.run_sync(buf, 0, LONG)


def test_alarm_during_async_collect_raises_its_exception(
    slow_engine: _core.Engine, alarm_raises: Callable[[float], None]
) -> None:
    slow_engine.async_start()
    try:
        alarm_raises(0.1)
        with pytest.raises(Alarm):
            slow_engine.async_collect(10**9, 1.0)
    finally:
        slow_engine.async_stop()


@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_alarm_during_ic_run_raises_its_exception(
    slow_model: Path, alarm_raises: Callable[[float], None], mode: str
) -> None:
    alarm_raises(0.5)  # compile included; the run alone would take 5 s
    with pytest.raises(Alarm):
        ic.run(str(slow_model), mode=mode, warmup=0.1, duration=5.0)


def test_alarm_is_not_swallowed_when_sigint_has_a_handler_of_its_own(
    slow_engine: _core.Engine, alarm_raises: Callable[[float], None]
) -> None:
    """Both signals arrive during one loop; SIGINT's handler is the user's, not Python's."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: calls.append(signum))
    try:
        alarm_raises(0.1)
        timer = _sigint_in(0.3)
        with pytest.raises(Alarm):
            slow_engine.run_sync(np.empty(LONG * 4, np.int64), 0, LONG * 4)
        timer.join()
        time.sleep(0.01)  # let Python run whatever is still pending
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT], "the user's SIGINT handler ran once"


def test_sigint_ends_run_sync_with_a_partial_result(slow_engine: _core.Engine) -> None:
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    buf = np.zeros(LONG * 4, np.int64)
    timer = _sigint_in(0.3)
    done, interrupted = _without_keyboard_interrupt(lambda: slow_engine.run_sync(buf, 0, LONG * 4))
    timer.join()
    assert interrupted
    assert 0 < done < LONG * 4
    assert np.all(buf[:done] > 0) and np.all(buf[done:] == 0)


def test_sigint_ends_async_collect_with_a_partial_result(slow_engine: _core.Engine) -> None:
    slow_engine.async_start()
    try:
        timer = _sigint_in(0.3)
        lat, end, interrupted = _without_keyboard_interrupt(
            lambda: slow_engine.async_collect(10**9, 30.0)
        )
        timer.join()
    finally:
        slow_engine.async_stop()
    assert interrupted
    assert lat.size > 0 and lat.size == end.size


def _progress_during(call: Callable[[], object]) -> tuple[int, float]:
    """Steps a spinning Python thread makes while `call` runs in this one, and its wall time."""
    steps = [0]
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            steps[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.02)
        before, t0 = steps[0], time.perf_counter()
        call()
        wall, after = time.perf_counter() - t0, steps[0]
    finally:
        stop.set()
        t.join()
    return after - before, wall


def test_run_sync_lets_other_python_threads_run(slow_engine: _core.Engine) -> None:
    """A Python thread progresses during run_sync about as fast as during a C++ wait that
    releases the GIL, and far faster than during one that holds it."""
    buf = np.empty(LONG, np.int64)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)  # the spinner gets the GIL within 0.1 ms of its release
    try:
        run_steps, wall = _progress_during(lambda: slow_engine.run_sync(buf, 0, LONG // 4))
        ns = int(wall * 1e9)
        free_steps, free_wall = _progress_during(lambda: _core.busy_wait_ns(ns))
        held_steps, held_wall = _progress_during(lambda: _core.busy_wait_ns(ns, False))
    finally:
        sys.setswitchinterval(switch)
    run_rate = run_steps / wall
    free_rate = free_steps / free_wall
    held_rate = held_steps / held_wall
    assert held_rate < 0.1 * free_rate, "the reference that holds the GIL must block the thread"
    assert run_rate > 0.3 * free_rate, (
        f"run_sync held the GIL: {run_rate:.0f} steps/s vs {free_rate:.0f} with it released, "
        f"{held_rate:.0f} with it held"
    )
