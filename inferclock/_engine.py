"""Run one measurement in this process with the C++ engine (latency or throughput)."""

from __future__ import annotations

import datetime
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _control, _core, _precision, stats
from inferclock._clock import clock
from inferclock._result import InitTimes, RunResult

#: Longest a throughput collection waits before looking at Ctrl-C and the clock again.
_COLLECT_SLICE_S = 0.25


@dataclass(frozen=True)
class RunSpec:
    """Validated arguments of one run; picklable, so a worker process can take it."""

    model_name: str
    model_path: str
    model_sha256: str | None
    device: str
    batch_size: int
    precision: str
    mode: str
    rule: _control.StopRule
    properties: dict[str, str]
    shapes: dict[str, list[int]]
    requests: int  # 0 = the compiled model's optimum
    input_sets: int
    seed: int
    cache_dir: str
    strict: bool
    socket: int | None = None
    cpus: tuple[int, ...] | None = None
    streams: int | None = None
    threads: int | None = None
    inputs: list[dict[str, npt.NDArray[Any]]] | None = None
    macs: int | None = None
    macs_by_name: dict[str, int] | None = None
    plugins: tuple[tuple[str, str], ...] = ()
    plugins_xml: tuple[str, ...] = ()
    isolated: bool = False
    env: dict[str, Any] = field(default_factory=dict)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _latency_sampler(engine: _core.Engine) -> _control.Sampler:
    def sample(n: int, budget_s: float) -> tuple[npt.NDArray[np.int64], bool]:
        buf = np.empty(n, dtype=np.int64)
        done, interrupted = engine.run_sync(buf, 0, n)
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
            lat, end, interrupted = self.engine.async_collect(n - have, _COLLECT_SLICE_S)
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


def execute(spec: RunSpec) -> RunResult:
    """Compile, warm up and time ``spec`` here (pinning, if any, is already applied)."""
    for name, lib in spec.plugins:
        _core.register_plugin(lib, name)
    for xml in spec.plugins_xml:
        _core.register_plugins_xml(xml)
    started = _now()
    clk = clock()
    engine = _core.Engine(
        spec.model_path,
        spec.device,
        spec.batch_size,
        spec.shapes,
        spec.properties,
        spec.cache_dir,
        spec.requests,
        spec.input_sets if spec.inputs is None else max(1, len(spec.inputs)),
        spec.seed,
    )
    init = dict(engine.init_times)
    if spec.inputs is not None:
        for i, arrays in enumerate(spec.inputs):
            for name, arr in arrays.items():
                engine.set_input(i, name, arr)
        # The cold first inference ran on generated data; time it again on the user's.
        init["first_infer_ms"] = engine.first_inference()
    config = engine.config()
    ops = engine.runtime_ops()
    summary = _precision.summarize(ops, spec.macs_by_name) if ops else None
    if summary is not None:
        _precision.verify(spec.precision, summary, strict=spec.strict)

    if spec.mode == "latency":
        sampler: _control.Sampler = _latency_sampler(engine)
        driven = _control.drive(sampler, spec.rule, on_interrupt="partial")
        requests = 1
    else:
        async_sampler = _AsyncSampler(engine)
        engine.async_start()
        try:
            driven = _control.drive(
                async_sampler, spec.rule, on_interrupt="partial", granule=engine.num_requests
            )
        finally:
            engine.async_stop()
        requests = engine.num_requests
    was_interrupted = driven.stop_reason == "interrupted"
    latencies = clk.to_ns(driven.samples)
    if latencies.size == 0:
        if was_interrupted:
            latencies = np.empty(0, np.int64)
        else:
            raise _core.InferclockError("the run produced no timed inference")
    lat_stats = (
        stats.summarize(latencies)
        if latencies.size
        else stats.Stats(0, *(math.nan,) * 10, (math.nan, math.nan))
    )
    if spec.mode == "latency":
        throughput = spec.batch_size * 1e9 / lat_stats.mean_ns if latencies.size else math.nan
    else:
        throughput = _window_throughput(async_sampler, driven, spec.batch_size, engine)
    n_req = requests if spec.mode == "throughput" else 1
    return RunResult(
        model=spec.model_name,
        model_path=spec.model_path,
        model_sha256=spec.model_sha256,
        device=spec.device,
        batch_size=spec.batch_size,
        mode=spec.mode,
        precision_requested=spec.precision,
        precision_executed=summary.executed if summary else None,
        precision_hint=config.get("INFERENCE_PRECISION_HINT"),
        precision_mix=summary.to_dict() if summary else None,
        latencies_ns=latencies,
        warmup_ns=clk.to_ns(driven.warmup),
        latency=lat_stats,
        throughput=throughput,
        init=InitTimes(
            read_ms=float(init["read_ms"]),
            reshape_ms=float(init["reshape_ms"]),
            compile_ms=float(init["compile_ms"]),
            first_infer_ms=float(init["first_infer_ms"]),
            cache=str(init["cache"]),
        ),
        config=config,
        inputs=list(engine.inputs),
        socket=spec.socket,
        cpus=sorted(os.sched_getaffinity(0)) if spec.cpus or spec.socket is not None else None,
        streams=_int_or_none(config.get("NUM_STREAMS")),
        threads=_int_or_none(config.get("INFERENCE_NUM_THREADS")),
        requests=n_req,
        warmup_steady=driven.warmup_steady,
        drift=stats.drift(latencies),
        stop_reason="interrupted" if was_interrupted else driven.stop_reason,
        interrupted=was_interrupted,
        elapsed_s=driven.elapsed_s,
        macs=spec.macs,
        started_at=started,
        finished_at=_now(),
        isolated=spec.isolated,
        env=spec.env,
    )


def _window_throughput(
    sampler: _AsyncSampler, driven: _control.Driven, batch: int, engine: _core.Engine
) -> float:
    """Samples completed in the steady window over its length: the window opens at the last
    warm-up completion (or the start of the loop) and closes at the last timed completion."""
    if not sampler.ends or driven.samples.size == 0:
        return math.nan
    ends = np.concatenate(sampler.ends)
    nw = int(driven.warmup.size)
    n = int(driven.samples.size)
    opened = int(ends[nw - 1]) if nw > 0 else int(engine.async_start_tick)
    closed = int(ends[nw + n - 1])
    window_ns = clock().to_ns(closed - opened)
    return n * batch * 1e9 / window_ns if window_ns > 0 else math.nan


def _int_or_none(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


def properties_for(
    mode: str,
    precision: str,
    hint: str,
    streams: int | None,
    threads: int | None,
    extra: Mapping[str, Any] | None,
) -> dict[str, str]:
    """Compile properties: performance hint by mode, precision hint, streams, threads, extras."""
    props: dict[str, str] = {}
    if hint == "auto":
        props["PERFORMANCE_HINT"] = "LATENCY" if mode == "latency" else "THROUGHPUT"
    elif hint != "none":
        props["PERFORMANCE_HINT"] = hint.upper()
    props.update(_precision.compile_properties(precision))
    if streams is not None:
        props["NUM_STREAMS"] = str(streams)
    if threads is not None:
        props["INFERENCE_NUM_THREADS"] = str(threads)
    for k, v in (extra or {}).items():
        props[str(k)] = (
            v if isinstance(v, str) else str(v).upper() if isinstance(v, bool) else str(v)
        )
    return props
