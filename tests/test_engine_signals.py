"""Signals and the GIL while the engine's loops run in C++ without the GIL.

SIGINT ends a loop with a partial result marked interrupted; every other signal handler runs
when the call returns, and its exception propagates. A Python thread keeps running meanwhile.
"""

from __future__ import annotations

import os
import signal
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


def test_run_sync_lets_other_python_threads_run(slow_engine: _core.Engine) -> None:
    """While run_sync loops in another thread, this one runs Python: it sees the buffer part
    filled and stops the loop (Engine.request_stop). A run_sync that held the GIL would let
    this thread see the buffer only empty or full: the loop would run to its end.

    Not a comparison of how fast a spinning thread goes during run_sync and during a reference
    wait, which a loaded machine skews either way."""
    buf = np.zeros(LONG * 4, np.int64)
    got: list[tuple[int, bool]] = []
    t = threading.Thread(target=lambda: got.append(slow_engine.run_sync(buf, 0, buf.size)))
    t.start()
    seen = 0
    try:
        while t.is_alive() and not 0 < (seen := int(np.count_nonzero(buf))) < buf.size:
            time.sleep(0.001)
        slow_engine.request_stop()
        t.join(timeout=600)  # a hang guard: a held GIL lets the loop run its 10**4 inferences
    finally:
        slow_engine.request_stop()
        t.join()
        slow_engine.clear_stop()
    assert 0 < seen < buf.size, f"this thread saw {seen} of {buf.size} samples: the GIL was held"
    ((done, interrupted),) = got
    assert done < buf.size and not interrupted, "request_stop ended the loop early"
    assert np.all(buf[:done] > 0) and np.all(buf[done:] == 0)
