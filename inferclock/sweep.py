"""``ic.sweep``: every cell of a grid in a fresh worker process, each row kept as it finishes.

A cell (``_grid``) runs in ``processes`` fresh worker processes (row field ``process``), each
timing it ``repeats`` times (row field ``repeat``), so a results file holds one row per (key,
process, repeat). What a sweep promises:

* Everything is checked before any work, with the same checks as ``ic.run`` (the option
  declaration): the grid, the models (read once each, hashed once, MACs counted once per
  batch size), the devices (once each), the output path. int8 models are quantized once per
  model, calibrated at batch 1, and cached on disk.
* A worker that crashes (segfault, SIGKILL), hangs past its ``timeout`` or raises an error
  becomes an error row (``error``, ``error_kind``) with every field of a success row, and the
  sweep goes on.
* Rows are appended (flushed, fsynced) as each run finishes, never rewritten. With
  ``resume=True`` runs already in the file are skipped; rows with an error or an interrupted
  measurement are retried (the old row stays, the new one is appended). A torn last line is
  skipped and its run redone.
* Ctrl-C: the first stops after the current cell, a second kills the running worker at once
  (its run is not recorded). Finished rows stay; the sweep raises :class:`SweepInterrupted`
  (a KeyboardInterrupt) carrying the table and a hint how to resume.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from inferclock import _cell, _grid, _options, _plugins, _progress, _rows, _sweep_file
from inferclock._checks_load import OPEN_LOOP
from inferclock._errors import ConfigError, Terminated, WorkerCrash
from inferclock._jsonl import ResultWriter, check_output_path
from inferclock._modelinfo import ModelBook, ModelFacts
from inferclock._options import RunOptions, SweepOptions
from inferclock._run import spec_for
from inferclock._supervisor import CtrlC, Outcome, supervise
from inferclock._util import first_line
from inferclock.results import ResultTable

__all__ = ["SweepInterrupted", "sweep"]


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C ended a sweep early. Every finished row is in the file; ``table`` holds them
    and ``hint`` says how to resume."""

    def __init__(
        self, table: ResultTable, done: int, total: int, hint: str, terminated: bool = False
    ) -> None:
        super().__init__(hint)
        self.table = table
        self.done = done
        self.total = total
        self.hint = hint
        self.terminated = terminated  # by SIGTERM (the command line exits 143)


def sweep(
    models: Any,
    precisions: Sequence[str] | str = ("f32",),
    batch_sizes: Sequence[int] | int = (1,),
    devices: Sequence[str] | str = ("CPU",),
    modes: Sequence[str] | str = ("latency",),
    sockets: Sequence[int | None] | int | None = (None,),
    repeats: int = 1,
    processes: int = 3,
    shuffle: bool = True,
    out: str | os.PathLike[str] = "results.jsonl",
    resume: bool = True,
    force_resume: bool = False,
    save_raw: bool = False,
    quiet: bool | None = None,
    *,
    rates: Sequence[float | None] | float | None = (None,),
    cell_timeout: float | None = None,
    **run_options: Any,
) -> ResultTable:
    """Measure every cell of models x devices x precisions x batch_sizes x modes x sockets.

    models: paths (IR .xml, .onnx, ...), built-in names (``ic.models.list()``) or
        ``openvino.Model`` objects; one value or a list. Names must be unique (a model's name
        is its built-in name or file stem).
    precisions / batch_sizes / devices / modes / sockets: the grid axes (a single value or a
        list; no duplicates). ``sockets=(None,)`` leaves the worker unpinned.
    rates: offered rates (qps) for the "server" and "multistream" modes: each such mode runs
        once per rate (cell key ``...|server@200qps|...``), in one worker process (a verdict
        belongs to one schedule); other modes ignore the axis. The open-loop options (queries,
        arrival, latency_bound_ms, percentile) likewise apply to those cells only, and
        ``iterations`` and ``warmup`` to the others.
    processes: fresh worker processes per cell (default 3; row field ``process``). Small
        models on virtual machines change speed from one process to the next: a cell's
        interval (``ResultTable.summary()``, ``compare``) combines the variation within and
        between its processes, and a cell whose processes disagree beyond their own
        intervals is flagged ``multimodal`` (in its rows as they come, the summary and the
        report). ``repeats``: runs per process (row field ``repeat``), one after another in
        the same worker.
    shuffle: run the (cell, process) units in a seeded random order (``seed``).
    out: the JSON Lines results file. A new file starts with a header (format version,
        environment, these arguments); an existing one is appended to when ``resume`` is
        true, which skips runs already in it (error and interrupted rows are retried).
        ``resume=False`` refuses an existing non-empty file rather than mixing two sweeps.
        A resume whose grid or run options differ from the file's is refused, naming the
        differences, unless ``force_resume`` (the change is then recorded in the file). While
        a sweep writes the file it holds a lock on it: a second sweep on it is refused.
    save_raw: also write each run's per-inference latencies (ns, int64 .npy) into
        ``<out stem>.raw/``; the row's ``raw_latencies`` is that path relative to ``out``.
    quiet: no progress display; default: quiet when stderr is not a terminal.
    run_options: any other option of ``ic.run`` (warmup, iterations, duration, target_ci,
        min_time, max_time, max_samples, cpus, streams, threads, requests, shapes, inputs,
        seed, hint, strict, properties, cache_dir, input_sets, calibration, timeout, env,
        isolate), passed to every cell. ``cache_dir`` is OpenVINO's model cache; by default
        ``<out stem>.ovcache/`` beside the results, shared by all cells (each row says whether
        its compile was "cold" or "hot"); "" turns it off. ``timeout`` bounds each run in its
        worker, start-up included (``cell_timeout`` is its older name).

    Returns a :class:`ResultTable` of this sweep's cells as the file now holds them (rows of
    earlier resumed runs included). Ctrl-C raises :class:`SweepInterrupted` after the current
    cell (at once on a second Ctrl-C, or on SIGTERM: ``SweepInterrupted.terminated``) with
    every finished row kept.
    """
    t_start = time.monotonic()
    given_axes: dict[str, Any] = dict(precisions=precisions, batch_sizes=batch_sizes)
    given_axes.update(devices=devices, modes=modes, sockets=sockets, rates=rates)
    base, axes, served = _check(given_axes, {**run_options, "processes": processes}, cell_timeout)
    sw = _options.make(
        SweepOptions,
        dict(repeats=repeats, shuffle=shuffle, out=out, resume=resume,
             force_resume=force_resume, save_raw=save_raw, quiet=quiet),
        "sweep",
    )  # fmt: skip
    out_path = check_output_path(sw.out, "results file").absolute()
    _sweep_file.check_writable(out_path)
    if out_path.exists() and out_path.stat().st_size > 0 and not sw.resume:
        raise ConfigError(
            f"results file {str(out_path)!r} exists: pass resume=True (--resume) to continue "
            "it, or choose another path (rows are never overwritten)"
        )
    cache = base.cache_dir
    if "cache_dir" not in run_options:
        cache = str(out_path.parent / f"{out_path.stem}.ovcache")
    ctrl_c = CtrlC()
    with ctrl_c.installed(), ModelBook() as book:
        facts = _models(book, models, base)
        _plugins.check_devices(axes["devices"])
        grid = _grid.cells([f.name for f in facts], axes)
        progress = _progress.make(sw.quiet)
        from inferclock._environment import environment

        env = environment()  # once: every cell's fingerprint is this machine's
        header = _header(facts, axes, sw, base, cache, env, served)
        with _sweep_file.locked(out_path):
            earlier, writer = _sweep_file.open_results(out_path, header, sw.force_resume)
            todo = _grid.pending(grid, base.processes, sw.repeats, _rows.done_runs(earlier))
            by_name = {f.name: f for f in facts}
            specs = {}
            for c in grid:
                if not any(reps for _, reps in todo[c.key]):
                    continue
                if c.precision == "int8" and not by_name[c.model].quantized:
                    progress.note(f"int8: {c.model} is quantized with NNCF (then cached)")
                opts = base.replace(**c.options(served))
                specs[c.key] = spec_for(by_name[c.model], opts, book, cache_dir=cache, env=env)
            units = _grid.units(grid, specs, todo, sw.shuffle, base.seed)
            total = sum(len(u.repeats) for u in units)
            skipped = sum(c.processes(base.processes) for c in grid) * sw.repeats - total
            if skipped:
                progress.note(f"resuming {out_path.name}: {skipped} run(s) there, {total} to do")
            runner = _Runner(writer, progress, sw.save_raw, ctrl_c, earlier)
            progress.start(total)
            try:
                for unit in units:
                    if ctrl_c.count or runner.aborted:
                        break
                    runner.run(unit)
            except Terminated:
                runner.terminated = True
            finally:
                progress.close()

    table = ResultTable.load(out_path).filter(key=[c.key for c in grid])
    if ctrl_c.count or runner.terminated:
        how = "terminated (SIGTERM)" if runner.terminated else "interrupted"
        hint = (
            f"sweep {how}: {runner.written} of {total} run(s) written to {out_path}; "
            f"{total - runner.written} left. Every finished row is kept: run the same sweep "
            "again with resume=True (the default; CLI: the same command) to do only the rest."
        )
        raise SweepInterrupted(table, runner.written, total, hint, terminated=runner.terminated)
    if not isinstance(progress, _progress.Quiet):
        print(
            f"{runner.written} run(s) in {time.monotonic() - t_start:.1f} s, "
            f"{runner.failed} failed; results in {out_path}",
            file=sys.stderr,
        )
    return table


def _check(
    given_axes: dict[str, Any],
    run_options: dict[str, Any],
    cell_timeout: float | None,
) -> tuple[RunOptions, dict[str, list[Any]], dict[str, Any]]:
    """The sweep's run options and axes, checked as a single run's are."""
    singular = {o.name: a for a, o in _options.axes().items()}
    for name in sorted(set(run_options) & set(singular)):
        raise ConfigError(f"sweep takes {singular[name]}=[...] (a grid axis), not {name}=")
    if cell_timeout is not None:
        if "timeout" in run_options:
            raise ConfigError("give timeout or cell_timeout (its older name), not both")
        run_options = {**run_options, "timeout": cell_timeout}
    if run_options.get("isolate") is False:
        raise ConfigError("a sweep runs every cell in a fresh worker process: isolate=False")
    # The open-loop options go to the server / multistream cells only (see _grid.Cell).
    served = {k: run_options.pop(k) for k in _grid.SERVE_OPTIONS if k in run_options}
    base = _options.make(RunOptions, {**run_options, "isolate": True}, "sweep")
    axes = _grid.check_axes(given_axes)
    if served and not any(m in OPEN_LOOP for m in axes["modes"]):
        raise ConfigError(
            f"{', '.join(served)} apply to modes {' and '.join(OPEN_LOOP)}; modes are "
            f"{axes['modes']}"
        )
    if base.cpus is not None and any(s is not None for s in axes["sockets"]):
        raise ConfigError("give sockets or cpus, not both")
    return base, axes, served


def _models(book: ModelBook, models: Any, base: RunOptions) -> list[ModelFacts]:
    import openvino as ov

    listed = (
        _grid.axis("models", models, (str, os.PathLike, ov.Model)) if models is not None else []
    )
    if not listed:
        raise ConfigError(
            "models is empty: give at least one model path or built-in name (see ic.models.list())"
        )
    facts: list[ModelFacts] = []
    for m in listed:
        f = book.add(m)
        for other in facts:
            if other.name == f.name:
                raise ConfigError(
                    f"duplicate cells: two models are named {f.name!r} ({other.path} and "
                    f"{f.path}); cell keys use the name, so rename or copy one"
                )
        facts.append(f)
    book.check_shapes(facts, base.shapes)
    return facts


def _header(
    facts: list[ModelFacts],
    axes: dict[str, list[Any]],
    sw: SweepOptions,
    base: RunOptions,
    cache: str | None,
    env: dict[str, Any],
    served: dict[str, Any],
) -> dict[str, Any]:
    from inferclock._environment import collect_versions

    versions = collect_versions()
    sweep_opts = {o.name: getattr(sw, o.name) for o in _options.options(SweepOptions)}
    return {
        "inferclock_version": versions["inferclock"],
        "openvino_version": versions["openvino"],
        "environment": env,
        "sweep": {
            "models": [f.name for f in facts],
            "model_paths": [f.path for f in facts],
            **axes,
            **sweep_opts,
            "seed": base.seed,
            "cache_dir": cache or None,
            "run": base.to_row(),
            "serve": served or None,
        },
    }


class _Runner:
    """Runs units one by one under the supervisor, writing a row per outcome."""

    def __init__(
        self,
        writer: ResultWriter,
        progress: _progress.Progress,
        save_raw: bool,
        ctrl_c: CtrlC,
        earlier: list[dict[str, Any]],
    ) -> None:
        self.cells: dict[str, list[dict[str, Any]]] = {}  # rows of each cell so far
        for r in earlier:
            self.cells.setdefault(str(r.get("key")), []).append(r)
        self.writer = writer
        self.progress = progress
        self.save_raw = save_raw
        self.ctrl_c = ctrl_c
        self.terminated = False  # SIGTERM stopped the sweep
        self.written = 0
        self.failed = 0
        self.aborted = False  # a second Ctrl-C killed a worker
        self._announced = False

    def run(self, unit: _grid.Unit) -> None:
        self.progress.running(unit.label)
        outcomes = supervise(
            unit.spec,
            repeats=len(unit.repeats),
            timeout=unit.spec.options.effective_timeout(),
            ctrl_c=self.ctrl_c,
            on_ctrl_c="finish",
        )
        try:
            for outcome in outcomes:
                self._announce()
                self._write(self._row(unit, outcome))
        except Terminated:
            raise
        except KeyboardInterrupt:
            self.aborted = True
            self.progress.note(f"{unit.label}: killed by a second Ctrl-C (not recorded)")
        self._announce()

    def _announce(self) -> None:
        if self.ctrl_c.count and not self._announced:
            self._announced = True
            self.progress.note(
                "Ctrl-C: stopping after the current cell (press Ctrl-C again to stop at once)"
            )

    def _row(self, unit: _grid.Unit, outcome: Outcome) -> dict[str, Any]:
        repeat = unit.repeats[outcome.index]
        notes = [f"{c.__name__}: {m}" for c, m in outcome.warnings]
        for note in notes:
            self.progress.note(f"{unit.label}: {note}")
        r, spec = outcome.result, unit.spec
        if r is not None:
            row = _rows.sweep_row(unit.cell.key, r.to_dict(), unit.process, repeat, notes)
            if self.save_raw and r.latencies_ns.size:
                row["raw_latencies"] = _sweep_file.save_raw(
                    self.writer.path, unit.cell.key, unit.process, repeat, r.latencies_ns
                )
            return row
        e = outcome.error
        kind = e.kind if isinstance(e, WorkerCrash) else type(e).__name__
        failed = _rows.error_row(
            spec.model_name,
            spec.model,
            spec.requested,
            str(e),
            kind,
            outcome.started_at,
            spec.env,
        )
        failed["isolated"] = True
        return _rows.sweep_row(unit.cell.key, failed, unit.process, repeat, notes)

    def _write(self, row: dict[str, Any]) -> None:
        # The cell's verdict so far, over every row of it written (earlier ones included).
        seen = self.cells.setdefault(str(row["key"]), [])
        seen.append(row)
        if row.get("error") is None:
            metric = _cell.metric_for("auto", row.get("mode"))
            same_host = [r for r in seen if r.get("host") == row.get("host")]
            row["multimodal"] = _cell.multimodal(same_host, metric)
            if row["multimodal"]:
                self.progress.note(f"{row['key']}: processes disagree (multimodal)")
        self.writer.append(row)
        self.written += 1
        failed = row.get("error") is not None
        self.failed += int(failed)
        self.progress.advance(failed)
        if failed:
            self.progress.note(
                f"{row['key']} p{row['process']} r{row['repeat']}: "
                f"{row['error_kind']}: {first_line(row['error'])}"
            )
