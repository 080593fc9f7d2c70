"""Phases of a timed callable: ``ic.phase`` / ``ic.mark`` and what ``ic.measure`` makes of them.

``with ic.phase("forward"): ...`` and ``ic.mark("forward")`` are C++ (``register_phases.cpp``):
each records one span of the call that ``ic.measure`` is timing on this thread into a log
allocated before the loop runs (``cpp/include/inferclock/phases.hpp``), read with the same
calibrated clock as the step. This module drains that log between batches of calls and turns
its spans into per-call times, statistics and shares (``PhaseStats``).

What the spans mean:

* **Nesting.** Phases nest; a phase's time includes the phases inside it. Shares of the step
  add up over the top-level phases (depth 0) and ``"(other)"``, the time of each call outside
  every top-level phase (the loop's own bookkeeping included).
* **mark(name)** is a boundary: the time from it to the next mark at the same level, the end
  of the phase around it, or the end of the call goes to ``name``. Phases entered after a mark
  nest inside it.
* **Per call.** A phase's sample for a call is the sum of its spans in that call (a phase
  entered twice counts twice; one entered again inside itself counts once), 0 in a call where
  it did not run: samples line up with ``Measurement.samples_ns``.
* **Outside ic.measure** (or on a thread other than the one running the timed function) a
  phase or a mark does nothing but cost one C++ call, so the same step runs untimed.
* **Full log.** The loop stops after a call that left the log half full; its spans are drained
  and the loop goes on. A call that recorded more spans than the log had room for is dropped
  (step time and phases, counted in ``Measurement.dropped_calls``) and the log grows; past
  ``MAX_CAPACITY`` spans in one call, or ``MAX_DEPTH`` open phases, the run stops with
  ``stop_reason == "phase_overflow"``. No span is written out of bounds or lost unsaid.
* **Cost without phases.** A callable that used no phase in its first batch of calls is timed
  by the plain loop after it (the log watching, at no cost per call). Should it use a phase
  later, the calls of that batch from that one on are dropped (``dropped_calls``) and every
  later batch records.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _core, stats
from inferclock._common.deprecation import renamed
from inferclock._core import mark, phase

__all__ = ["MAX_CAPACITY", "OTHER", "PhaseStats", "Recorder", "mark", "phase"]

#: The name of the time outside every top-level phase.
OTHER = "(other)"
#: Spans the log holds at first (32 bytes each), and at most: it grows between batches.
INITIAL_CAPACITY = 1 << 14
MAX_CAPACITY = 1 << 22
MAX_DEPTH = int(_core.PhaseLog.MAX_DEPTH)

Ticks = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PhaseStats:
    """One phase of a measured callable: its time in every timed call, summarized.

    ``samples_ns[i]`` is the phase's time in call i (0 where it did not run; ``spans[i]`` says
    how many spans it had there). ``share`` is its median over the step's median,
    ``mean_share`` its total time over the step's: over the top-level phases and "(other)" the
    mean shares add up to 1 (to the rounding of ticks to ns), the median shares about.
    ``throughput``: ``batch_size`` over the median (the rate this phase alone would allow),
    its interval from the median's (None when the median is not positive).
    """

    name: str
    depth: int  # 0: top level (the smallest depth it ran at)
    parent: str | None  # the phase around it where it first ran, None at top level
    samples_ns: Ticks
    spans: npt.NDArray[np.int32]
    stats: stats.Stats
    share: float
    mean_share: float
    throughput: float | None = None  # samples per second
    throughput_ci: tuple[float, float] | None = None

    samples_per_s = renamed("throughput", "samples_per_s")  # old names, for one release
    samples_per_s_ci = renamed("throughput_ci", "samples_per_s_ci")

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "depth": self.depth,
            "parent": self.parent,
            "calls": int(np.count_nonzero(self.spans)),
            "stats": self.stats.to_dict(),
            "share": self.share,
            "mean_share": self.mean_share,
            "throughput": self.throughput,
            "throughput_ci": list(self.throughput_ci) if self.throughput_ci else None,
        }
        if samples:
            d["samples_ns"] = self.samples_ns.tolist()
        return d


def rate(batch_size: int | None, s: stats.Stats) -> tuple[float | None, tuple[float, float] | None]:
    """batch_size / median in samples per second, and its interval from the median's."""
    if batch_size is None or not s.median_ns > 0:
        return None, None
    lo, hi = s.ci_ns
    per = batch_size * 1e9
    return per / s.median_ns, (per / hi if hi > 0 else math.inf, per / lo if lo > 0 else math.inf)


@dataclass
class _Info:  # where a phase was first seen, and how deep it ever ran
    order: tuple[int, int]
    depth: int
    parent: int


class Recorder:
    """Runs ``_core.time_calls`` with a phase log and keeps what the log recorded, per call.

    The first batch records. If fn used no phase in it, later batches run the plain loop with
    the log only watching (the cost of a measure without phases is unchanged); when a watched
    batch shows a phase, its calls from that one on are dropped and every later batch records.
    Calls are numbered across every batch the driver asked for (warm-up and timed); ``finish``
    keeps the last ``n`` of them, the timed ones.
    """

    def __init__(self) -> None:
        self.log = _core.PhaseLog(INITIAL_CAPACITY)
        self.calls = 0  # calls of fn completed and kept (handed to the driver) so far
        self.dropped = 0  # calls timed but not handed on: their phases were not all recorded
        self.overflow: str | None = None  # why the log made the run stop
        self._mode = "probe"  # then "watch" (no phase in the first batch) or "record"
        # Per drain, of the spans that count (not repeats): call, phase id, ticks, top level.
        self._parts: list[tuple[Ticks, Ticks, Ticks, npt.NDArray[np.bool_]]] = []
        self._info: dict[int, _Info] = {}

    def run(
        self, fn: Callable[[], object], buf: Ticks, n: int
    ) -> tuple[int, int, BaseException | None]:
        """Time up to ``n`` calls into ``buf`` (draining the log as often as it asks): (calls
        kept, CPU changes seen, exception of fn or None). Fewer than n without an exception
        means the log overflowed (``overflow`` says why)."""
        done = moved = 0
        while done < n:
            watch = self._mode == "watch"
            got, m, exc = _core.time_calls(fn, buf, done, n - done, self.log, watch)
            moved += m
            if exc is not None:
                self.log.reset()  # the failing call's spans: the run ends with its exception
                self.calls += got
                return done + got, moved, exc
            done += self._watched(buf[done : done + got]) if watch else self._drain(got)
            if self.overflow is not None:
                break
        return done, moved, None

    def _watched(self, ticks: Ticks) -> int:
        """Calls kept of a watched batch: all while fn used no phase, else those that ended
        before its first one (the rest are dropped, and later batches record)."""
        first = self.log.first_tick
        keep = int(ticks.size)
        if first != _NO_TICK:
            ends = np.int64(self.log.batch_start) + np.cumsum(ticks)
            keep = int(np.searchsorted(ends, first, side="left"))
            self.dropped += int(ticks.size) - keep
            self.log.reset()
            self._mode = "record"
        self.calls += keep
        return keep

    def _drain(self, got: int) -> int:
        log = self.log
        if log.size == 0 and log.lost == 0:
            if self._mode == "probe":
                self._mode = "watch"
            self.calls += got
            return got
        self._mode = "record"
        spans = log.spans()
        kept = got
        if log.lost:
            # The loop stopped right after the call that lost spans: drop that call whole.
            kept = int(log.lost_call)
            need = int(np.count_nonzero(spans["call"] == kept)) + int(log.lost)
            spans = spans[spans["call"] < kept]
            self.dropped += 1
            grown = max(2 * log.capacity, 4 * need)
            if log.too_deep:
                self.overflow = f"more than {MAX_DEPTH} phases open at once in one call"
            elif grown > MAX_CAPACITY:
                self.overflow = (
                    f"one call recorded {need} phase spans (at most {MAX_CAPACITY // 2})"
                )
            else:
                log.reserve(grown)
        log.clear()
        self._add(spans)
        self.calls += kept
        return kept

    def _add(self, spans: npt.NDArray[np.void]) -> None:
        call = spans["call"].astype(np.int64) + self.calls
        phase_id = spans["phase"].astype(np.int64)
        ticks = (spans["end"] - spans["begin"]).astype(np.int64)
        once = (spans["flags"] & int(_core.PhaseLog.REPEAT)) == 0
        top = spans["depth"] == 0
        self._parts.append((call[once], phase_id[once], ticks[once], top[once]))
        depth = spans["depth"].astype(np.int64)
        for pid in np.unique(phase_id).tolist():
            at = np.flatnonzero(phase_id == pid)
            first = at[np.argmin(spans["begin"][at])]
            info = self._info.get(pid)
            d = int(depth[at].min())
            if info is None:
                parent = int(spans["parent"][first])
                self._info[pid] = _Info((int(call[first]), int(spans["begin"][first])), d, parent)
            elif d < info.depth:
                info.depth = d

    def finish(
        self,
        step_ticks: Ticks,
        to_ns: Callable[[Ticks], Ticks],
        batch_size: int | None,
        percentiles: Iterable[float],
        method: str,
    ) -> dict[str, PhaseStats]:
        """The phases of the last ``step_ticks.size`` calls (the timed ones), "(other)" last;
        empty when no phase ran in them."""
        n = int(step_ticks.size)
        if not self._parts or n == 0:
            return {}
        first = self.calls - n
        timed = np.concatenate([p[0] for p in self._parts]) >= first
        call, phase_id, ticks = (
            np.concatenate([p[i] for p in self._parts])[timed] for i in range(3)
        )
        is_top = np.concatenate([p[3] for p in self._parts])[timed]
        call -= first
        if call.size == 0:
            return {}
        ids = sorted(np.unique(phase_id).tolist(), key=lambda p: self._info[p].order)
        row = np.zeros(max(ids) + 1, np.int64)
        row[ids] = np.arange(len(ids))
        key = row[phase_id] * n + call
        # Sums of int64 ticks through float64 weights: exact below 2**53 ticks (weeks).
        per_call = np.bincount(key, weights=ticks, minlength=len(ids) * n).reshape(len(ids), n)
        counts = np.bincount(key, minlength=len(ids) * n).reshape(len(ids), n)
        top = np.bincount(call[is_top], weights=ticks[is_top], minlength=n)
        names = _core.phase_names()
        step_ns = to_ns(step_ticks)
        step = stats.summarize(step_ns, percentiles=percentiles, method=method)
        total_step = float(step_ns.sum())
        out: dict[str, PhaseStats] = {}
        rows = [(p, per_call[k].astype(np.int64), counts[k]) for k, p in enumerate(ids)]
        rows.append((-1, step_ticks - top.astype(np.int64), np.ones(n, np.int64)))
        for pid, t, c in rows:
            ns = to_ns(t)
            s = stats.summarize(ns, percentiles=percentiles, method=method)
            info = self._info.get(pid)
            name = names[pid] if pid >= 0 else OTHER
            parent = names[info.parent] if info and info.parent != _NO_PARENT else None
            r, ci = rate(batch_size, s)
            out[name] = PhaseStats(
                name=name,
                depth=info.depth if info else 0,
                parent=parent,
                samples_ns=ns,
                spans=c.astype(np.int32),
                stats=s,
                share=s.median_ns / step.median_ns if step.median_ns > 0 else math.nan,
                mean_share=float(ns.sum()) / total_step if total_step > 0 else math.nan,
                throughput=r,
                throughput_ci=ci,
            )
        return out


_NO_PARENT = int(_core.PhaseLog.NO_PARENT)
_NO_TICK = int(_core.PhaseLog.NO_TICK)
