"""Test helpers that watch other processes through /proc instead of sleeping: whether a worker
has reached OpenVINO's compile, whether a signal was delivered, a condition polled with a
generous deadline that only guards against a hang (never a timing assertion)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

#: The CPU plugin's library: OpenVINO loads it when a model is compiled for "CPU", which a
#: worker does after it has told its parent "phase compile" (``_timing.engine.execute``).
CPU_PLUGIN = "libopenvino_intel_cpu_plugin"

#: A hang guard, not a timing expectation: a loaded machine gets all of it.
HANG_S = 120.0


def wait_for(check: Callable[[], object], what: str, limit: float = HANG_S) -> None:
    """Poll ``check`` until it is true; fail only when ``limit`` seconds pass (a hang)."""
    deadline = time.monotonic() + limit
    while not check():
        assert time.monotonic() < deadline, f"timed out after {limit:g} s waiting for {what}"
        time.sleep(0.02)


def has_mapped(pid: int, library: str = CPU_PLUGIN) -> bool:
    """Whether process ``pid`` has ``library`` mapped (False once it is gone)."""
    try:
        return library in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, theirs, ...), read from /proc; [] once gone."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = Path(f"/proc/{p}/task").iterdir()
            kids = [int(c) for t in tasks for c in (t / "children").read_text().split()]
        except OSError:
            continue
        found += kids
        todo += kids
    return found


def signal_pending(pid: int, sig: int = signal.SIGINT) -> bool:
    """Whether ``sig`` sent to ``pid`` still waits to be delivered. Two of the same signal
    sent before the first is delivered merge into one, so a test that presses Ctrl-C twice
    waits for this to turn false between the presses (False once the process is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    bit = 1 << (sig - 1)
    for line in status.splitlines():
        if line.startswith(("SigPnd:", "ShdPnd:")) and int(line.split()[1], 16) & bit:
            return True
    return False


def signal_taken(pid: int, sig: int = signal.SIGINT) -> bool:
    """Whether ``sig`` sent to ``pid`` was delivered and its Python handler ran: it is no
    longer pending and the main thread went back to sleep after it (CPython runs a handler
    before its main thread waits again; one caught while a previous one is still unhandled
    would merge with it). True once the process is gone."""
    if signal_pending(pid, sig):  # first: the sleep seen below must come after delivery
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("S", "Z")


def timing_started(thread_id: int) -> bool:
    """Whether thread ``thread_id`` of this process is in a run's timed phase with at least one
    chunk of samples timed (a ``_timing.control._drive`` frame whose timed collector holds
    samples): a Ctrl-C sent then ends a run with a partial result, not during its compile or
    warm-up, however slow those were on a loaded machine."""
    import sys

    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_name == "_drive" and frame.f_globals.get("__name__", "").endswith(
            "_timing.control"
        ):
            timed = frame.f_locals.get("timed")
            return timed is not None and getattr(timed, "count", 0) > 0
        frame = frame.f_back
    return False


def interrupt_when_timing(delay_s: float = 0.0) -> threading.Thread:
    """A thread that sends this process SIGINT once its main thread is timing (see
    ``timing_started``), ``delay_s`` later; join it after the run."""
    import os

    main = threading.main_thread().ident
    assert main is not None

    def go() -> None:
        wait_for(lambda: timing_started(main), "the run's timed phase")
        time.sleep(delay_s)
        os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t
