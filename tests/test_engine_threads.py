"""The engine across threads (issue 24 items 6 and 10).

One Ctrl-C stops every running loop, in every thread, and reaches the main thread as a
KeyboardInterrupt when the main thread is not itself timing; an engine is held by one call at a
time, a second caller from another thread gets a ConfigError at once (instead of freeing the
completion log the first one drains).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock import _core
from inferclock._timing.engine import execute

#: Hang guard: long past anything these tests wait for on a loaded machine.
GUARD_S = 120.0


@pytest.fixture
def slow_engine(slow_model: Path) -> _core.Engine:
    return _core.Engine(str(slow_model), "CPU", 1, {}, {"INFERENCE_NUM_THREADS": "1"}, "", 2)


def test_a_second_thread_gets_config_error_while_a_call_holds_the_engine(
    slow_engine: _core.Engine,
) -> None:
    """Thread A drains the completion log in async_collect; B's async_stop / async_start (which
    would free and replace that log under A), run_sync, serve and set_input are refused with a
    ConfigError naming the engine in use, and nothing of A's loop is disturbed."""
    x = slow_engine.input_array(0, "x")
    slow_engine.async_start()
    got: dict[str, Any] = {}

    def collect() -> None:
        deadline = time.monotonic() + GUARD_S
        while True:
            try:
                got["batch"] = slow_engine.async_collect(10**12, GUARD_S)
                return
            except ic.ConfigError as e:
                # This thread's set_input may hold the engine the instant A calls: try again.
                if "in use by another thread" not in str(e) or time.monotonic() > deadline:
                    got["error"] = e
                    return
            except BaseException as e:  # reported below
                got["error"] = e
                return

    a = threading.Thread(target=collect)
    a.start()
    try:
        # set_input succeeds until A is inside async_collect, then is refused: the refusal is
        # how this thread knows A holds the engine (no sleep decides anything).
        deadline = time.monotonic() + GUARD_S
        held = None
        while held is None and time.monotonic() < deadline and a.is_alive():
            try:
                slow_engine.set_input(0, "x", x)
            except ic.ConfigError as e:
                held = e
        assert held is not None, "set_input was never refused while async_collect ran"
        assert "in use by another thread" in str(held) and "set_input" in str(held)
        buf = np.empty(4, np.int64)
        calls = {
            "async_stop": slow_engine.async_stop,
            "async_start": slow_engine.async_start,
            "run_sync": lambda: slow_engine.run_sync(buf, 0, 4),
            "first_inference": slow_engine.first_inference,
            "async_collect": lambda: slow_engine.async_collect(1, 0.0),
        }
        for name, call in calls.items():
            with pytest.raises(ic.ConfigError, match=f"Engine.{name}: the engine is in use"):
                call()
    finally:
        slow_engine.request_stop()  # exempt from the flag: how another thread ends a loop
        a.join(GUARD_S)
        slow_engine.clear_stop()
        slow_engine.async_stop()
    assert "error" not in got, got.get("error")
    lat, end, _ = got["batch"]
    assert lat.size == end.size
    # Free again: the next calls from this thread go through.
    slow_engine.set_input(0, "x", x)
    assert slow_engine.run_sync(np.empty(2, np.int64), 0, 2)[0] == 2


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only",
)
@pytest.mark.parametrize("mode", ["latency", "throughput"])
def test_one_ctrl_c_stops_runs_in_two_threads_and_reaches_the_main_thread(
    slow_model: Path, mode: str
) -> None:
    """Two runs of 60 s in two threads; SIGINT once both are timing. Both end interrupted with
    what they timed, and the main thread, which was only waiting, gets its KeyboardInterrupt."""
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    spec = ic.prepare(str(slow_model), mode=mode, warmup=0.05, duration=60.0,
                      threads=1)  # fmt: skip
    timing = [threading.Event(), threading.Event()]
    results: list[Any] = [None, None]

    def one(i: int) -> None:
        try:
            results[i] = execute(spec, lambda name: timing[i].set() if name == "measure" else None)
        except BaseException as e:  # reported below
            results[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    keyboard = False
    try:
        for t in threads:
            t.start()
        for ev in timing:
            assert ev.wait(GUARD_S), "a run never reached its timed phase"
        os.kill(os.getpid(), signal.SIGINT)
        for t in threads:
            t.join(GUARD_S)
        for _ in range(100_000):  # bytecode: a pending KeyboardInterrupt surfaces here
            pass
        time.sleep(0.05)
    except KeyboardInterrupt:
        keyboard = True
    for t in threads:
        t.join(GUARD_S)
    assert not any(t.is_alive() for t in threads)
    for r in results:
        assert not isinstance(r, BaseException), r
        assert r.interrupted and r.stop_reason == "interrupted", (r.stop_reason, r.elapsed_s)
    assert keyboard, "the Ctrl-C never reached the main thread as a KeyboardInterrupt"


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only",
)
def test_ctrl_c_in_the_main_threads_run_stops_the_other_threads_run_too(
    slow_model: Path,
) -> None:
    """The main thread times too: its run returns a partial result (no KeyboardInterrupt, as
    for a run alone), and the other thread's run stops at the same Ctrl-C."""
    spec = ic.prepare(str(slow_model), mode="latency", warmup=0.05, duration=60.0, threads=1)
    timing = threading.Event()
    other: list[Any] = [None]

    def run_other() -> None:
        try:
            other[0] = execute(spec, lambda name: timing.set() if name == "measure" else None)
        except BaseException as e:  # reported below
            other[0] = e

    t = threading.Thread(target=run_other)
    t.start()
    assert timing.wait(GUARD_S)

    def kill_when_timing(name: str) -> None:
        if name == "measure":
            os.kill(os.getpid(), signal.SIGINT)

    try:
        mine = execute(spec, kill_when_timing)
        for _ in range(100_000):
            pass
        time.sleep(0.05)
    except KeyboardInterrupt:
        t.join(GUARD_S)
        pytest.fail("the main thread's run let a KeyboardInterrupt through")
    t.join(GUARD_S)
    assert not t.is_alive()
    assert mine.interrupted
    assert not isinstance(other[0], BaseException), other[0]
    assert other[0].interrupted, other[0].stop_reason
