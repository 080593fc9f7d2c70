"""Lost and stalled completions of the throughput loop (issue 23 item 5): counted in
``RunResult`` and rows, lost ones counted in throughput, named in the stop note. The faults
are real: the engine drops completion callbacks on request (``Engine._drop_completions``), and
a one-slot completion ring makes requests wait for the collector."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock import _core
from inferclock._timing import control as _control, engine as _engine


def _arm_drops(monkeypatch: pytest.MonkeyPatch, count: int, every: int) -> None:
    """Every engine ic.run makes here drops `count` callbacks, one in every `every`."""
    new_engine = _engine._new_engine

    def armed(spec: _engine.RunSpec) -> _core.Engine:
        e = new_engine(spec)
        e._drop_completions(count, every)
        return e

    monkeypatch.setattr(_engine, "_new_engine", armed)


def test_lost_completions_are_reported_and_counted(
    matmul_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _arm_drops(monkeypatch, 10**9, 5)  # one callback in five, the whole run
    r = ic.run(str(matmul_model), mode="throughput", iterations=600, warmup=30, requests=3)
    assert r.n == 600 and r.stop_reason == "iterations"
    assert r.async_lost is not None and r.async_lost >= 100, "about a fifth of ~800 completions"
    assert r.async_stalls == 0
    note = r.stop_note or ""
    m = re.search(r"(\d+) async completions came back without a callback .*?; (\d+) counted", note)
    assert m is not None, note
    lost, counted = int(m[1]), int(m[2])
    assert lost == r.async_lost and 0 < counted <= lost
    row = r.to_dict()
    assert (row["async_lost"], row["async_stalls"]) == (r.async_lost, 0)
    assert row["stop_note"] == note and f"note      {note}" in r.summary()


def test_stalls_on_a_full_ring_are_reported(
    matmul_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One completion per request before the collector drains: the others wait (stalls).
    tiny = functools.partial(_core.Engine, completion_capacity=1)
    fake = SimpleNamespace(Engine=tiny, InterruptScope=_core.InterruptScope)
    monkeypatch.setattr(_engine, "_core", fake)
    r = ic.run(str(matmul_model), mode="throughput", iterations=300, warmup=30, requests=3)
    assert r.async_stalls is not None and r.async_stalls > 0
    assert r.to_dict()["async_stalls"] == r.async_stalls
    n = r.async_stalls
    assert f"requests waited {n} time{'s' * (n != 1)} on a full completion ring" in (
        r.stop_note or ""
    )


def test_a_clean_run_says_nothing_and_latency_mode_has_no_async_loop(
    matmul_model: Path,
) -> None:
    r = ic.run(str(matmul_model), mode="throughput", iterations=200, warmup=20, requests=2)
    assert r.async_stalls == 0 and r.async_lost is not None
    assert "async completion" not in (r.stop_note or "") or r.async_lost > 0
    lat = ic.run(str(matmul_model), iterations=50, warmup=5)
    assert (lat.async_lost, lat.async_stalls) == (None, None)
    assert (lat.to_dict()["async_lost"], lat.to_dict()["async_stalls"]) == (None, None)


class _FakeEngine:
    """What ``_window_rate`` reads of an engine."""

    num_requests = 2
    async_start_tick = 0

    def __init__(self, lost_ticks: list[int]) -> None:
        self.async_lost_ticks = np.asarray(lost_ticks, np.uint64)


def _rate(lost_ticks: list[int]) -> tuple[Any, int]:
    engine: Any = _FakeEngine(lost_ticks)
    sampler = _engine._AsyncSampler(engine)
    sampler.ends = [np.arange(1, 41, dtype=np.uint64) * 1000]  # 10 warm-up, then 30 timed
    driven = _control.Driven(
        np.full(30, 900, np.int64), np.full(10, 900, np.int64), None, "iterations", 0.1
    )
    return _engine._window_rate(sampler, driven, 4, engine)


def test_lost_completions_in_the_window_count_in_throughput() -> None:
    (base, _, _), none = _rate([])
    # The window runs from tick 10000 (last warm-up end) to 40000 (last timed end), inclusive
    # at its close: 5000 and 10000 fall before it, 45000 after.
    (rate, low, high), counted = _rate([5000, 10000, 12500, 20500, 39999, 40000, 45000])
    assert (none, counted) == (0, 4)
    assert rate / base == pytest.approx(34 / 30)
    assert low is not None and high is not None and low < rate < high


def test_async_note_words() -> None:
    assert _engine.async_note(0, 0, 0) is None
    one = _engine.async_note(1, 0, 0) or ""
    assert one.startswith("1 async completion came back") and "0 counted in throughput" in one
    both = _engine.async_note(3, 2, 1) or ""
    assert "3 async completions" in both and "2 counted" in both
    assert "waited 1 time on a full completion ring" in both
