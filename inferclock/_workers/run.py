"""``ic.run`` and ``ic.prepare``: check a run's options, resolve its model, and time it here or
in a fresh worker process.

The options are declared once in ``_timing.options.RunOptions``; ``run``'s keyword parameters mirror
that declaration for IDEs and ``help()`` (a test keeps them equal) and go to it unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from inferclock import _core
from inferclock._common.errors import ConfigError
from inferclock._platform import plugins as _plugins
from inferclock._timing import control as _control, serve as _serve
from inferclock._timing.engine import RunSpec, execute, properties_for
from inferclock._timing.load_checks import OPEN_LOOP
from inferclock._timing.loadgen_log import LOADGEN_PARAMS
from inferclock._timing.modelinfo import ModelBook, ModelFacts
from inferclock._timing.options import MODES, RunOptions, make
from inferclock._timing.result import RunResult


def spec_for(
    facts: ModelFacts,
    opts: RunOptions,
    book: ModelBook,
    *,
    cache_dir: str | None = None,
    env: dict[str, Any] | None = None,
    quantize: bool = True,
) -> RunSpec:
    """The RunSpec of checked options on a model whose facts are known (int8: quantized here,
    once per model and cached, unless not ``quantize``: a cluster host does it; MACs counted
    once per model and batch)."""
    model = facts
    if opts.mode in OPEN_LOOP:  # the query queue must fit: refused here, before any compile
        _serve.check_queue(opts)
    if opts.precision == "int8" and quantize:
        model = book.int8(facts, calibration=opts.calibration, seed=opts.seed, shapes=opts.shapes)
    shapes = book.shapes_for(facts, opts.shapes, opts.batch_size)
    macs, macs_by_name = book.macs(model, opts.batch_size, shapes)
    plugins, plugins_xml = _plugins.registered()
    requested = opts.to_row()
    cache = opts.cache_dir if cache_dir is None else cache_dir
    return RunSpec(
        model=model,
        model_name=facts.name,
        # The worker needs neither the calibration data nor other models' shapes.
        options=opts.replace(calibration=None, shapes=shapes or None),
        requested={**requested, "cache_dir": cache or None},
        rule=_control.rule_of(opts),
        properties=properties_for(opts),
        cache_dir=cache or "",
        macs=macs,
        macs_by_name=macs_by_name,
        plugins=plugins,
        plugins_xml=plugins_xml,
        env=env,
    )


def prepare(
    model: Any, options: RunOptions | None = None, /, *, workdir: str | None = None, **kwargs: Any
) -> RunSpec:
    """Check ``run``'s arguments and resolve the model into a :class:`RunSpec`, before any
    timing: bad arguments, a missing model, an unknown device are refused here; int8
    quantization (cached) happens here. Pass checked ``options`` or ``run``'s keyword
    arguments. An ``ov.Model`` is saved as IR under ``workdir`` (which must outlive the run;
    default: a new temporary folder that is left in place).
    """
    opts = options if options is not None else make(RunOptions, kwargs, "run")
    # Not closed: the caller starts the run later, so an ov.Model's IR must outlive this call.
    return _prepare(model, opts, ModelBook(workdir))


def _prepare(model: Any, opts: RunOptions, book: ModelBook) -> RunSpec:
    # A child forked after OpenVINO ran in its parent would hang in it: refused at once, unless
    # the run is isolated (its worker is a fresh process; the device is checked there).
    forked = _core.forked_from() != 0
    if forked and not opts.isolated:
        _core.check_not_forked()
    facts = book.add(model)
    book.check_shapes([facts], opts.shapes)
    if not forked:
        _plugins.check_devices([opts.device])
    from inferclock._platform.environment import environment

    return spec_for(facts, opts, book, env=environment())


def run(
    model: Any,
    device: str = "CPU",
    batch_size: int = 1,
    precision: str = "f32",
    mode: str = "latency",
    warmup: str | int | float = "auto",
    iterations: int | None = None,
    duration: float | None = None,
    target_ci: float = 0.01,
    socket: int | None = None,
    cpus: Iterable[int] | str | None = None,
    streams: int | None = None,
    threads: int | None = None,
    requests: int | None = None,
    shapes: Mapping[str, Sequence[int]] | None = None,
    inputs: Any = None,
    seed: int = 0,
    *,
    min_time: float = 0.2,
    max_time: float | None = None,
    max_samples: int = 10_000_000,
    min_samples: int = 30,
    percentiles: Iterable[float] = (50.0, 90.0, 95.0, 99.0),
    percentile_method: str = "linear",
    processes: int = 1,
    hint: str = "auto",
    strict: bool = True,
    properties: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    input_sets: int = 4,
    calibration: Iterable[Any] | None = None,
    isolate: bool | None = None,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    qps: float | None = None,
    queries: int | None = None,
    arrival: str | None = None,
    latency_bound_ms: float | None = None,
    percentile: float = 99.0,
    samples_per_query: int | None = None,
    max_async_queries: int = 0,
    issuer_nice: int = 0,
    backend: str = "inferclock",
    scenario: str | None = None,
    loadgen_mode: str = "performance",
    loadgen_logs: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Time inference of ``model`` on ``device``.

    model: a path OpenVINO reads (IR .xml, .onnx, .tflite, PaddlePaddle, TF), a built-in model
        name (``ic.models.list()``) or an ``openvino.Model``.
    mode: "latency" (one request, sync ``infer()`` in a loop; the clock is read around each
        call) or "throughput" (``requests`` async requests, default the compiled model's
        optimum, each restarted from its completion callback; throughput counts samples
        completed in the steady window).
    precision: "f32", "bf16", "f16" (inference precision hint, always set explicitly), "int8"
        (NNCF post-training quantization, calibrated on seeded random inputs or
        ``calibration``) or "default". The executed precision is read back from the runtime
        model; with ``strict=True`` a mismatch raises PrecisionError.
    warmup / iterations / duration / target_ci / min_time / max_time / max_samples /
        min_samples: as ``ic.measure``. The adaptive stop (no iterations or duration) needs
        ``min_samples`` before its CI may end the run; without ``max_time`` its 6 s budget
        grows for them up to 60 s (stop reason "time_cap" past that; ``stop_note`` says so);
        a cell of k ``processes`` shares both between them (6 / k s each, up to 60 / k).
    percentiles / percentile_method: the latency percentiles reported, each with its
        distribution-free interval (``result.latency.percentiles``); "linear" (numpy's) or
        "loadgen" (the order statistic MLPerf LoadGen reports). Stored in every row.
    processes: time the cell in that many fresh worker processes, one after another; the
        result pools their samples, and its median and throughput intervals combine the
        variation within and between them (``process_runs`` holds each; ``multimodal`` says
        whether they fall into separate speed modes, ``_analysis.stability.modes``).
    socket / cpus: pin the process that runs OpenVINO. OpenVINO reads the process affinity
        once, so a pinned run (or ``isolate=True``, or ``env``) runs in a fresh worker process,
        pinned before OpenVINO starts there; the mask applied is in ``result.cpus``.
    streams / threads: NUM_STREAMS / INFERENCE_NUM_THREADS; ``hint``: "auto" (LATENCY or
        THROUGHPUT by mode), "none", or a PERFORMANCE_HINT value; ``properties``: any other
        compile properties (plugin-specific ones pass through).
    shapes: {input name: dims} for inputs with dynamic dimensions besides the batch; the batch
        dimension there is -1 (taken from batch_size) or equal to batch_size.
    inputs: {input name: array} or a list of such dicts (rotated); otherwise ``input_sets``
        seeded random sets are generated.
    timeout: seconds a worker run may take, start-up included, before it is killed
        (WorkerCrash, kind "timeout"); default 600 s plus twice the planned timing
        (``duration`` or ``max_time``); ``math.inf``: no limit.
    env: environment variables set in the worker process (OMP_*, KMP_*, TBB_*, OV_*,
        MALLOC_*...); the run is isolated. Every result records the variables of that kind
        it ran with (``env_vars``).
    mode "server" (MLPerf LoadGen's Server scenario): queries arrive at ``qps`` per second
        (``arrival`` "poisson", exponential gaps from ``seed``, or "constant") for
        ``duration`` seconds (default 10) or ``queries``; a C++ issuer thread starts each on
        a free request at its due time, queued FIFO while all are busy. ``latency`` is then
        from each query's due time; ``result.server`` holds latency from the issue, the
        issue delay, the queue over time and, with ``latency_bound_ms``, the verdict
        (``result.verdict``: VALID when the whole schedule ran, the ``percentile`` of
        due-time latency is within the bound and LoadGen's early stopping passes).
        ``max_async_queries`` (LoadGen's, 0: none) stops taking queries up once more are
        outstanding: INVALID, its figures cover the prefix taken up. Mode "multistream"
        (LoadGen 6.0): a query of ``samples_per_query`` samples (default 8, one infer request
        each) is issued when the previous one completed, until ``queries`` were issued and
        ``duration`` passed; latency is per query. ``issuer_nice`` (< 0, opt-in) asks for a
        nice value for the issuer thread; by default its priority is the process's.
    backend "loadgen" (``pip install 'inferclock[loadgen]'``): MLPerf LoadGen runs ``scenario``
        ("server", "offline", "singlestream", "multistream") with inferclock's engine as its
        system under test (``loadgen_mode`` "find_peak": LoadGen's FindPeakPerformance, server
        only); its logs go to ``loadgen_logs`` (default: a new folder under ./mlperf_logs),
        its summary to ``result.loadgen`` and the row's ``loadgen``; ``latency`` is then
        inferclock's own measurement of the same samples, from issue to completion
        (docs/loadgen.md).
    Every option is declared, with its check, once in ``inferclock._timing.options.RunOptions``.

    Ctrl-C ends the run within about a second with a partial result (``interrupted=True``);
    in a worker still starting or compiling it stops the worker and raises KeyboardInterrupt.
    One Ctrl-C ends every run timing in the process, in every thread; the main thread, when not
    timing itself, gets the KeyboardInterrupt. In a child forked after OpenVINO ran in its
    parent, a run not isolated is refused at once (ConfigError: use the spawn start method or
    ``isolate=True``): OpenVINO's threads do not survive a fork.
    An engine error in the timed phase raises with the samples timed before it, as the
    exception's ``partial_result``.
    """
    given = {k: v for k, v in locals().items() if k != "model"}
    if backend != "inferclock" or scenario is not None:
        return run_loadgen(
            model,
            {k: v for k, v in given.items() if k not in LOADGEN_PARAMS},
            backend=backend,
            scenario=scenario,
            loadgen_mode=loadgen_mode,
            loadgen_logs=loadgen_logs,
        )
    if loadgen_mode != "performance" or loadgen_logs is not None:
        raise ConfigError("loadgen_mode and loadgen_logs apply to backend 'loadgen'")
    opts = RunOptions(**{k: v for k, v in given.items() if k not in LOADGEN_PARAMS})
    with ModelBook() as book:
        spec = _prepare(model, opts, book)
        if opts.isolated:
            from inferclock._workers.supervisor import run_isolated

            if opts.processes == 1:
                return checked(run_isolated(spec))
            results = []
            for _ in range(opts.processes):
                results.append(run_isolated(spec))
                if results[-1].interrupted:  # Ctrl-C: pool what was timed
                    break
            from inferclock._analysis.cell import pooled

            return checked(pooled(results))
        return checked(execute(spec))


def run_loadgen(
    model: Any,
    given: dict[str, Any],
    *,
    backend: Any,
    scenario: Any,
    loadgen_mode: Any = "performance",
    loadgen_logs: Any = None,
    completion: str = "auto",
) -> RunResult:
    """``ic.run(model, **given, backend="loadgen", scenario=...)``: the arguments checked
    (``loadgen_run.plan``), the model resolved, the ``LoadgenSpec`` run here or in a fresh
    worker (pinned or isolated runs) as any spec (docs/loadgen.md)."""
    from inferclock._workers.loadgen_backend import LoadgenSpec
    from inferclock._workers.loadgen_run import plan

    opts, fields = plan(
        given, backend=backend, scenario=scenario, loadgen_mode=loadgen_mode,
        loadgen_logs=loadgen_logs, completion=completion,
    )  # fmt: skip
    with ModelBook() as book:
        spec = LoadgenSpec.of(_prepare(model, opts, book), **fields)
        if opts.isolated:
            from inferclock._workers.supervisor import isolated

            result: RunResult = isolated(spec)
        else:
            result = spec.execute()
    return checked(result)


def checked(result: RunResult) -> RunResult:
    """``result`` with its ``instability`` (``_analysis.stability``), warned about."""
    import dataclasses
    import warnings

    from inferclock._analysis import stability

    s = result.latency
    why = stability.reasons(s.n, s.cv, s.min_ns, s.median_ns, result.multimodal_note)
    if why:
        text = stability.warning_text(f"the run of {result.model}", why)
        warnings.warn(text, stability.InstabilityWarning, stacklevel=3)
    return dataclasses.replace(result, instability=why)


__all__ = ["MODES", "prepare", "run", "spec_for"]
