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
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from inferclock import stats
from inferclock._common import autocorr as _autocorr, intervals as _intervals
from inferclock._common.errors import InferclockError
from inferclock._common.util import is_int
from inferclock._timing import options as _options

#: sample(n, budget_s) -> (durations in ticks, interrupted). It runs up to n timed iterations;
#: budget_s is a soft limit on the chunk's wall time that a sampler may use to return fewer
#: (the async one does, so a wrong rate estimate cannot stretch a chunk past max_time).
Sampler = Callable[[int, float], tuple[npt.NDArray[np.int64], bool]]
Warmup = str | int | float

#: Warm-up is steady when two consecutive windows' medians agree within this (relative).
WARMUP_TOLERANCE = 0.02
#: The adaptive stop also wants the medians of the two halves of the timed samples within
#: max(this, 2 x target_ci) of each other, at every stop it makes.
DRIFT_TOLERANCE = 0.02
DEFAULT_MAX_TIME = _options.DEFAULT_MAX_TIME
TIME_CAP = _options.TIME_CAP
DEFAULT_MIN_TIME = _options.DEFAULT_MIN_TIME
_WINDOW_S = 0.025
_CHUNK_S = 0.05
_MIN_WINDOW = 5


@dataclass(frozen=True)
class StopRule:
    """How long to warm up and when to stop (checked by :func:`make_rule`)."""

    warmup: Warmup
    iterations: int | None
    duration: float | None
    target_ci: float
    min_time: float
    max_time: float | None
    max_samples: int
    min_samples: int = _options.MIN_SAMPLES
    #: processes the cell is timed in: they share its default budget (and cap)
    processes: int = 1

    @property
    def default_max_time(self) -> float:
        """The soft budget of an adaptive run without max_time: a cell's DEFAULT_MAX_TIME,
        shared by its processes."""
        return DEFAULT_MAX_TIME / self.processes

    @property
    def time_cap(self) -> float:
        """How far that budget may grow to reach min_samples (TIME_CAP, shared alike)."""
        return max(TIME_CAP, DEFAULT_MAX_TIME) / self.processes

    @property
    def grow_to(self) -> int:
        """The count a default budget grows for: the cell's min_samples, shared by its
        processes (the CI may stop a run only once the run itself has min_samples)."""
        return -(-self.min_samples // self.processes)

    @property
    def run_target_ci(self) -> float:
        """The CI half-width one process aims for: k agreeing processes narrow the cell's
        interval by about sqrt(k), so each needs target_ci x sqrt(k) for the cell's target."""
        return self.target_ci * math.sqrt(self.processes)

    @property
    def warmup_cap_s(self) -> float:
        """Longest an "auto" warm-up may take."""
        return min(2.0, 0.25 * (self.max_time or self.default_max_time))

    @property
    def warmup_limit_s(self) -> float:
        """Longest a count or time warm-up may take: max_time, else WARMUP_LIMIT."""
        return self.max_time if self.max_time is not None else _options.WARMUP_LIMIT


_RULE_FIELDS = (
    "warmup", "iterations", "duration", "target_ci", "min_time", "max_time", "max_samples",
    "min_samples",
)  # fmt: skip


_STOP_CHECKED = ("iterations", "duration", "min_time", "max_time", "max_samples")


def make_rule(**values: Any) -> StopRule:
    """A StopRule from the stopping options, each checked as its declaration (``_timing.options``)
    says: typed errors (ConfigError, a ValueError; ConfigTypeError, also a TypeError) name
    the bad one. Options not given take their declared defaults."""
    defaults = {o.name: o.default for o in _options.options() if o.name in _RULE_FIELDS}
    merged = {**defaults, **values}
    checked = {name: _options.check_value(name, merged[name]) for name in _RULE_FIELDS}
    _options.check_stopping(**{k: checked[k] for k in _STOP_CHECKED})
    return StopRule(**checked)


def rule_of(opts: _options.RunOptions) -> StopRule:
    """The StopRule of already checked run options."""
    fields = {name: getattr(opts, name) for name in _RULE_FIELDS}
    return StopRule(**fields, processes=opts.processes)


StopReason = Literal[
    "iterations",
    "duration",
    "target_ci",
    "max_time",
    "time_cap",
    "max_samples",
    "interrupted",
    "error",
]


@dataclass(frozen=True)
class Driven:
    """Raw outcome of a driven run, in ticks."""

    samples: npt.NDArray[np.int64]
    warmup: npt.NDArray[np.int64]
    warmup_steady: bool | None  # None unless warm-up was "auto"
    stop_reason: StopReason
    elapsed_s: float  # wall time of the timed phase
    error: BaseException | None = None  # what ended a run with stop_reason "error"


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
            # A slow model's window must not outrun the warm-up's own cap (its windows then
            # never agree, and the warm-up says so: warmup_steady False).
            left = _calls_for(rule.warmup_cap_s - warm.wall, warm.per_call_s(), 1)
            size = min(size, left, max(1, rule.max_samples - warm.count))
            win = warm.run(size)
            if warm.short:
                return warm, False
            if (
                prev is not None
                and prev.size >= _MIN_WINDOW
                and stats.windows_agree(prev, win, WARMUP_TOLERANCE)
            ):
                return warm, True
            if warm.wall >= rule.warmup_cap_s or warm.count >= rule.max_samples:
                return warm, False
            prev = win

    # A count or a time, bounded by max_time (or WARMUP_LIMIT) and max_samples: a warm-up of
    # 10**12 calls must not outlive the run's own limits.
    def more() -> bool:
        return not warm.short and warm.wall < rule.warmup_limit_s and warm.count < rule.max_samples

    if is_int(w):
        left = int(w)
        while left > 0 and more():
            n = min(left, _calls_for(_CHUNK_S, warm.per_call_s(), 1), rule.max_samples - warm.count)
            warm.run(n, exact=True)  # the count the user asked for
            left -= n
        return warm, None
    secs = float(w)
    while warm.wall < secs and more():
        n = _calls_for(min(_CHUNK_S, secs - warm.wall), warm.per_call_s(), 1)
        warm.run(min(n, rule.max_samples - warm.count))
    return warm, None


def drive(sample: Sampler, rule: StopRule, on_interrupt: str = "raise", granule: int = 1) -> Driven:
    """Warm up, then run timed chunks until the rule says stop.

    A sampler that returns fewer iterations than asked (an interrupted engine loop) ends the
    run with ``stop_reason="interrupted"``. With ``on_interrupt="raise"`` a KeyboardInterrupt
    or an error of the sampler propagates. With ``"partial"`` a KeyboardInterrupt between
    chunks ends the run the same way, and an InferclockError of the sampler ends it with
    ``stop_reason="error"`` and the error in ``Driven.error``: what was collected is kept,
    plus the ticks the failing chunk got (its ``partial_ticks`` attribute). ``granule``: chunk
    sizes are multiples of it (except to hit an exact ``iterations``), so an async run's
    warm-up and window hold whole rounds of its requests.
    """
    if on_interrupt == "raise":
        return _drive(sample, rule, granule=granule)
    collectors: list[_Collector] = []

    def kept(reason: StopReason, error: BaseException | None = None) -> Driven:
        warm = collectors[0] if collectors else _Collector(sample)
        timed = collectors[1] if len(collectors) > 1 else _Collector(sample)
        extra = getattr(error, "partial_ticks", None)
        if extra is not None and len(extra):
            (timed if len(collectors) > 1 else warm).chunks.append(np.asarray(extra, np.int64))
        return Driven(timed.array(), warm.array(), None, reason, timed.wall, error)

    try:
        return _drive(sample, rule, collectors, granule)
    except KeyboardInterrupt:
        return kept("interrupted")
    except InferclockError as e:
        return kept("error", e)


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
    # A default budget (adaptive, no max_time) is soft: it grows to reach min_samples, up to
    # TIME_CAP; a max_time the user gave is a hard limit.
    soft = adaptive and rule.max_time is None
    max_time = (
        rule.max_time
        if rule.max_time is not None
        else (rule.default_max_time if adaptive else math.inf)
    )
    limit = max(rule.time_cap, max_time) if soft else max_time
    reason: StopReason
    while True:
        chunk_s = max(_CHUNK_S, 0.05 * timed.wall)
        per_call = timed.per_call_s() or per_call
        n = min(_calls_for(chunk_s, per_call, 1), rule.max_samples - timed.count)
        if rule.iterations is not None:
            n = min(n, rule.iterations - timed.count)
        elif rule.duration is not None:
            n = min(n, _calls_for(rule.duration - timed.wall, per_call, 1))
        else:
            until = max_time if timed.count >= rule.grow_to or not soft else limit
            n = min(n, _calls_for(until - timed.wall, per_call, 1))
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
        if timed.wall >= max_time and (not soft or timed.count >= rule.grow_to):
            reason = "max_time"
            break
        if soft and timed.wall >= limit:
            reason = "time_cap"
            break
        if timed.count >= rule.max_samples:
            reason = "max_samples"
            break
        if adaptive and timed.wall >= rule.min_time and timed.count >= rule.min_samples:
            x = timed.array()
            if stats.ci_halfwidth_ratio(x) <= rule.run_target_ci and abs(stats.drift(x)) <= max(
                DRIFT_TOLERANCE, 2 * rule.run_target_ci
            ):
                reason = "target_ci"
                break
    return Driven(timed.array(), warm.array(), steady, reason, timed.wall)


def stop_note(rule: StopRule, driven: Driven, confidence: float) -> str | None:
    """Why the figures of a stopped run deserve a second look, in words, or None: the time cap
    cut it short of min_samples, its interval holds less than the confidence it was asked
    for (too few samples, or too few effective ones: autocorrelated), or its speed drifted
    between its two halves."""
    x, notes = driven.samples, []
    if driven.stop_reason == "time_cap":
        notes.append(
            f"stopped by the {rule.time_cap:g} s time cap at n={x.size}, "
            f"short of {rule.grow_to} (min_samples={rule.min_samples}"
            + (f" shared by {rule.processes} processes)" if rule.processes > 1 else ")")
        )
    if 0 < x.size < _intervals.min_count(0.5, confidence):
        notes.append(f"n={x.size} is too small for a {confidence:.0%} interval of the median")
    elif x.size:
        _, _, coverage, tau = _autocorr.serial_ranks(x, 0.5, confidence)
        if float(coverage) < confidence:
            notes.append(
                f"n={x.size} autocorrelated samples count as about {int(x.size / float(tau))} "
                f"independent ones: too few for a {confidence:.0%} interval of the median"
            )
    d = stats.drift(x) if x.size >= 2 else math.nan
    if math.isfinite(d) and abs(d) > max(DRIFT_TOLERANCE, 2 * rule.run_target_ci) and _apart(x):
        notes.append(f"the second half ran {d:+.1%} against the first (drift)")
    return "; ".join(notes) or None


def _apart(x: npt.NDArray[np.int64]) -> bool:
    """The medians' intervals of the two halves of ``x`` do not overlap: a change of speed,
    not the noise of two small samples."""
    half = x.size // 2
    if half < _intervals.min_count(0.5):
        return False
    (a_lo, a_hi), (b_lo, b_hi) = stats.median_ci(x[:half]), stats.median_ci(x[half:])
    return a_hi < b_lo or b_hi < a_lo
