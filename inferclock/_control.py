"""Warm-up and stopping, shared by ``measure`` and the OpenVINO engine.

A *sampler* runs up to ``n`` timed iterations and returns their durations in ticks, and whether
it was interrupted. The driver calls it in chunks of about 50 ms (growing with the run so the
checks between chunks stay under a few percent of it), decides when warm-up is over, and when
to stop. All bookkeeping happens between chunks, never inside a timed loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from inferclock import stats

#: sample(n, budget_s) -> (durations in ticks, interrupted). It runs up to n timed iterations;
#: budget_s is a soft limit on the chunk's wall time that a sampler may use to return fewer
#: (the async one does, so a wrong rate estimate cannot stretch a chunk past max_time).
Sampler = Callable[[int, float], tuple[npt.NDArray[np.int64], bool]]
Warmup = str | int | float

#: Warm-up is steady when two consecutive windows' medians agree within this (relative).
WARMUP_TOLERANCE = 0.02
#: The adaptive stop also wants the medians of the two halves of the timed samples within
#: max(this, 2 x target_ci) of each other (checked from 10 samples on).
DRIFT_TOLERANCE = 0.02
_DRIFT_MIN_SAMPLES = 10
#: An adaptive run stops after this long even if the CI target was not reached.
DEFAULT_MAX_TIME = 10.0
#: An adaptive run lasts at least this long (seconds).
DEFAULT_MIN_TIME = 0.2
_WINDOW_S = 0.025
_CHUNK_S = 0.05
_MIN_WINDOW = 5


@dataclass(frozen=True)
class StopRule:
    """How long to warm up and when to stop (validated by :func:`make_rule`)."""

    warmup: Warmup = "auto"
    iterations: int | None = None
    duration: float | None = None
    target_ci: float = 0.01
    min_time: float = DEFAULT_MIN_TIME
    max_time: float | None = None

    @property
    def warmup_cap_s(self) -> float:
        """Longest an "auto" warm-up may take."""
        return min(2.0, 0.25 * (self.max_time or DEFAULT_MAX_TIME))


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_real(x: object) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def make_rule(
    warmup: Warmup = "auto",
    iterations: int | None = None,
    duration: float | None = None,
    target_ci: float = 0.01,
    min_time: float = DEFAULT_MIN_TIME,
    max_time: float | None = None,
) -> StopRule:
    """Check the user's stopping arguments; ValueError/TypeError naming the bad one."""
    if isinstance(warmup, str):
        if warmup != "auto":
            raise ValueError(
                f'warmup must be "auto", a count (int) or seconds (float), got {warmup!r}'
            )
    elif _is_int(warmup):
        if warmup < 0:
            raise ValueError(f"warmup count must be >= 0, got {warmup}")
    elif _is_real(warmup):
        if not math.isfinite(float(warmup)) or float(warmup) < 0:
            raise ValueError(f"warmup seconds must be finite and >= 0, got {warmup}")
    else:
        raise TypeError(f'warmup must be "auto", an int or a float, got {type(warmup).__name__}')
    if iterations is not None:
        if not _is_int(iterations):
            raise TypeError(f"iterations must be an int, got {type(iterations).__name__}")
        if iterations <= 0:
            raise ValueError(f"iterations must be a positive int, got {iterations}")
    if duration is not None:
        if not _is_real(duration):
            raise TypeError(f"duration must be a number of seconds, got {type(duration).__name__}")
        if not math.isfinite(float(duration)) or float(duration) <= 0:
            raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    if iterations is not None and duration is not None:
        raise ValueError("give iterations or duration, not both")
    if not _is_real(target_ci):
        raise TypeError(f"target_ci must be a number, got {type(target_ci).__name__}")
    if not math.isfinite(float(target_ci)) or float(target_ci) <= 0:
        raise ValueError(f"target_ci must be > 0 (e.g. 0.01 for 1%), got {target_ci}")
    if not _is_real(min_time) or float(min_time) < 0:
        raise ValueError(f"min_time must be >= 0 seconds, got {min_time}")
    if max_time is not None and (not _is_real(max_time) or float(max_time) <= 0):
        raise ValueError(f"max_time must be > 0 seconds, got {max_time}")
    if max_time is not None and float(max_time) < float(min_time):
        raise ValueError(f"max_time ({max_time}) must be >= min_time ({min_time})")
    return StopRule(
        warmup=warmup if isinstance(warmup, str) or _is_int(warmup) else float(warmup),
        iterations=None if iterations is None else int(iterations),
        duration=None if duration is None else float(duration),
        target_ci=float(target_ci),
        min_time=float(min_time),
        max_time=None if max_time is None else float(max_time),
    )


StopReason = Literal["iterations", "duration", "target_ci", "max_time", "interrupted"]


@dataclass(frozen=True)
class Driven:
    """Raw outcome of a driven run, in ticks."""

    samples: npt.NDArray[np.int64]
    warmup: npt.NDArray[np.int64]
    warmup_steady: bool | None  # None unless warm-up was "auto"
    stop_reason: StopReason
    elapsed_s: float  # wall time of the timed phase


class _Collector:
    """Chunks of samples plus how long they took in wall time. Counts are rounded up to
    multiples of ``granule`` (the number of async requests: whole rounds of completions)."""

    def __init__(self, sample: Sampler, granule: int = 1) -> None:
        self._sample = sample
        self.granule = granule
        self.chunks: list[npt.NDArray[np.int64]] = []
        self.count = 0
        self.wall = 0.0
        self.short = False  # the sampler was interrupted (Ctrl-C)

    def run(self, n: int, exact: bool = False, budget_s: float = 1.0) -> npt.NDArray[np.int64]:
        if not exact:
            n = -(-n // self.granule) * self.granule
        t0 = time.perf_counter()
        got, interrupted = self._sample(n, budget_s)
        self.wall += time.perf_counter() - t0
        self.chunks.append(got)
        self.count += int(got.size)
        self.short = self.short or interrupted
        return got

    def per_call_s(self) -> float:
        return self.wall / self.count if self.count else 0.0

    def array(self) -> npt.NDArray[np.int64]:
        if not self.chunks:
            return np.empty(0, dtype=np.int64)
        return np.concatenate(self.chunks).astype(np.int64, copy=False)


def _calls_for(seconds: float, per_call: float, lo: int, hi: int = 1 << 22) -> int:
    if per_call <= 0:
        return lo
    return int(min(hi, max(lo, seconds / per_call)))


def _warm(
    sample: Sampler, rule: StopRule, collectors: list[_Collector] | None = None, granule: int = 1
) -> tuple[_Collector, bool | None]:
    warm = _Collector(sample, granule)
    if collectors is not None:
        collectors.append(warm)
    w = rule.warmup
    if isinstance(w, str):  # "auto": windows until two consecutive medians agree
        first = warm.run(1)
        if warm.short:
            return warm, False
        prev: npt.NDArray[np.int64] | None = first if first.size else None
        while True:
            size = _calls_for(_WINDOW_S, warm.per_call_s(), _MIN_WINDOW, 100_000)
            win = warm.run(size)
            if warm.short:
                return warm, False
            if (
                prev is not None
                and prev.size >= _MIN_WINDOW
                and stats.windows_agree(prev, win, WARMUP_TOLERANCE)
            ):
                return warm, True
            if warm.wall >= rule.warmup_cap_s:
                return warm, False
            prev = win
    if _is_int(w):
        left = int(w)
        while left > 0 and not warm.short:
            n = min(left, _calls_for(_CHUNK_S, warm.per_call_s(), 1))
            warm.run(n, exact=True)  # the count the user asked for
            left -= n
        return warm, None
    secs = float(w)
    while warm.wall < secs and not warm.short:
        warm.run(_calls_for(min(_CHUNK_S, secs - warm.wall), warm.per_call_s(), 1))
    return warm, None


def drive(sample: Sampler, rule: StopRule, on_interrupt: str = "raise", granule: int = 1) -> Driven:
    """Warm up, then run timed chunks until the rule says stop.

    A sampler that returns fewer iterations than asked (an interrupted engine loop) ends the
    run with ``stop_reason="interrupted"``. A KeyboardInterrupt between chunks propagates
    (``on_interrupt="raise"``) or ends the run the same way, keeping what was collected
    (``"partial"``). ``granule``: chunk sizes are multiples of it (except to hit an exact
    ``iterations``), so an async run's warm-up and window hold whole rounds of its requests.
    """
    if on_interrupt == "raise":
        return _drive(sample, rule, granule=granule)
    collectors: list[_Collector] = []
    try:
        return _drive(sample, rule, collectors, granule)
    except KeyboardInterrupt:
        warm = collectors[0] if collectors else _Collector(sample)
        timed = collectors[1] if len(collectors) > 1 else _Collector(sample)
        return Driven(timed.array(), warm.array(), None, "interrupted", timed.wall)


def _drive(
    sample: Sampler,
    rule: StopRule,
    collectors: list[_Collector] | None = None,
    granule: int = 1,
) -> Driven:
    warm, steady = _warm(sample, rule, collectors, granule)
    if warm.short:
        return Driven(np.empty(0, np.int64), warm.array(), steady, "interrupted", 0.0)
    timed = _Collector(sample, granule)
    if collectors is not None:
        collectors.append(timed)
    per_call = warm.per_call_s()
    adaptive = rule.iterations is None and rule.duration is None
    max_time = (
        rule.max_time if rule.max_time is not None else (DEFAULT_MAX_TIME if adaptive else math.inf)
    )
    reason: StopReason
    while True:
        chunk_s = max(_CHUNK_S, 0.05 * timed.wall)
        per_call = timed.per_call_s() or per_call
        n = _calls_for(chunk_s, per_call, 1)
        if rule.iterations is not None:
            n = min(n, rule.iterations - timed.count)
        elif rule.duration is not None:
            n = min(n, _calls_for(rule.duration - timed.wall, per_call, 1))
        else:
            n = min(n, _calls_for(max_time - timed.wall, per_call, 1))
        timed.run(n, exact=rule.iterations is not None, budget_s=max(1.0, 4 * chunk_s))
        if timed.short:
            reason = "interrupted"
            break
        if rule.iterations is not None and timed.count >= rule.iterations:
            reason = "iterations"
            break
        if rule.duration is not None and timed.wall >= rule.duration:
            reason = "duration"
            break
        if timed.wall >= max_time:
            reason = "max_time"
            break
        if adaptive and timed.wall >= rule.min_time:
            x = timed.array()
            if stats.ci_halfwidth_ratio(x) <= rule.target_ci and (
                x.size < _DRIFT_MIN_SAMPLES
                or abs(stats.drift(x)) <= max(DRIFT_TOLERANCE, 2 * rule.target_ci)
            ):
                reason = "target_ci"
                break
    return Driven(timed.array(), warm.array(), steady, reason, timed.wall)
