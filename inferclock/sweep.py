"""``ic.sweep``: every cell of a grid in a fresh worker process, each row kept as it finishes.

A *cell* is one (model, device, precision, batch size, mode, socket); its key is
``"model|device|precision|batch|mode|socket"`` (socket ``-`` when unpinned). A cell runs in
``processes`` fresh worker processes (row field ``process``), each timing it ``repeats`` times
(row field ``repeat``), so a results file holds one row per (key, process, repeat).

What a sweep promises:

* Everything is validated before any work: the grid, the models (paths, built-in names), the
  devices, the output path; every cell's run arguments go through ``prepare`` (int8 models are
  quantized once per model here, calibrated at batch 1, and cached on disk).
* A worker that crashes (segfault, SIGKILL), hangs past ``cell_timeout`` or raises an error
  becomes an error row (``error``, ``error_kind``) and the sweep goes on.
* Rows are appended (flushed, fsynced) as each run finishes, never rewritten. With
  ``resume=True`` runs already in the file are skipped; rows with an error or an interrupted
  measurement are retried (the old row stays, the new one is appended). A torn last line is
  skipped and its run redone.
* Workers run in their own session, so Ctrl-C in the terminal reaches only the sweep: the
  first stops after the current cell, a second kills the running worker at once (its run is
  not recorded). Finished rows stay; the sweep raises :class:`SweepInterrupted` (a
  KeyboardInterrupt) carrying the table and a hint how to resume.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from inferclock import _core, _precision, _progress, _worker
from inferclock._engine import RunSpec
from inferclock._result import RunResult
from inferclock._run import MODES, prepare, resolve_model
from inferclock.results import ResultTable, ResultWriter, check_output_path, load_file

__all__ = ["RUN_OPTIONS", "Cell", "SweepInterrupted", "cell_key", "sweep"]

#: Keyword arguments of ``ic.run`` a sweep passes through to every cell.
RUN_OPTIONS = frozenset(
    {
        "warmup", "iterations", "duration", "target_ci", "min_time", "max_time", "cpus",
        "streams", "threads", "requests", "shapes", "inputs", "hint", "strict", "properties",
        "cache_dir", "input_sets", "calibration",
    }
)  # fmt: skip

#: Fields every row carries; an error row has them too (measurement fields null).
_MEASUREMENT_FIELDS = (
    "precision_executed", "precision_hint", "precision_mix", "cpus", "streams", "threads",
    "requests", "n", "warmup_n", "warmup_steady", "stop_reason", "latency_min_ns",
    "latency_mean_ns", "latency_median_ns", "latency_p90_ns", "latency_p95_ns", "latency_p99_ns",
    "latency_max_ns", "latency_stdev_ns", "latency_mad_ns", "latency_cv", "latency_ci95_low_ns",
    "latency_ci95_high_ns", "throughput_fps", "read_ms", "reshape_ms", "compile_ms",
    "first_infer_ms", "compile_cache", "macs", "gflops", "config", "inputs", "interrupted",
    "duration_s", "raw_latencies",
)  # fmt: skip

_POLL_S = 0.05  # how often the parent looks at its worker, the clock and Ctrl-C


def cell_key(
    model: str, device: str, precision: str, batch_size: int, mode: str, socket: int | None
) -> str:
    """The key naming a cell in results files: ``"resnet50|CPU|f32|1|latency|-"``."""
    return f"{model}|{device}|{precision}|{batch_size}|{mode}|{'-' if socket is None else socket}"


@dataclass(frozen=True)
class Cell:
    """One point of the grid."""

    model: str  # name (built-in name or file stem)
    model_path: str
    device: str
    precision: str
    batch_size: int
    mode: str
    socket: int | None

    @property
    def key(self) -> str:
        return cell_key(
            self.model, self.device, self.precision, self.batch_size, self.mode, self.socket
        )


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a sweep early. Every finished row is in the file; ``table`` holds them
    and ``hint`` says how to resume."""

    def __init__(self, table: ResultTable, done: int, total: int, hint: str) -> None:
        super().__init__(hint)
        self.table = table
        self.done = done
        self.total = total
        self.hint = hint


@dataclass(frozen=True)
class _Unit:
    """One worker process: a cell's runs in process ``process`` (repeat indices to do)."""

    cell: Cell
    spec: RunSpec
    process: int
    repeats: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.cell.key} p{self.process}"


# ---------------------------------------------------------------- validation


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _axis(name: str, value: Any, *, single: tuple[type, ...] = (str, os.PathLike)) -> list[Any]:
    """A non-empty list from a sequence (or a single value) without duplicates."""
    items = [value] if isinstance(value, single) or value is None else list(value)
    if not items:
        raise _core.ConfigError(f"{name} is empty: give at least one value")
    seen: list[Any] = []
    for item in items:
        if item in seen:
            raise _core.ConfigError(
                f"duplicate cells: {name} lists {item!r} twice ({items!r}); give each value once"
            )
        seen.append(item)
    return items


def _positive_int(name: str, value: Any) -> int:
    if not _is_int(value) or int(value) < 1:
        raise _core.ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_devices(devices: list[Any]) -> list[str]:
    for d in devices:
        if not isinstance(d, str) or not d.strip():
            raise _core.DeviceError(f"device must be a non-empty string like 'CPU', got {d!r}")
        _core.check_device(d)
    return devices


def _check_sockets(sockets: list[Any]) -> list[int | None]:
    present: tuple[int, ...] | None = None
    for s in sockets:
        if s is None:
            continue
        if not _is_int(s) or int(s) < 0:
            raise _core.PinningError(f"socket must be None or a non-negative integer, got {s!r}")
        if present is None:
            from inferclock._topology import topology

            present = tuple(topology().sockets)
        if int(s) not in present:
            raise _core.PinningError(
                f"socket {s} is not present here; sockets with allowed CPUs: "
                f"{', '.join(map(str, present)) or 'none'}"
            )
    return [None if s is None else int(s) for s in sockets]


def _check_writable(path: Path) -> None:
    """Probe the directory with a real file: root passes ``os.access`` on read-only
    directories, and a read-only mount says no only when written to."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".inferclock-probe-", dir=path.parent)
    except OSError as e:
        raise _core.ConfigError(
            f"results file {str(path)!r}: cannot write in directory {str(path.parent)!r} ({e})"
        ) from None
    os.close(fd)
    os.unlink(probe)


def _jsonable(value: Any) -> Any:
    """Sweep arguments for the header: JSON scalars as they are, anything else described."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if len(value) > 64 or any(isinstance(v, np.ndarray) for v in value):
            return f"<{type(value).__name__} of {len(value)} items>"
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return f"<array {value.dtype} {list(value.shape)}>"
    return f"<{type(value).__name__}>"


# ---------------------------------------------------------------- rows


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _raw_name(key: str, process: int, repeat: int) -> str:
    # Readable and unique: the sanitized key plus a hash of the real key (two keys may
    # sanitize alike).
    safe = re.sub(r"[^A-Za-z0-9.+=-]+", "_", key).strip("_")
    return f"{safe}.{zlib.crc32(key.encode()):08x}.p{process}.r{repeat}.npy"


def _save_raw(out: Path, key: str, process: int, repeat: int, lat: np.ndarray[Any, Any]) -> str:
    raw_dir = out.parent / f"{out.stem}.raw"
    raw_dir.mkdir(exist_ok=True)
    final = raw_dir / _raw_name(key, process, repeat)
    tmp = final.with_name(final.name + ".tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.asarray(lat, dtype=np.int64), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)  # a row never names a torn .npy
    return os.path.relpath(final, out.parent)


def _result_row(cell: Cell, result: RunResult, process: int, repeat: int) -> dict[str, Any]:
    row: dict[str, Any] = {"key": cell.key}
    row.update(result.to_dict())
    row["model"] = cell.model
    row["process"] = process
    row["repeat"] = repeat
    row["raw_latencies"] = None
    return row


def _error_row(unit: _Unit, repeat: int, message: str, kind: str, started: str) -> dict[str, Any]:
    c, spec = unit.cell, unit.spec
    row: dict[str, Any] = {
        "key": c.key,
        "model": c.model,
        "model_path": spec.model_path,
        "model_sha256": spec.model_sha256,
        "device": c.device,
        "precision_requested": c.precision,
        "batch_size": c.batch_size,
        "mode": c.mode,
        "socket": c.socket,
        "process": unit.process,
        "repeat": repeat,
    }
    row.update(dict.fromkeys(_MEASUREMENT_FIELDS))
    row.update(
        {
            "isolated": True,
            "started_at": started,
            "finished_at": _now(),
            "error": message,
            "error_kind": kind,
        }
    )
    return row


def _done_runs(rows: Iterable[Mapping[str, Any]]) -> set[tuple[str, int, int]]:
    """(key, process, repeat) of the runs a resume can skip: measured, not interrupted."""
    done: set[tuple[str, int, int]] = set()
    for r in rows:
        if r.get("error") is None and not r.get("interrupted"):
            p, rep = r.get("process", 0), r.get("repeat", 0)
            if _is_int(p) and _is_int(rep):
                done.add((str(r["key"]), int(p), int(rep)))
    return done


# ---------------------------------------------------------------- Ctrl-C


class _Interrupts:
    """Counts Ctrl-C presses while installed (main thread only; elsewhere none arrive)."""

    def __init__(self) -> None:
        self.count = 0

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1

    @contextmanager
    def installed(self) -> Iterator[_Interrupts]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


# ---------------------------------------------------------------- the runner


class _Runner:
    def __init__(
        self,
        writer: ResultWriter,
        progress: _progress.Progress,
        interrupts: _Interrupts,
        cell_timeout: float | None,
        save_raw: bool,
    ) -> None:
        self.writer = writer
        self.progress = progress
        self.interrupts = interrupts
        self.cell_timeout = cell_timeout
        self.save_raw = save_raw
        self.written = 0
        self.failed = 0
        self.aborted = False  # a second Ctrl-C killed a worker
        self._announced = False

    def _announce(self) -> None:
        if self.interrupts.count and not self._announced:
            self._announced = True
            self.progress.note(
                "Ctrl-C: stopping after the current cell (press Ctrl-C again to stop at once)"
            )

    def _write(self, row: dict[str, Any]) -> None:
        self.writer.append(row)
        self.written += 1
        failed = row.get("error") is not None
        self.failed += int(failed)
        self.progress.advance(failed)
        if failed:
            self.progress.note(
                f"{row['key']} p{row['process']} r{row['repeat']}: "
                f"{row['error_kind']}: {_first_line(row['error'])}"
            )

    def _collect(self, unit: _Unit, repeat: int, path: Path, started: str) -> None:
        # The worker's warnings (precision, pinning) go into the row, not to the warnings
        # machinery: under `-W error` they would otherwise turn a measurement into an error.
        result: RunResult | None = None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = _worker.read_outcome(path)
                row = _result_row(unit.cell, result, unit.process, repeat)
            except _worker.WorkerCrash as e:
                row = _error_row(unit, repeat, str(e), e.kind, started)
            except Exception as e:  # the worker's own error, re-raised by read_outcome
                row = _error_row(unit, repeat, str(e), type(e).__name__, started)
        notes = [f"{w.category.__name__}: {w.message}" for w in caught]
        row["warnings"] = notes or None
        for note in notes:
            self.progress.note(f"{unit.label}: {note}")
        if result is not None and self.save_raw and result.latencies_ns.size:
            row["raw_latencies"] = _save_raw(
                self.writer.path, unit.cell.key, unit.process, repeat, result.latencies_ns
            )
        self._write(row)

    def run(self, unit: _Unit) -> None:
        """Run one worker to the end (or its timeout, or a second Ctrl-C), writing its rows."""
        self.progress.running(unit.label)
        with tempfile.TemporaryDirectory(prefix="inferclock-sweep-") as d:
            started = _now()
            proc, out, err = _worker.start(
                unit.spec, Path(d), new_session=True, repeats=len(unit.repeats)
            )
            try:
                self._follow(unit, proc, out, err, started)
            finally:
                if proc.poll() is None:  # an exception here: never leave a worker behind
                    proc.kill()
                    proc.wait()

    def _follow(
        self,
        unit: _Unit,
        proc: subprocess.Popen[bytes],
        out: Path,
        err: Path,
        started: str,
    ) -> None:
        i = 0  # next run of this worker to collect
        deadline = None if self.cell_timeout is None else time.monotonic() + self.cell_timeout
        while i < len(unit.repeats):
            self._announce()
            path = _worker.outcome_path(out, i)
            if path.exists():
                self._collect(unit, unit.repeats[i], path, started)
                i += 1
                started = _now()
                if deadline is not None:
                    deadline = time.monotonic() + float(self.cell_timeout or 0)
                continue
            if proc.poll() is not None:
                if path.exists():  # written just before the exit
                    continue
                break
            if self.interrupts.count >= 2:
                proc.kill()
                proc.wait()
                self.aborted = True
                self.progress.note(f"{unit.label}: killed by a second Ctrl-C (not recorded)")
                return
            if deadline is not None and time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                for r in unit.repeats[i:]:
                    self._write(
                        _error_row(
                            unit, r,
                            f"the run took longer than cell_timeout={self.cell_timeout} s "
                            "and its worker was killed",
                            "timeout", started,
                        )
                    )  # fmt: skip
                return
            try:
                proc.wait(timeout=_POLL_S)
            except subprocess.TimeoutExpired:
                pass
        if i == len(unit.repeats):
            proc.wait()
            return
        # The worker ended without the outcome of run i: a crash. finish() names it.
        try:
            _worker.finish(proc, _worker.outcome_path(out, i), err)
            message, kind = "the worker process exited without a result", "crash (no result)"
        except _worker.WorkerCrash as e:
            message, kind = str(e), e.kind
        except Exception as e:  # pragma: no cover - finish only raises WorkerCrash here
            message, kind = str(e), type(e).__name__
        for r in unit.repeats[i:]:
            self._write(_error_row(unit, r, message, kind, started))


def _first_line(text: Any) -> str:
    s = str(text).strip().splitlines()
    return s[0][:200] if s else ""


# ---------------------------------------------------------------- sweep()


def sweep(
    models: Any,
    precisions: Sequence[str] | str = ("f32",),
    batch_sizes: Sequence[int] | int = (1,),
    devices: Sequence[str] | str = ("CPU",),
    modes: Sequence[str] | str = ("latency",),
    sockets: Sequence[int | None] | int | None = (None,),
    repeats: int = 1,
    processes: int = 1,
    shuffle: bool = True,
    out: str | os.PathLike[str] = "results.jsonl",
    resume: bool = True,
    cell_timeout: float | None = 600.0,
    quiet: bool | None = None,
    save_raw: bool = False,
    seed: int = 0,
    **run_kwargs: Any,
) -> ResultTable:
    """Measure every cell of models x devices x precisions x batch_sizes x modes x sockets.

    models: paths (IR .xml, .onnx, ...), built-in names (``ic.models.list()``) or
        ``openvino.Model`` objects; one value or a list. Names must be unique (a model's name
        is its built-in name or file stem).
    precisions / batch_sizes / devices / modes / sockets: the grid axes (a single value or a
        list; no duplicates). ``sockets=(None,)`` leaves the worker unpinned.
    processes: fresh worker processes per cell (row field ``process``): the spread between
        processes shows up in ``ResultTable.summary()``. ``repeats``: runs per process (row
        field ``repeat``), one after another in the same worker.
    shuffle: run the (cell, process) units in a seeded random order (``seed``) to spread
        drift over the grid instead of onto one model.
    out: the JSON Lines results file. A new file starts with a header (format version,
        environment, these arguments); an existing one is appended to when ``resume`` is
        true, which skips runs already in it (error and interrupted rows are retried).
        ``resume=False`` refuses an existing non-empty file rather than mixing two sweeps.
    cell_timeout: seconds one run may take in its worker (start-up included) before the
        worker is killed and an error row ("timeout") written; None for no limit.
    quiet: no progress display; default: quiet when stderr is not a terminal.
    save_raw: also write each run's per-inference latencies (ns, int64 .npy) into
        ``<out stem>.raw/``; the row's ``raw_latencies`` is that path relative to ``out``.
    run_kwargs: passed to every run as ``ic.run`` takes them (warmup, iterations, duration,
        target_ci, min_time, max_time, cpus, streams, threads, requests, shapes, inputs,
        hint, strict, properties, input_sets, calibration, cache_dir). ``cache_dir`` is
        OpenVINO's model cache; by default ``<out stem>.ovcache/`` beside the results, shared
        by all cells (each row says whether its compile was "cold" or "hot"); None turns it off.

    Returns a :class:`ResultTable` of this sweep's cells as the file now holds them (rows of
    earlier resumed runs included). Ctrl-C raises :class:`SweepInterrupted` after the current
    cell (at once on a second Ctrl-C) with every finished row kept.
    """
    t_start = time.monotonic()
    # ---- validate everything before any work
    unknown = sorted(set(run_kwargs) - RUN_OPTIONS)
    if unknown:
        raise _core.ConfigError(
            f"sweep: unknown argument(s) {', '.join(unknown)}; run options are "
            f"{', '.join(sorted(RUN_OPTIONS))}"
        )
    try:
        import openvino as ov

        single: tuple[type, ...] = (str, os.PathLike, ov.Model)
    except ImportError:  # pragma: no cover - openvino is a dependency
        single = (str, os.PathLike)
    model_list = _axis("models", models, single=single) if models is not None else []
    if not model_list:
        raise _core.ConfigError(
            "models is empty: give at least one model path or built-in name (see ic.models.list())"
        )
    precision_list = [_precision.check_precision(p) for p in _axis("precisions", precisions)]
    batch_list = [
        _positive_int("batch_size", b)
        for b in _axis("batch_sizes", batch_sizes, single=(int, np.integer))
    ]
    mode_list = _axis("modes", modes)
    for m in mode_list:
        if m not in MODES:
            raise _core.ConfigError(f"unknown mode {m!r}; choose from: {', '.join(MODES)}")
    device_list = _check_devices(_axis("devices", devices))
    socket_list = _check_sockets(_axis("sockets", sockets, single=(int, np.integer)))
    if run_kwargs.get("cpus") is not None and any(s is not None for s in socket_list):
        raise _core.PinningError("give sockets or cpus, not both")
    repeats = _positive_int("repeats", repeats)
    processes = _positive_int("processes", processes)
    if cell_timeout is not None and not (
        isinstance(cell_timeout, (int, float)) and math.isfinite(cell_timeout) and cell_timeout > 0
    ):
        raise _core.ConfigError(
            f"cell_timeout must be a positive number of seconds or None, got {cell_timeout!r}"
        )
    if not _is_int(seed):
        raise _core.ConfigError(f"seed must be an integer, got {seed!r}")

    out_path = check_output_path(out, "results file").absolute()
    _check_writable(out_path)
    existing = out_path.exists() and out_path.stat().st_size > 0
    if existing and not resume:
        raise _core.ConfigError(
            f"results file {str(out_path)!r} exists: pass resume=True (--resume) to continue "
            "it, or choose another path (rows are never overwritten)"
        )
    done = _done_runs(load_file(out_path).rows) if existing else set()

    workdir = tempfile.mkdtemp(prefix="inferclock-sweep-models-")  # ov.Model objects as IR
    try:
        resolved: list[tuple[str, Path]] = []
        for m in model_list:
            name, path = resolve_model(m, tempfile.mkdtemp(dir=workdir))
            for other, other_path in resolved:
                if other == name:
                    raise _core.ConfigError(
                        f"duplicate cells: two models are named {name!r} ({other_path} and "
                        f"{path}); cell keys use the name, so rename or copy one"
                    )
            resolved.append((name, path))
        cells = [
            Cell(name, str(path), d, p, b, mo, s)
            for name, path in resolved
            for d in device_list
            for p in precision_list
            for b in batch_list
            for mo in mode_list
            for s in socket_list
        ]
        pending = {
            c.key: [
                (proc, tuple(r for r in range(repeats) if (c.key, proc, r) not in done))
                for proc in range(processes)
            ]
            for c in cells
        }
        cache = run_kwargs.pop("cache_dir", "auto")
        if cache == "auto":
            cache = out_path.parent / f"{out_path.stem}.ovcache"
        progress = _progress.make(quiet)
        todo_cells = [c for c in cells if any(reps for _, reps in pending[c.key])]
        specs = _prepare_all(todo_cells, cache, seed, run_kwargs, progress)

        header = {
            "inferclock_version": _version(),
            "openvino_version": _openvino_version(),
            "environment": _environment(),
            "sweep": {
                "models": [n for n, _ in resolved],
                "model_paths": [str(p) for _, p in resolved],
                "precisions": precision_list,
                "batch_sizes": batch_list,
                "devices": device_list,
                "modes": mode_list,
                "sockets": socket_list,
                "repeats": repeats,
                "processes": processes,
                "shuffle": bool(shuffle),
                "seed": int(seed),
                "cell_timeout": cell_timeout,
                "save_raw": bool(save_raw),
                "cache_dir": str(cache) if cache else None,
                "run": {k: _jsonable(v) for k, v in sorted(run_kwargs.items())},
            },
        }
        writer = ResultWriter(out_path, header)
        units = [
            _Unit(c, specs[c.key], proc, reps)
            for c in todo_cells
            for proc, reps in pending[c.key]
            if reps
        ]
        if shuffle:
            random.Random(int(seed)).shuffle(units)
        total = sum(len(u.repeats) for u in units)
        skipped = len(cells) * processes * repeats - total
        if skipped:
            progress.note(
                f"resuming {out_path.name}: {skipped} run(s) already there, {total} to do"
            )
        interrupts = _Interrupts()
        runner = _Runner(writer, progress, interrupts, cell_timeout, save_raw)
        stopped = False
        progress.start(total)
        try:
            with interrupts.installed():
                for unit in units:
                    if interrupts.count:
                        break
                    runner.run(unit)
                stopped = interrupts.count > 0
        finally:
            progress.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    table = ResultTable.load(out_path).filter(key=[c.key for c in cells])
    if stopped:
        hint = (
            f"sweep interrupted: {runner.written} of {total} run(s) written to {out_path}; "
            f"{total - runner.written} left. Every finished row is kept: run the same sweep "
            "again with resume=True (the default; CLI: the same command) to do only the rest."
        )
        raise SweepInterrupted(table, runner.written, total, hint)
    if not isinstance(progress, _progress.Quiet):
        print(
            f"{runner.written} run(s) in {time.monotonic() - t_start:.1f} s, "
            f"{runner.failed} failed; results in {out_path}",
            file=sys.stderr,
        )
    return table


def _prepare_all(
    cells: Sequence[Cell],
    cache: Any,
    seed: int,
    run_kwargs: Mapping[str, Any],
    progress: _progress.Progress,
) -> dict[str, RunSpec]:
    """A validated RunSpec per cell (raises before any measurement). ``prepare`` quantizes an
    int8 model once (calibrated at batch 1, cached on disk) and reuses it for every batch."""
    kwargs = dict(run_kwargs)
    if kwargs.get("calibration") is not None:
        # An iterator would be used up by the first model.
        kwargs["calibration"] = list(kwargs["calibration"])
    shapes_of = _shapes_by_model(kwargs.pop("shapes", None), cells)
    announced: set[str] = set()
    specs: dict[str, RunSpec] = {}
    for c in cells:
        if c.precision == "int8" and c.model_path not in announced:
            announced.add(c.model_path)
            progress.note(f"int8: {c.model} is quantized with NNCF on first use (then cached)")
        spec = prepare(
            c.model_path,
            c.device,
            c.batch_size,
            c.precision,
            c.mode,
            socket=c.socket,
            seed=int(seed),
            cache_dir=cache or None,
            isolate=True,
            shapes=shapes_of.get(c.model_path),
            **kwargs,
        )
        specs[c.key] = dataclasses.replace(spec, model_name=c.model)
    return specs


def _shapes_by_model(
    shapes: Mapping[str, Sequence[int]] | None, cells: Sequence[Cell]
) -> dict[str, dict[str, list[int]]]:
    """Each model's part of ``shapes`` (one dict serves a sweep of several models); a name
    that is no model's input is an error, not silently dropped."""
    if not shapes:
        return {}
    import openvino as ov

    core = ov.Core()
    inputs: dict[str, set[str]] = {}
    for path in dict.fromkeys(c.model_path for c in cells):
        try:
            model = core.read_model(path)
        except RuntimeError as e:
            raise _core.ModelError(f"cannot read model {path!r}: {_first_line(e)}") from None
        names: set[str] = set()
        for port in model.inputs:
            names |= set(port.get_names())
            names.add(port.get_node().get_friendly_name())
        inputs[path] = names
    out: dict[str, dict[str, list[int]]] = {}
    for name, dims in shapes.items():
        owners = [p for p, names in inputs.items() if str(name) in names]
        if not owners:
            listing = "; ".join(
                f"{Path(p).stem}: {', '.join(sorted(n))}" for p, n in inputs.items()
            )
            raise _core.ConfigError(
                f"shapes names an input {name!r} that none of the models has (inputs: {listing})"
            )
        for p in owners:
            out.setdefault(p, {})[str(name)] = [int(d) for d in dims]
    return out


def _version() -> str:
    from inferclock import __version__

    return __version__


def _openvino_version() -> str | None:
    try:
        import openvino as ov

        return str(ov.get_version())
    except ImportError:  # pragma: no cover
        return None


def _environment() -> dict[str, Any]:
    from inferclock._environment import environment

    env: dict[str, Any] = json.loads(json.dumps(environment(), default=str))
    return env
