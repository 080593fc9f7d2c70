"""``ic.run(..., backend="loadgen")``: MLPerf LoadGen drives inferclock's engine as its system
under test, in this process or in a fresh worker (pinned, isolated) like any run.

What runs where: LoadGen's own threads schedule and issue the queries and judge the run;
``_core.LoadgenSut`` (C++) is the SUT, so LoadGen's issue thread starts each sample on a free
infer request of the engine with no Python in between, and each completion callback reports
the sample to LoadGen in C++ (``loadgen_abi``) or, when the wheel's symbol table lacks the
entry point, through one Python call under the GIL. Python only builds LoadGen's settings,
calls ``StartTest`` (which releases the GIL until the run ends) and reads the logs. LoadGen's
logs go to ``loadgen_logs``; its summary is parsed into the row's ``loadgen`` field, beside
inferclock's own measurement of the same samples (issue to completion on the calibrated clock).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferclock import _core, stats
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._common.util import utc_now
from inferclock._platform import plugins as _plugins
from inferclock._platform.clock import clock
from inferclock._timing import precision as _precision
from inferclock._timing.engine import Phase, RunSpec, _int_or_none, _new_engine
from inferclock._timing.loadgen_log import SCENARIO_MODES, read_peak, read_summary
from inferclock._timing.result import InitTimes, RunResult

INSTALL_HINT = "backend 'loadgen' needs MLPerf LoadGen: pip install 'inferclock[loadgen]'"
#: Samples in LoadGen's query sample library (its indices do not pick inputs: the engine's
#: seeded input sets are bound to its requests).
SAMPLE_COUNT = 1024
#: The run's length when no duration is given (LoadGen's min_duration), seconds.
DEFAULT_DURATION = 10.0


def require_loadgen() -> None:
    """ConfigError naming the extra when ``mlperf_loadgen`` cannot be imported."""
    try:
        import mlperf_loadgen  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None


@dataclass(frozen=True)
class LoadgenSpec(RunSpec):
    """A RunSpec that LoadGen runs: a worker runs its ``execute`` like any spec's."""

    scenario: str = "server"
    loadgen_mode: str = "performance"
    log_dir: str = ""
    qps: float | None = None  # server: target; offline: expected; else unused
    latency_bound_ms: float | None = None  # server only
    percentile: float = 99.0  # server / multistream
    queries: int | None = None  # LoadGen's min_query_count
    completion: str = "auto"  # "auto": in C++ when the wheel allows; "python": always Python

    @classmethod
    def of(cls, spec: RunSpec, **fields: Any) -> LoadgenSpec:
        base = {f.name: getattr(spec, f.name) for f in dataclasses.fields(RunSpec)}
        return cls(**base, **fields)

    def execute(self, on_phase: Phase | None = None) -> RunResult:
        return execute_loadgen(self, on_phase)


def _estimate(engine: _core.Engine, scenario: str) -> float:
    """offline: samples per second of the async loop over ~0.5 s; singlestream/multistream:
    the median latency of 50 sync inferences, ns (what LoadGen sizes its schedule by)."""
    clk = clock()
    if scenario == "offline":
        engine.async_start()
        try:
            t0 = time.perf_counter()
            n = 0
            while time.perf_counter() - t0 < 0.5:
                lat, _end, _stop = engine.async_collect(max(1, engine.num_requests), 0.25)
                n += int(lat.size)
            return max(1.0, n / (time.perf_counter() - t0))
        finally:
            engine.async_stop()
    buf = np.empty(50, dtype=np.int64)
    done, _interrupted = engine.run_sync(buf, 0, 50)
    return float(np.median(clk.to_ns(buf[: max(1, done)])))


def _settings(lg: Any, spec: LoadgenSpec, engine: _core.Engine) -> Any:
    o = spec.options
    s = lg.TestSettings()
    s.scenario = {
        "server": lg.TestScenario.Server, "offline": lg.TestScenario.Offline,
        "singlestream": lg.TestScenario.SingleStream, "multistream": lg.TestScenario.MultiStream,
    }[spec.scenario]  # fmt: skip
    s.mode = (
        lg.TestMode.FindPeakPerformance
        if spec.loadgen_mode == "find_peak"
        else lg.TestMode.PerformanceOnly
    )
    duration = o.duration if o.duration is not None else DEFAULT_DURATION
    s.min_duration_ms = round(duration * 1000)
    # The run's seed (default 0, LoadGen's own default) draws LoadGen's schedule and sample
    # order too, as it draws inferclock's own server schedule: one seed, one realization.
    s.qsl_rng_seed = s.sample_index_rng_seed = s.schedule_rng_seed = o.seed
    if spec.queries is not None:
        s.min_query_count = spec.queries
    if spec.scenario == "server":
        assert spec.qps is not None  # checked by the caller
        s.server_target_qps = spec.qps
        if spec.latency_bound_ms is not None:
            s.server_target_latency_ns = round(spec.latency_bound_ms * 1e6)
        s.server_target_latency_percentile = spec.percentile / 100
    elif spec.scenario == "offline":
        # 1.5 x the measured rate: LoadGen sizes its one query by it, and a short estimate
        # reads low (a query too small ends before the minimum duration: INVALID).
        s.offline_expected_qps = spec.qps or 1.5 * _estimate(engine, "offline")
    elif spec.scenario == "singlestream":
        # 0.8 x the median: LoadGen then schedules enough queries for the whole min duration.
        s.single_stream_expected_latency_ns = max(1, int(0.8 * _estimate(engine, "singlestream")))
    else:
        per_query = int(s.multi_stream_samples_per_query)
        s.multi_stream_expected_latency_ns = max(
            1, int(0.8 * per_query * _estimate(engine, "multistream"))
        )
        s.multi_stream_target_latency_percentile = spec.percentile / 100
    return s


def _python_complete(lg: Any) -> Any:
    def complete(response_id: int) -> None:
        lg.QuerySamplesComplete([lg.QuerySampleResponse(response_id, 0, 0)])

    return complete


def execute_loadgen(spec: LoadgenSpec, on_phase: Phase | None = None) -> RunResult:
    """Compile ``spec``'s model, let LoadGen run its scenario against it, read LoadGen's
    summary and inferclock's own ticks into one RunResult (see the module docstring)."""
    try:
        import mlperf_loadgen as lg
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    from inferclock._workers.loadgen_abi import complete_address

    phase = on_phase or (lambda _name: None)
    _plugins.replay(spec.plugins, spec.plugins_xml)
    started_at = utc_now()
    phase("compile")
    engine = _new_engine(spec)
    init = dict(engine.init_times)
    o = spec.options
    if o.inputs is not None:
        for i, arrays in enumerate(o.inputs):
            for name, arr in arrays.items():
                engine.set_input(i, name, arr)
    config = engine.config()
    ops = engine.runtime_ops()
    mix = _precision.summarize(ops, spec.macs_by_name) if ops else None
    if mix is not None:
        _precision.verify(o.precision, mix, strict=o.strict)
    settings = _settings(lg, spec, engine)
    log_dir = Path(spec.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = lg.LogSettings()
    log.log_output.outdir = str(log_dir)
    log.log_output.copy_summary_to_stdout = False
    log.enable_trace = False
    address = complete_address(lg.__file__) if spec.completion == "auto" else None
    sut = _core.LoadgenSut(engine, address if address is not None else _python_complete(lg))
    qsl = lg.ConstructQSL(SAMPLE_COUNT, SAMPLE_COUNT, lambda _s: None, lambda _s: None)
    phase("measure")
    sut.begin()
    t0 = time.monotonic()
    try:
        lg.StartTestWithLogSettings(sut.handle, qsl, settings, log, "")
    finally:
        sut.finish()
        lg.DestroyQSL(qsl)
    elapsed = time.monotonic() - t0
    summary = read_summary(log_dir)
    if spec.loadgen_mode == "find_peak":
        summary.update(read_peak(log_dir))
    issued, _started, completed = (np.asarray(a, dtype=np.uint64) for a in sut.ticks())
    done = completed > 0
    clk = clock()
    latencies = clk.to_ns((completed[done] - issued[done]).astype(np.int64))
    if latencies.size == 0:
        raise InferclockError("the LoadGen run produced no completed sample")
    span_ns = int(clk.to_ns(int(completed[done].max()) - int(issued.min())))
    throughput = latencies.size * o.batch_size / (span_ns / 1e9) if span_ns > 0 else math.nan
    lat_stats = stats.summarize(latencies, percentiles=o.percentiles, method=o.percentile_method)
    n_issued = int(sut.issued)
    summary.update(
        backend="loadgen",
        loadgen_version=getattr(lg, "__version__", None) or _wheel_version(),
        log_dir=str(log_dir.resolve()),
        completion="direct" if address is not None else "python",
        complete_us_per_sample=sut.complete_ns_total / 1e3 / max(1, n_issued),
        issued=n_issued,
        issue_calls=int(sut.issue_calls),
        max_queued=int(sut.max_queued),
        dispatched=int(sut.dispatched),
        requested_mode=spec.loadgen_mode,
    )
    from inferclock._platform.environment import collect_env_vars

    requested = {
        **spec.requested,
        "mode": SCENARIO_MODES[spec.scenario],
        "qps": spec.qps,
        "latency_bound_ms": spec.latency_bound_ms,
        "queries": spec.queries,
        "percentile": spec.percentile,
    }
    return RunResult(
        model=spec.model_name, model_path=spec.model.path, model_sha256=spec.model.sha256,
        device=o.device, batch_size=o.batch_size, mode=SCENARIO_MODES[spec.scenario],
        precision_requested=o.precision, precision_executed=mix.executed if mix else None,
        precision_hint=config.get("INFERENCE_PRECISION_HINT"),
        precision_mix=mix.to_dict() if mix else None,
        samples_ns=latencies, warmup_ns=np.empty(0, np.int64), latency=lat_stats,
        throughput=throughput,
        init=InitTimes(
            read_ms=float(init["read_ms"]), reshape_ms=float(init["reshape_ms"]),
            compile_ms=float(init["compile_ms"]), first_infer_ms=float(init["first_infer_ms"]),
            cache=str(init["cache"]),
        ),
        config=config, inputs=list(engine.inputs), socket=o.socket,
        cpus=sorted(os.sched_getaffinity(0)) if o.pinned else None,
        streams=_int_or_none(config.get("NUM_STREAMS")),
        threads=_int_or_none(config.get("INFERENCE_NUM_THREADS")),
        requests=engine.num_requests, warmup_steady=None, drift=stats.drift(latencies),
        stop_reason="loadgen", interrupted=False, elapsed_s=elapsed, macs=spec.macs,
        started_at=started_at, finished_at=utc_now(), isolated=spec.isolated,
        stop_note=_note(summary), loadgen=summary, options=requested,
        env_vars=collect_env_vars(), env=spec.env or {},
    )  # fmt: skip


def _note(summary: dict[str, Any]) -> str | None:
    failed = [k for k, v in summary.get("constraints", {}).items() if v is False]
    if summary.get("result") == "VALID" or not failed:
        return None
    return "LoadGen: INVALID (" + ", ".join(f"{k} not satisfied" for k in failed) + ")"


def _wheel_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("mlcommons-loadgen")
    except metadata.PackageNotFoundError:
        return None
