"""``ic.run``: time OpenVINO inference of one model, in this process or a fresh worker."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferclock import _control, _core, _precision
from inferclock._engine import RunSpec, execute, properties_for
from inferclock._result import RunResult

MODES = ("latency", "throughput")
HINTS = ("auto", "none", "latency", "throughput", "cumulative_throughput")

_plugins: list[tuple[str, str]] = []
_plugins_xml: list[str] = []
_lock = threading.Lock()


def register_plugin(library_path: str | os.PathLike[str], device_name: str) -> None:
    """Register an external OpenVINO plugin (e.g. an FPGA runtime) under ``device_name``.

    The registration holds for later runs in this process and is replayed in worker
    processes. OpenVINO requires the device name to contain the plugin's own name.
    """
    path = os.fspath(library_path)
    _core.register_plugin(path, device_name)
    with _lock:
        _plugins.append((device_name, os.path.abspath(path)))


def register_plugins_xml(xml_path: str | os.PathLike[str]) -> None:
    """Register the plugins an OpenVINO plugins XML file lists."""
    path = os.path.abspath(os.fspath(xml_path))
    _core.register_plugins_xml(path)
    with _lock:
        _plugins_xml.append(path)


def devices() -> list[str]:
    """Devices OpenVINO lists here (AUTO, HETERO and MULTI combine them)."""
    return list(_core.available_devices())


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _positive_int(name: str, value: object, allow_none: bool = True) -> int | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or int(value) < 1:
        raise _core.ConfigError(f"{name} must be a positive integer or None, got {value!r}")
    return int(value)


def file_sha256(path: Path) -> str | None:
    """sha256 over a model's files (an IR's .xml and .bin together); None for a directory."""
    files = [path]
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        files.append(path.with_suffix(".bin"))
    if not path.is_file():
        return None
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def resolve_model(model: Any, tmpdir: str | None = None) -> tuple[str, Path]:
    """(name, path) of a model given as a path, a built-in name or an ``ov.Model``."""
    from inferclock import models

    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        if isinstance(model, str) and text in models.list():
            return text, models.path(text)
        p = Path(text)
        if not p.exists():
            raise _core.ModelError(
                f"model {text!r} is neither a file nor a built-in model; built-in models: "
                f"{', '.join(models.list())}"
            )
        return p.stem if p.is_file() else p.name, p.resolve()
    try:
        import openvino as ov
    except ImportError as e:  # pragma: no cover - openvino is a dependency
        raise _core.ModelError("openvino is needed to pass an ov.Model") from e
    if isinstance(model, ov.Model):
        # Handed to the C++ engine as an IR it reads back (read_ms then is that read).
        d = tmpdir or tempfile.mkdtemp(prefix="inferclock-model-")
        xml = Path(d) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=False)
        return model.get_friendly_name() or "model", xml
    kind = type(model).__name__
    raise TypeError(f"model must be a path, a built-in model name or an openvino.Model, got {kind}")


def _normalize_inputs(
    inputs: Any,
) -> list[dict[str, np.ndarray[Any, Any]]] | None:
    if inputs is None:
        return None
    sets = [inputs] if isinstance(inputs, Mapping) else list(inputs)
    if not sets:
        raise _core.ModelError("inputs must be a dict {input name: array} or a list of them")
    out = []
    for s in sets:
        if not isinstance(s, Mapping):
            raise _core.ModelError(
                f"each input set must be a dict {{input name: numpy array}}, got {type(s).__name__}"
            )
        out.append({str(k): np.ascontiguousarray(v) for k, v in s.items()})
    return out


def prepare(
    model: Any,
    device: str = "CPU",
    batch_size: int = 1,
    precision: str = "f32",
    mode: str = "latency",
    warmup: _control.Warmup = "auto",
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
    min_time: float = _control.DEFAULT_MIN_TIME,
    max_time: float | None = None,
    hint: str = "auto",
    strict: bool = True,
    properties: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    input_sets: int = 4,
    calibration: Iterable[Any] | None = None,
    isolate: bool | None = None,
    workdir: str | None = None,
) -> RunSpec:
    """Validate ``run``'s arguments and resolve the model into a :class:`RunSpec`.

    Everything that can be rejected is rejected here, before any timing: bad arguments, a
    missing model, an unknown device. int8 quantization (cached) happens here too. An
    ``ov.Model`` is saved as IR under ``workdir`` (which must outlive the run).
    """
    rule = _control.make_rule(warmup, iterations, duration, target_ci, min_time, max_time)
    if not isinstance(device, str) or not device.strip():
        raise _core.DeviceError(f"device must be a non-empty string like 'CPU', got {device!r}")
    if not _is_int(batch_size) or int(batch_size) < 1:
        raise _core.ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    if mode not in MODES:
        raise _core.ConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if not isinstance(hint, str) or hint.lower() not in HINTS:
        raise _core.ConfigError(f"unknown hint {hint!r}; choose one of: {', '.join(HINTS)}")
    _precision.check_precision(precision)
    streams_i = _positive_int("streams", streams)
    threads_i = _positive_int("threads", threads)
    requests_i = _positive_int("requests", requests)
    input_sets_i = _positive_int("input_sets", input_sets, allow_none=False)
    if socket is not None and cpus is not None:
        raise _core.PinningError("give socket or cpus, not both")
    if socket is not None and (not _is_int(socket) or int(socket) < 0):
        raise _core.PinningError(f"socket must be a non-negative integer, got {socket!r}")
    cpu_list: tuple[int, ...] | None = None
    if cpus is not None:
        from inferclock._topology import parse_cpulist

        cpu_list = tuple(parse_cpulist(cpus) if isinstance(cpus, str) else (int(c) for c in cpus))
        if not cpu_list:
            raise _core.PinningError("cpus must name at least one CPU")
    shapes_d = {str(k): [int(d) for d in v] for k, v in (shapes or {}).items()}
    user_inputs = _normalize_inputs(inputs)

    name, path = resolve_model(model, workdir)
    _core.check_device(device)
    if precision == "int8":
        from inferclock import _int8

        if not _int8.is_quantized(path):
            # Calibrated at batch 1 whatever the run's batch: the IR keeps its dynamic batch,
            # so one quantized model (one cache entry) serves every batch size of a sweep.
            path = _int8.quantize(
                path, calibration=calibration, seed=seed, shapes=shapes_d or None, batch_size=1
            )
    macs, macs_by_name = _macs(path, int(batch_size), shapes_d)
    props = properties_for(mode, precision, hint.lower(), streams_i, threads_i, properties)
    pinned = socket is not None or cpu_list is not None
    isolated = bool(isolate) if isolate is not None else pinned
    if pinned and not isolated:
        raise _core.PinningError(
            "a pinned run must run in a fresh process (OpenVINO reads the CPU mask once): "
            "leave isolate unset"
        )
    from inferclock._environment import environment

    return RunSpec(
        model_name=name,
        model_path=str(path),
        model_sha256=file_sha256(Path(path)),
        device=device,
        batch_size=int(batch_size),
        precision=precision,
        mode=mode,
        rule=rule,
        properties=props,
        shapes=shapes_d,
        requests=requests_i or (1 if mode == "latency" else 0),
        input_sets=int(input_sets_i or 4),
        seed=int(seed),
        cache_dir=os.fspath(cache_dir) if cache_dir else "",
        strict=strict,
        socket=None if socket is None else int(socket),
        cpus=cpu_list,
        streams=streams_i,
        threads=threads_i,
        inputs=user_inputs,
        macs=macs,
        macs_by_name=macs_by_name,
        plugins=tuple(_plugins),
        plugins_xml=tuple(_plugins_xml),
        isolated=isolated,
        env=environment(),
    )


def run(
    model: Any,
    device: str = "CPU",
    batch_size: int = 1,
    precision: str = "f32",
    mode: str = "latency",
    warmup: _control.Warmup = "auto",
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
    min_time: float = _control.DEFAULT_MIN_TIME,
    max_time: float | None = None,
    hint: str = "auto",
    strict: bool = True,
    properties: Mapping[str, Any] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    input_sets: int = 4,
    calibration: Iterable[Any] | None = None,
    isolate: bool | None = None,
    timeout: float | None = None,
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
    warmup / iterations / duration / target_ci / min_time / max_time: as ``ic.measure``.
    socket / cpus: pin the process that runs OpenVINO. OpenVINO reads the process affinity
        once, so a pinned run (or ``isolate=True``) runs in a fresh worker process, pinned
        before OpenVINO starts there; the mask applied is in ``result.cpus``.
    streams / threads: NUM_STREAMS / INFERENCE_NUM_THREADS; ``hint``: "auto" (LATENCY or
        THROUGHPUT by mode), "none", or a PERFORMANCE_HINT value; ``properties``: any other
        compile properties (plugin-specific ones pass through).
    shapes: {input name: dims} for inputs with dynamic dimensions besides the batch.
    inputs: {input name: array} or a list of such dicts (rotated); otherwise ``input_sets``
        seeded random sets are generated.
    Ctrl-C ends the run within about a second with a partial result (``interrupted=True``).
    """
    with tempfile.TemporaryDirectory(prefix="inferclock-run-") as workdir:
        spec = prepare(
            model,
            device,
            batch_size,
            precision,
            mode,
            warmup,
            iterations,
            duration,
            target_ci,
            socket,
            cpus,
            streams,
            threads,
            requests,
            shapes,
            inputs,
            seed,
            min_time=min_time,
            max_time=max_time,
            hint=hint,
            strict=strict,
            properties=properties,
            cache_dir=cache_dir,
            input_sets=input_sets,
            calibration=calibration,
            isolate=isolate,
            workdir=workdir,
        )
        if spec.isolated:
            from inferclock._worker import run_in_worker

            return run_in_worker(spec, timeout=timeout)
        return execute(spec)


def _macs(
    path: Path, batch: int, shapes: dict[str, list[int]]
) -> tuple[int | None, dict[str, int] | None]:
    """MACs per inference at this batch and per op (for the precision summary); None if the
    model cannot be counted (e.g. other dynamic dims)."""
    from inferclock import models

    try:
        by_op = models.macs_by_op(str(path), batch, shapes=shapes or None)
    except Exception:  # counting is a nicety: never fail a run on it
        return None, None
    total = sum(op.macs for op in by_op.values())
    return (total or None), {k: op.macs for k, op in by_op.items()}


__all__ = [
    "MODES",
    "devices",
    "prepare",
    "register_plugin",
    "register_plugins_xml",
    "resolve_model",
    "run",
]
