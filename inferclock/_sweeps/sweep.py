"""``ic.sweep``: every cell of a grid in a fresh worker process, each row kept as it finishes.

A cell (``_sweeps.grid``) runs in ``processes`` fresh worker processes (row field ``process``), each
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
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.deprecation import renamed_argument
from inferclock._common.errors import ConfigError, Terminated
from inferclock._common.jsonl import check_output_path
from inferclock._platform import plugins as _plugins
from inferclock._sweeps import (
    cluster_run as _sweep_cluster,
    file as _sweep_file,
    grid as _grid,
    progress as _progress,
)
from inferclock._sweeps.cluster_run import int8_plan
from inferclock._sweeps.options import SweepOptions
from inferclock._sweeps.runner import Runner
from inferclock._timing import options as _options, rows as _rows
from inferclock._timing.load_checks import OPEN_LOOP
from inferclock._timing.modelinfo import ModelBook, ModelFacts
from inferclock._timing.options import RunOptions
from inferclock._workers.run import spec_for
from inferclock._workers.supervisor import CtrlC

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
    qps: Sequence[float | None] | float | None = (None,),
    cell_timeout: float | None = None,
    cluster: Any = None,
    placement: str = "spread",
    hosts: Sequence[str] | str | None = None,
    ship_models: bool = True,
    history: str | os.PathLike[str] | None = None,
    **run_options: Any,
) -> ResultTable:
    """Measure every cell of models x devices x precisions x batch_sizes x modes x sockets.

    models: paths (IR .xml, .onnx, ...), built-in names (``ic.models.list()``) or
        ``openvino.Model`` objects; one value or a list. Names must be unique (a model's name
        is its built-in name or file stem).
    precisions / batch_sizes / devices / modes / sockets: the grid axes (a single value or a
        list; no duplicates). ``sockets=(None,)`` leaves the worker unpinned.
    qps: offered rates (queries/s) for the "server" mode (multistream takes none) (``rates=`` is
        its deprecated old name): each such mode runs
        once per rate (cell key ``...|server@200qps|...``), in one worker process (a verdict
        belongs to one schedule); other modes ignore the axis. The open-loop options (queries,
        arrival, latency_bound_ms, percentile) likewise apply to those cells only, and
        ``iterations`` and ``warmup`` to the others.
    processes: fresh worker processes per cell (default 3; row field ``process``). Small
        models on virtual machines change speed from one process to the next: a cell's
        interval (``ResultTable.summary()``, ``compare``) combines the variation within and
        between its processes, and a cell whose processes fall into separate speed
        modes (``_analysis.stability.modes``) is flagged ``multimodal`` (in its rows as they
        come, the summary and the report). ``repeats``: runs per process (row field
        ``repeat``), one after another in the same worker.
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
        its compile was "cold" or "hot"); "" turns it off. With a cache every process times
        the executable imported from it (a cold compile is imported again before timing): an
        imported executable can run at another speed than a fresh compile (2x for a MatMul
        chain sharing one weight), and a cell must not mix the two; ``ic.run`` without
        ``cache_dir`` times a fresh compile, as ``benchmark_app`` does. ``timeout`` bounds each
        run in its worker, start-up included (``cell_timeout`` is its older name).

    cluster: run the cells on a Dask cluster (``docs/cluster.md``): a
        ``dask.distributed.Client`` or a scheduler address ("tcp://host:8786"). Each host runs
        one worker that owns it (``dask worker ADDRESS --nworkers 1 --nthreads 1 --resources
        inferclock=1``); each unit is a task needing that resource, so a host runs one cell at
        a time, in the same fresh pinned worker process as a local sweep. Rows come back as
        each unit finishes, with ``host_name`` (the worker's ``--name``, else its hostname) and
        the host's own fingerprint. A unit whose host dies mid-cell runs once more (another
        host, or the same one when it comes back), then is an error row.
    placement: "spread" (each cell once, on any host) or "every_host" (each cell on each
        host: a machine comparison; resume skips finished (cell, host) pairs).
    hosts: only these hosts (worker names, hostnames or addresses).
    ship_models: send each model's files to every host once (cached there by sha256); False:
        the paths are the same on every host (checked on each before any cell runs).
    history: also add the rows this sweep wrote to a history (``ic.history``: a SQLite file
        or a postgresql:// URL), as one run; default: ``$INFERCLOCK_HISTORY``. A failure
        there is a warning: the results file is kept as it is.

    Returns a :class:`ResultTable` of this sweep's cells as the file now holds them (rows of
    earlier resumed runs included). Ctrl-C raises :class:`SweepInterrupted` after the current
    cell (at once on a second Ctrl-C, or on SIGTERM: ``SweepInterrupted.terminated``) with
    every finished row kept.
    """
    t_start = time.monotonic()
    if "rates" in run_options:  # the qps axis's old name, for one release
        qps_given = not (isinstance(qps, tuple) and qps == (None,))  # may be an array
        qps = renamed_argument("sweep", "rates", run_options.pop("rates"), "qps", qps_given)
    given_axes: dict[str, Any] = dict(precisions=precisions, batch_sizes=batch_sizes)
    given_axes.update(devices=devices, modes=modes, sockets=sockets, qps=qps)
    base, axes, served = _check(given_axes, {**run_options, "processes": processes}, cell_timeout)
    sw = _options.make(
        SweepOptions,
        dict(repeats=repeats, shuffle=shuffle, out=out, resume=resume,
             force_resume=force_resume, save_raw=save_raw, quiet=quiet, cluster=cluster,
             placement=placement, hosts=hosts, ship_models=ship_models, history=history),
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
    with ctrl_c.installed(), ModelBook() as book, _sweep_cluster.connected(sw) as on:
        facts = _models(book, models, base)
        if on is None:
            _plugins.check_devices(axes["devices"])
        else:  # the hosts' devices, models and versions; before the results file is touched
            on.prepare(facts, axes["devices"])
        grid = _grid.cells([f.name for f in facts], axes)
        progress = _progress.make(sw.quiet)
        from inferclock._platform.environment import environment

        env = environment()  # once: every local cell's fingerprint is this machine's
        header = _header(facts, axes, sw, base, cache, env, served, on)
        with _sweep_file.locked(out_path):
            earlier, writer = _sweep_file.open_results(out_path, header, sw.force_resume)
            todo: dict[str | None, dict[str, list[tuple[int, tuple[int, ...]]]]]
            if on is None:
                todo = {None: _grid.pending(grid, base.processes, sw.repeats,
                                            _rows.done_runs(earlier))}  # fmt: skip
            else:
                todo = on.pending(grid, base.processes, earlier)
            by_name = {f.name: f for f in facts}
            specs, int8 = {}, {}
            noted: set[str] = set()  # the int8 note: once per model, not per int8 cell
            for c in grid:
                if not any(reps for t in todo.values() for _, reps in t[c.key]):
                    continue
                opts = base.replace(**c.options(served))
                f = by_name[c.model]
                if on is None and c.precision == "int8" and not f.quantized:
                    if c.model not in noted:
                        noted.add(c.model)
                        progress.note(f"int8: {c.model} is quantized with NNCF (then cached)")
                specs[c.key] = spec_for(
                    f, opts, book, cache_dir=cache, env=env, quantize=on is None
                )
                if on is not None and (plan := int8_plan(c, opts, book, f)) is not None:
                    int8[c.key] = plan
            units = {p: _grid.units(grid, specs, t, sw.shuffle, base.seed) for p, t in todo.items()}
            total = sum(len(u.repeats) for us in units.values() for u in us)
            planned = sum(c.processes(base.processes) for c in grid) * sw.repeats * len(todo)
            if planned > total:
                progress.note(
                    f"resuming {out_path.name}: {planned - total} run(s) there, {total} to do"
                )
            runner = Runner(writer, progress, sw.save_raw, ctrl_c, earlier)
            progress.start(total)
            try:
                if on is not None:
                    host_cache = "cache_dir" not in run_options
                    on.run(units, int8, by_name, host_cache, runner, ctrl_c, progress)
                for unit in units[None] if on is None else ():
                    if ctrl_c.count or runner.aborted:
                        break
                    runner.run(unit)
            except Terminated:
                runner.terminated = True
            except KeyboardInterrupt:  # a second Ctrl-C on a cluster: its cells were stopped
                runner.aborted = True
            finally:
                progress.close()

    _add_to_history(sw.history or os.environ.get("INFERCLOCK_HISTORY"), out_path, len(earlier))
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


def _add_to_history(target: str | None, out: Path, earlier: int) -> None:
    """Add the rows after the first ``earlier`` of the results file to the history, as one
    run; a failure warns (the rows stay in the file: ``inferclock history add`` later)."""
    if not target:
        return
    try:
        from inferclock._common.jsonl import load_file
        from inferclock._tracking.history import history

        f = load_file(out)
        with history(target) as h:
            h.add(f.rows[earlier:], header=f.header, source=str(out))
    except Exception as e:  # the results file must not be lost to this
        from inferclock._common.secrets import mask_url, scrub

        warnings.warn(
            f"the sweep's rows were not added to history {mask_url(target)!r} "
            f"({type(e).__name__}: {scrub(str(e), target)}); "
            f"they are in {out}: add them with 'inferclock history add {out}'",
            RuntimeWarning,
            stacklevel=3,
        )


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
    on: _sweep_cluster.ClusterSweep | None,
) -> dict[str, Any]:
    from inferclock._platform.environment import collect_versions

    versions = collect_versions()
    sweep_opts = {
        o.name: getattr(sw, o.name)
        for o in _options.options(SweepOptions)
        if o.meta.group != "cluster" and o.name != "history"  # a URL may hold a password
    }
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
            "cluster": on.describe() if on else None,
        },
    }
