"""One measurement in this process with the C++ engine: the RunSpec a run is made from, and
``execute`` that compiles, warms up and times it (pinning, if any, is applied already).

This is the module a worker process needs to time a cell: it imports the engine, the
stopping rules and statistics, never the sweep, the reports or the comparisons.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _core, stats
from inferclock._common import intervals as _intervals
from inferclock._common.errors import InferclockError
from inferclock._common.util import utc_now
from inferclock._platform import plugins as _plugins
from inferclock._platform.clock import clock
from inferclock._timing import (
    control as _control,
    multistream as _multistream,
    precision as _precision,
    serve as _serve,
)
from inferclock._timing.load_checks import OPEN_LOOP
from inferclock._timing.modelinfo import ModelFacts
from inferclock._timing.options import RunOptions
from inferclock._timing.result import InitTimes, RunResult
from inferclock._timing.serve import ServerStats

#: Longest a throughput collection waits before looking at Ctrl-C and the clock again.
_COLLECT_SLICE_S = 0.25

Phase = Callable[[str], None]


@dataclass(frozen=True)
class RunSpec:
    """Everything a run needs, checked and resolved in the parent; picklable for a worker."""

    model: ModelFacts  # the model the engine reads (for int8: the quantized one)
    model_name: str  # the name rows and reports use
    options: RunOptions  # checked; calibration dropped once used
    requested: dict[str, Any]  # the options as row fields, made before anything was dropped
    rule: _control.StopRule
    properties: dict[str, str]  # compile properties: hint, precision, streams, threads, extra
    cache_dir: str  # OpenVINO's model cache; "" = off
    macs: int | None = None
    macs_by_name: dict[str, int] | None = None
    plugins: tuple[tuple[str, str], ...] = ()
    plugins_xml: tuple[str, ...] = ()
    env: dict[str, Any] | None = None  # the parent's machine fingerprint

    def execute(self, on_phase: Phase | None = None) -> Any:
        """The job a worker runs for this spec: time it (a RunResult). A subclass may do
        other work with the same spec (``_profiling.run.ProfileSpec`` profiles it)."""
        return execute(self, on_phase)

    @property
    def isolated(self) -> bool:
        return self.options.isolated


def properties_for(opts: RunOptions) -> dict[str, str]:
    """Compile properties: performance hint by mode, precision hint, streams, threads, extras."""
    props: dict[str, str] = {}
    if opts.hint == "auto":
        # One request in flight; multistream's samples run side by side, one request each.
        one = opts.mode == "latency" or (opts.mode == "multistream" and opts.samples_per_query == 1)
        props["PERFORMANCE_HINT"] = "LATENCY" if one else "THROUGHPUT"
    elif opts.hint != "none":
        props["PERFORMANCE_HINT"] = opts.hint.upper()
    props.update(_precision.compile_properties(opts.precision))
    if opts.streams is not None:
        props["NUM_STREAMS"] = str(opts.streams)
    if opts.threads is not None:
        props["INFERENCE_NUM_THREADS"] = str(opts.threads)
    props.update(opts.properties or {})
    return props


def _latency_sampler(engine: _core.Engine) -> _control.Sampler:
    def sample(n: int, budget_s: float) -> tuple[npt.NDArray[np.int64], bool]:
        buf = np.empty(n, dtype=np.int64)
        try:
            done, interrupted = engine.run_sync(buf, 0, n)
        except InferclockError as e:  # keep what the loop timed before the error
            e.partial_ticks = buf[: e.done or 0]  # type: ignore[attr-defined]
            raise
        return buf[:done], interrupted

    return sample


class _AsyncSampler:
    """Hands out completions of the free-running async loop exactly n at a time (completion
    order); completions beyond n wait in a backlog for the next call."""

    def __init__(self, engine: _core.Engine) -> None:
        self.engine = engine
        self.granule = max(1, engine.num_requests)
        self.lat_backlog = np.empty(0, np.int64)
        self.end_backlog = np.empty(0, np.uint64)
        self.ends: list[npt.NDArray[np.uint64]] = []  # end ticks of what was handed out

    def __call__(self, n: int, budget_s: float) -> tuple[npt.NDArray[np.int64], bool]:
        lats, ends = [self.lat_backlog], [self.end_backlog]
        have = int(self.lat_backlog.size)
        interrupted = False
        deadline = time.monotonic() + budget_s
        # Past the budget, hand out what came, in whole rounds of the requests (a window of a
        # partial round would count one stream's work twice or not at all): the rate estimate
        # that sized n was off.
        floor = min(n, self.granule)
        while have < n and not (have >= floor and time.monotonic() > deadline):
            try:
                lat, end, interrupted = self.engine.async_collect(n - have, _COLLECT_SLICE_S)
            except InferclockError as e:  # keep the completions collected before the error
                lat = np.empty(0, np.int64) if e.latency_ticks is None else e.latency_ticks
                end = np.empty(0, np.uint64) if e.end_ticks is None else e.end_ticks
                self.ends.append(np.concatenate([*ends, end]))
                e.partial_ticks = np.concatenate([*lats, lat])  # type: ignore[attr-defined]
                raise
            lats.append(lat)
            ends.append(end)
            have += int(lat.size)
            if interrupted:
                break
        lat_all, end_all = np.concatenate(lats), np.concatenate(ends)
        if have < n and not interrupted:  # cut by the budget: whole rounds only
            n = max(floor, have // self.granule * self.granule)
        self.lat_backlog, self.end_backlog = lat_all[n:], end_all[n:]
        self.ends.append(end_all[:n])
        return lat_all[:n], interrupted


def _new_engine(spec: RunSpec) -> _core.Engine:
    o = spec.options
    return _core.Engine(
        spec.model.path,
        o.device,
        o.batch_size,
        {k: list(v) for k, v in (o.shapes or {}).items()},
        spec.properties,
        spec.cache_dir,
        o.requests or _default_requests(o),
        o.input_sets if o.inputs is None else max(1, len(o.inputs)),
        o.seed,
    )


def _default_requests(o: RunOptions) -> int:
    """Infer requests when none are asked: one for latency, one per sample of a multistream
    query (they start together), the compiled model's optimum (0) otherwise."""
    if o.mode == "multistream":
        return o.samples_per_query or _multistream.SAMPLES_PER_QUERY
    return 1 if o.mode == "latency" else 0


def execute(spec: RunSpec, on_phase: Phase | None = None) -> RunResult:
    """Compile, warm up and time ``spec`` here.

    ``on_phase`` hears "compile" before OpenVINO reads the model and "measure" before the
    timed phase (a supervisor uses it to know whether a Ctrl-C can still give a partial
    result). An engine error in the timed phase is raised with the samples timed before it:
    the exception's ``partial_result`` is a RunResult with ``stop_reason="error"``.
    """
    phase = on_phase or (lambda _name: None)
    _plugins.replay(spec.plugins, spec.plugins_xml)
    started = utc_now()
    phase("compile")
    engine = _new_engine(spec)
    init = dict(engine.init_times)
    if spec.cache_dir and init["cache"] == "cold":
        # The cell's other processes will import this compile from the cache, and an imported
        # executable can run at another speed than a fresh compile (2x for a MatMul chain
        # sharing one weight): time the imported one here too, so that a cell never mixes the
        # two. The start-up times stay the cold compile's (compile_cache "cold").
        del engine
        engine = _new_engine(spec)
    if spec.options.inputs is not None:
        for i, arrays in enumerate(spec.options.inputs):
            for name, arr in arrays.items():
                engine.set_input(i, name, arr)
        # The cold first inference ran on generated data; time it again on the user's.
        init["first_infer_ms"] = engine.first_inference()
    config = engine.config()
    ops = engine.runtime_ops()
    summary = _precision.summarize(ops, spec.macs_by_name) if ops else None
    if summary is not None:
        _precision.verify(spec.options.precision, summary, strict=spec.options.strict)

    o = spec.options
    # One Ctrl-C stops every loop of this run, between its chunks too, and every other run's
    # in other threads (interrupt.hpp); the main thread's run returns a partial result.
    with _core.InterruptScope():
        phase("measure")  # inside: a Ctrl-C from here on ends the run with what it timed
        t = _timed_open(engine, o) if o.mode in OPEN_LOOP else _timed_closed(engine, spec)
    latencies = t.latencies
    lat_stats = (
        stats.summarize(latencies, percentiles=o.percentiles, method=o.percentile_method)
        if latencies.size
        else stats.empty()
    )
    throughput, tp_low, tp_high = t.rate if t.rate is not None else (math.nan, None, None)
    from inferclock._platform.environment import collect_env_vars

    result = RunResult(
        model=spec.model_name,
        model_path=spec.model.path,
        model_sha256=spec.model.sha256,
        device=spec.options.device,
        batch_size=spec.options.batch_size,
        mode=spec.options.mode,
        precision_requested=spec.options.precision,
        precision_executed=summary.executed if summary else None,
        precision_hint=config.get("INFERENCE_PRECISION_HINT"),
        precision_mix=summary.to_dict() if summary else None,
        samples_ns=latencies,
        warmup_ns=t.warmup,
        latency=lat_stats,
        throughput=throughput,
        throughput_ci=(tp_low, tp_high),
        init=InitTimes(
            read_ms=float(init["read_ms"]),
            reshape_ms=float(init["reshape_ms"]),
            compile_ms=float(init["compile_ms"]),
            first_infer_ms=float(init["first_infer_ms"]),
            cache=str(init["cache"]),
        ),
        config=config,
        inputs=list(engine.inputs),
        socket=spec.options.socket,
        cpus=sorted(os.sched_getaffinity(0)) if spec.options.pinned else None,
        streams=_int_or_none(config.get("NUM_STREAMS")),
        threads=_int_or_none(config.get("INFERENCE_NUM_THREADS")),
        requests=t.requests,
        warmup_steady=t.warmup_steady,
        drift=stats.drift(latencies),
        stop_reason=t.stop_reason,
        stop_note=t.stop_note,
        async_lost=t.async_lost,
        async_stalls=t.async_stalls,
        interrupted=t.stop_reason == "interrupted",
        elapsed_s=t.elapsed_s,
        server=t.server,
        macs=spec.macs,
        started_at=started,
        finished_at=utc_now(),
        isolated=spec.isolated,
        options=spec.requested,
        env_vars=collect_env_vars(),
        env=spec.env or {},
    )
    if t.error is not None:
        t.error.partial_result = result  # type: ignore[attr-defined]
        raise t.error
    return result


@dataclass
class _Timed:
    """The timed phase's outcome, closed loop or open."""

    latencies: npt.NDArray[np.int64]  # ns
    warmup: npt.NDArray[np.int64]  # ns
    warmup_steady: bool | None
    stop_reason: str
    stop_note: str | None
    elapsed_s: float
    rate: tuple[float, float | None, float | None] | None  # samples/s and its interval
    requests: int
    error: BaseException | None = None
    server: ServerStats | None = None
    async_lost: int | None = None  # the async loop's lost completions and stalls (else None)
    async_stalls: int | None = None


def _timed_closed(engine: _core.Engine, spec: RunSpec) -> _Timed:
    """Latency (sync loop) or throughput (async loop) until the stopping rule says."""
    clk, o = clock(), spec.options
    async_sampler: _AsyncSampler | None = None
    if o.mode == "latency":
        driven = _control.drive(_latency_sampler(engine), spec.rule, on_interrupt="partial")
    else:
        async_sampler = _AsyncSampler(engine)
        engine.async_start()
        try:
            driven = _control.drive(
                async_sampler, spec.rule, on_interrupt="partial", granule=engine.num_requests
            )
        finally:
            engine.async_stop()
    latencies = clk.to_ns(driven.samples)
    if latencies.size == 0 and driven.stop_reason not in ("interrupted", "error"):
        raise InferclockError("the run produced no timed inference")
    note = _control.stop_note(spec.rule, driven, 0.95)
    lost = stalls = None
    if async_sampler is None:  # back-to-back calls: the window is the sum of the latencies
        ends = np.cumsum(latencies, dtype=np.float64)
        rate = _intervals.rate_interval(ends, o.batch_size) if latencies.size else None
    else:
        rate, counted = _window_rate(async_sampler, driven, o.batch_size, engine)
        lost, stalls = int(engine.async_lost), int(engine.async_stalls)
        busy = int(engine.async_busy_waits)
        note = "; ".join(filter(None, (note, async_note(lost, counted, stalls, busy)))) or None
    return _Timed(
        latencies=latencies, warmup=clk.to_ns(driven.warmup), warmup_steady=driven.warmup_steady,
        stop_reason=driven.stop_reason, stop_note=note, elapsed_s=driven.elapsed_s, rate=rate,
        requests=1 if async_sampler is None else engine.num_requests, error=driven.error,
        async_lost=lost, async_stalls=stalls,
    )  # fmt: skip


def async_note(lost: int, counted: int, stalls: int, busy: int = 0) -> str | None:
    """The stop note's words on the async loop's accounting, or None when nothing went astray:
    completions OpenVINO finished without calling back (``counted`` of them in the throughput
    window), waits of a request on a full completion ring, and starts OpenVINO refused as
    busy (waited out and retried: the run goes on, but the user should know)."""
    notes = []
    if lost:
        notes.append(
            f"{lost} async completion{'s' * (lost != 1)} came back without a callback (lost: "
            "untimed, no latency sample, the request idle until taken back, so throughput may "
            f"read low; {counted} counted in throughput, in its window)"
        )
    if stalls:
        notes.append(
            f"requests waited {stalls} time{'s' * (stalls != 1)} on a full completion ring "
            "(stalls: idle meanwhile, so throughput may read low)"
        )
    if busy:
        notes.append(
            f"OpenVINO refused {busy} start{'s' * (busy != 1)} as busy (Infer Request is busy: "
            "the request not yet released); each was waited out and started again"
        )
    return "; ".join(notes) or None


def _timed_open(engine: _core.Engine, o: RunOptions) -> _Timed:
    """The schedule of a server or multistream run; latency is from each query's due time."""
    t0 = time.monotonic()
    driver = _multistream if o.mode == "multistream" else _serve
    server, latencies, interrupted = driver.serve(engine, o)
    reason = (
        "interrupted" if interrupted
        else "max_async_queries" if server.runaway
        else "max_samples" if server.capped
        else "schedule"
    )  # fmt: skip
    if server.completed == 0 and reason == "schedule":
        raise InferclockError("the run produced no timed inference")
    rate = server.achieved_qps * o.batch_size * (server.samples_per_query or 1)
    cut = server.runaway or server.capped
    note = server.verdict_reason if server.verdict or cut else None
    return _Timed(
        latencies=latencies, warmup=np.empty(0, np.int64), warmup_steady=None,
        stop_reason=reason, stop_note=note,
        elapsed_s=time.monotonic() - t0, rate=(rate, None, None),
        requests=engine.num_requests, server=server,
    )  # fmt: skip


def _window_rate(
    sampler: _AsyncSampler, driven: _control.Driven, batch: int, engine: _core.Engine
) -> tuple[tuple[float, float | None, float | None] | None, int]:
    """Samples completed in the steady window over its length, with its batch-means interval,
    and how many lost completions that counts: the window opens at the last warm-up
    completion (or the start of the loop) and closes at the last timed completion; a lost
    completion counts where the collector took it back inside it (its own end came at or
    before that); sub-windows hold whole rounds of the requests."""
    if not sampler.ends or driven.samples.size == 0:
        return None, 0
    ends = np.concatenate(sampler.ends)
    nw = int(driven.warmup.size)
    n = int(driven.samples.size)
    if ends.size < nw + n:  # an error cut the hand-out short
        return None, 0
    opened = int(ends[nw - 1]) if nw > 0 else int(engine.async_start_tick)
    timed = ends[nw : nw + n]
    lost = np.asarray(engine.async_lost_ticks, dtype=np.uint64)
    lost = lost[(lost > opened) & (lost <= timed[-1])]
    ticks = np.sort(np.concatenate([timed, lost])).astype(np.int64) - opened
    since = clock().to_ns(ticks).astype(np.float64)
    if since[-1] <= 0:
        return None, 0
    rate = _intervals.rate_interval(since, batch, granule=max(1, engine.num_requests))
    return rate, int(lost.size)


def _int_or_none(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None
