"""``ic.measure``: time any Python callable with the calibrated clock (and the phases inside
it: ``_timing.phases``)."""

from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _core, stats
from inferclock._common.deprecation import renamed
from inferclock._common.errors import ConfigTypeError, InferclockError
from inferclock._platform.clock import clock
from inferclock._timing import control as _control, options as _options, phases as _phases


@dataclass(frozen=True)
class Measurement:
    """Timings of a callable: every timed call in ``samples_ns``, the warm-up curve kept."""

    samples_ns: npt.NDArray[np.int64]
    warmup_ns: npt.NDArray[np.int64]
    stats: stats.Stats
    warmup_steady: bool | None  # None unless warmup="auto"
    drift: float  # median of the second half over the first half, minus 1
    stop_reason: str
    elapsed_s: float
    migrations: int  # times the thread was seen on another CPU between calls
    cpus: list[int] | None = None
    clock: dict[str, Any] = field(default_factory=dict)
    #: ic.phase / ic.mark inside fn, by name in order of first use, then "(other)": empty
    #: when fn used none (see ``_timing.phases``)
    phases: dict[str, _phases.PhaseStats] = field(default_factory=dict)
    batch_size: int = 1  # samples one call processes, for throughput
    #: calls timed but not in samples_ns: their phases were not all recorded (``_timing.phases``)
    dropped_calls: int = 0
    #: fresh processes it was timed in (``process_measurements`` holds each when above 1);
    #: ``interval_scope`` says what the intervals cover: "within one process", or "within
    #: and between N processes" (``ic.measure`` of a callable importable by name)
    processes: int = 1
    process_measurements: tuple[Measurement, ...] = ()
    interval_scope: str = "within one process"
    #: the processes fall into separate speed modes (None with one process), and why
    multimodal: bool | None = None
    multimodal_note: str | None = None
    #: why the figure cannot be trusted, one reason each (empty: no sign of it); an
    #: InstabilityWarning says the same
    instability: tuple[str, ...] = ()

    @property
    def throughput(self) -> float | None:
        """batch_size / median step time, in samples per second (calls per second for a
        batch size of 1; None when the median is not positive)."""
        return _phases.rate(self.batch_size, self.stats)[0]

    @property
    def throughput_ci(self) -> tuple[float, float] | None:
        """The interval of ``throughput``, from the median's."""
        return _phases.rate(self.batch_size, self.stats)[1]

    samples_per_s = renamed("throughput", "samples_per_s")  # old names, for one release
    samples_per_s_ci = renamed("throughput_ci", "samples_per_s_ci")

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        d: dict[str, Any] = {
            "stats": self.stats.to_dict(),
            "warmup_n": int(self.warmup_ns.size),
            "warmup_steady": self.warmup_steady,
            "drift": self.drift,
            "stop_reason": self.stop_reason,
            "elapsed_s": self.elapsed_s,
            "migrations": self.migrations,
            "cpus": self.cpus,
            "clock": self.clock,
            "batch_size": self.batch_size,
            "throughput": self.throughput,
            "dropped_calls": self.dropped_calls,
            "processes": self.processes,
            "interval_scope": self.interval_scope,
            "multimodal": self.multimodal,
            "multimodal_note": self.multimodal_note,
            "instability": list(self.instability),
            "process_spread": self.process_spread,
            "phases": {k: p.to_dict(samples) for k, p in self.phases.items()},
        }
        if samples:
            d["samples_ns"] = self.samples_ns.tolist()
            d["warmup_ns"] = self.warmup_ns.tolist()
        return d

    @property
    def process_spread(self) -> float | None:
        """(max - min) / median of the processes' own medians: the between-process figure
        (None with one process)."""
        meds = sorted(m.stats.median_ns for m in self.process_measurements)
        if len(meds) < 2:
            return None
        return (meds[-1] - meds[0]) / float(np.median(meds))

    def __str__(self) -> str:
        lines = [str(self.stats), f"interval {self.interval_scope}"]
        if self.process_measurements:
            meds = ", ".join(f"{m.stats.median_ns / 1e3:.4g}" for m in self.process_measurements)
            lines.append(f"process medians {meds} us (spread {self.process_spread:.1%})")
        if self.multimodal_note:
            lines.append(f"MULTIMODAL: {self.multimodal_note}")
        if self.instability:
            lines.append(f"UNSTABLE: {'; '.join(self.instability)}")
        return "\n".join(lines)


@contextmanager
def _pinned_thread(cpus: Iterable[int] | None) -> Iterator[list[int] | None]:
    if cpus is None:
        yield None
        return
    from inferclock._platform.pin import pin
    from inferclock._platform.topology import PinningWarning

    # The warning is about OpenVINO's CPU map; this pin is for a Python callable's thread.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PinningWarning)
        try:
            guard = pin(cpus=list(cpus), scope="thread")
        except _core.PinningError as e:
            raise _core.PinningError(f"cpus: {e}") from None
    with guard:
        yield sorted(os.sched_getaffinity(0))


_OPTIONS = ("warmup", "iterations", "duration", "target_ci", "min_time", "max_time",
            "max_samples", "min_samples", "cpus", "percentiles", "percentile_method",
            "batch_size")  # fmt: skip


def check_options(**options: Any) -> tuple[_control.StopRule, Any, int, Any, str]:
    """The options of :func:`measure` checked, before anything runs: (stop rule, cpus, batch
    size, percentiles, percentile method). An unknown name is a ConfigTypeError naming the
    valid ones; a bad value a typed error naming the option."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ConfigTypeError(f"measure got unknown option(s) {unknown}; options are {_OPTIONS}")
    rule = _control.make_rule(**{k: v for k, v in options.items() if k in _RULE})
    get = options.get
    return (
        rule,
        _options.check_value("cpus", get("cpus")),
        _options.check_value("batch_size", get("batch_size", 1)),
        _options.check_value("percentiles", get("percentiles", (50.0, 90.0, 95.0, 99.0))),
        _options.check_value("percentile_method", get("percentile_method", "linear")),
    )


_RULE = ("warmup", "iterations", "duration", "target_ci", "min_time", "max_time", "max_samples",
         "min_samples")  # fmt: skip


def measure(
    fn: Callable[[], object],
    *,
    warmup: _control.Warmup = "auto",
    iterations: int | None = None,
    duration: float | None = None,
    target_ci: float = 0.01,
    min_time: float = _control.DEFAULT_MIN_TIME,
    max_time: float | None = None,
    max_samples: int = 10_000_000,
    min_samples: int = 30,
    cpus: Iterable[int] | str | None = None,
    percentiles: Iterable[float] = (50.0, 90.0, 95.0, 99.0),
    percentile_method: str = "linear",
    batch_size: int = 1,
    _share: int = 1,
) -> Measurement:
    """Time ``fn()`` (no arguments) call by call, in this process (``ic.measure``, in
    ``_workers.measure``, runs it in fresh processes when it can).

    The loop runs in C++: one clock read before and one after each call, stored in a
    preallocated buffer; the GIL is held (``fn`` is Python).

    warmup: "auto" (until two consecutive windows' medians agree within 2%, at most 2 s or a
        quarter of max_time), a number of calls (int) or seconds (float). The curve is kept in
        ``warmup_ns``.
    iterations / duration: stop after that many timed calls / seconds. Otherwise the run is
        adaptive: it stops when the 95% CI of the median is within ``target_ci`` of it and the
        medians of the run's two halves agree (within 2%, or 2 x target_ci), after at least
        ``min_time`` and ``min_samples`` calls and at most ``max_time`` seconds (default 6 s,
        growing to at most 60 s to reach min_samples: stop reason "time_cap" beyond).
        ``drift`` reports how far the halves were apart.
    max_samples: the run stops after this many timed calls (stop reason "max_samples"), and
        a warm-up keeps at most as many: memory stays bounded (80 MB by default) for calls of
        a few nanoseconds. A count or time warm-up also ends at max_time (60 s without it).
    cpus: pin the calling thread to these CPUs (a list or text like "0-3") for the
        measurement; the previous mask is restored afterwards.
    percentiles / percentile_method: the percentiles ``stats`` reports, each with its
        distribution-free interval, read as numpy ("linear") or MLPerf LoadGen ("loadgen")
        does.
    batch_size: samples one call of fn processes (the run option of that name): gives
        ``throughput`` for the step and for each phase.

    Phases: ``with ic.phase(name):`` blocks and ``ic.mark(name)`` boundaries inside fn are
    recorded call by call with the same clock (tens of ns each) and summarized in
    ``phases``: per-call samples, statistics, share of the step, "(other)" for the time
    outside every top-level phase. Phases nest (a phase's time includes those inside it);
    outside measure they do nothing. See ``inferclock._timing.phases`` for the exact rules.

    The stopping arguments are the run options of the same names (``ic.run``), declared and
    checked once (``inferclock._timing.options``).

    An exception raised by ``fn`` propagates as itself, with a note giving the call number.
    Ctrl-C stops the loop promptly and raises KeyboardInterrupt.
    """
    if not callable(fn):
        raise ConfigTypeError(f"fn must be callable, got {type(fn).__name__}")
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise ConfigTypeError(
            "fn is a generator function: calling it only creates a generator; time "
            "lambda: list(fn()) (or whatever consumes it) instead"
        )
    if inspect.iscoroutinefunction(fn):
        raise ConfigTypeError(
            "fn is an async function: calling it only creates a coroutine; time "
            "lambda: asyncio.run(fn()) or a loop's run_until_complete instead"
        )
    rule, cpu_list, batch, pcts, method = check_options(
        warmup=warmup, iterations=iterations, duration=duration, target_ci=target_ci,
        min_time=min_time, max_time=max_time, max_samples=max_samples, min_samples=min_samples,
        cpus=cpus, percentiles=percentiles, percentile_method=percentile_method,
        batch_size=batch_size,
    )  # fmt: skip
    # The processes of one ic.measure share its default budget, as a cell's do (StopRule).
    rule = dataclasses.replace(rule, processes=max(1, int(_share)))
    clk = clock()
    migrations = 0
    recorder = _phases.Recorder()

    def sample(n: int, budget_s: float) -> tuple[npt.NDArray[np.int64], bool]:
        nonlocal migrations
        buf = np.empty(n, dtype=np.int64)
        done, moved, exc = recorder.run(fn, buf, n)
        migrations += moved
        if exc is not None:
            if hasattr(exc, "add_note"):
                call = recorder.calls + recorder.dropped + 1
                exc.add_note(f"(raised by call #{call} of fn inside inferclock.measure)")
            raise exc
        return buf[:done], recorder.overflow is not None  # "interrupted": the log stopped it

    with _pinned_thread(cpu_list) as applied:
        driven = _control.drive(sample, rule)
    stop_reason: str = driven.stop_reason
    if recorder.overflow is not None:
        if driven.samples.size == 0:
            raise InferclockError(f"measure stopped before any timed call: {recorder.overflow}")
        stop_reason = "phase_overflow"
    samples_ns = clk.to_ns(driven.samples)
    return Measurement(
        samples_ns=samples_ns,
        warmup_ns=clk.to_ns(driven.warmup),
        stats=stats.summarize(samples_ns, percentiles=pcts, method=method),
        warmup_steady=driven.warmup_steady,
        drift=stats.drift(samples_ns),
        stop_reason=stop_reason,
        elapsed_s=driven.elapsed_s,
        migrations=migrations,
        cpus=applied,
        clock=clk.to_dict(),
        phases=recorder.finish(driven.samples, clk.to_ns, batch, pcts, method),
        batch_size=batch,
        dropped_calls=recorder.dropped,
    )
