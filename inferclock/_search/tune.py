"""``ic.tune``: the CPU configuration (streams x requests x threads x batch size) that gives a
model the most throughput, or the highest served rate under a latency bound, measured against
OpenVINO's own THROUGHPUT hint on the same model.

How it works:

* **A point** is one configuration. Every point runs in fresh worker processes (OpenVINO
  fixes CPU streams when it compiles), with ``hint="none"`` when the space sets streams or
  threads (else the THROUGHPUT hint, which then chooses them). Objective "throughput": a
  throughput-mode run in ``processes`` workers; the point's value is their throughput
  (samples/s) combined within and between processes (``_analysis.cell.combine_rows``, the 95%
  interval ``ResultTable.summary`` and ``compare`` use). Objective "peak_qps": one
  ``ic.find_peak_qps`` search (queries/s; its file ``<out stem>.peak/<point>.jsonl``), and
  the point's interval is the search's bracket: highest VALID to lowest INVALID rate.
* **The baseline** is the THROUGHPUT hint with no streams, threads or requests set (batch:
  ``batch_size`` if given, else the smallest in the space), measured the same way before the
  first point and again after the last (``ceil(processes / 2)`` workers each time; for
  peak_qps one search each), both pooled. What the hint chose (NUM_STREAMS,
  OPTIMAL_NUMBER_OF_INFER_REQUESTS, INFERENCE_NUM_THREADS) is read back from its rows.
* **The search** (``_search.tune_space``): every point (in a seeded random order) when the space
  has at most ``max_points``; otherwise coordinate descent from the hint's own choice snapped
  to the space: measure the neighbours along each axis, move to the best one that beats the
  current point beyond their intervals, stop when none does or ``max_points`` are measured.
* **The answer**: the point with the highest measured value, and the gain best / baseline
  with a 95% Welch interval (``_common.intervals.ratio``; peak_qps: the ratio of the brackets'
  ends). The best of several noisy points is biased upwards (winner's curse): confirm a
  small gain with a longer run of that configuration.
* **The results file** ``out`` (JSON Lines, ``ic.ResultTable.load``) holds one row per
  worker run (peak_qps: per search), cell key ``<model>|<device>|<precision>|<batch>|
  <objective>|<socket>|streams=2,requests=4`` (baseline: ``|hint=throughput``), with fields
  ``tune_role`` ("point"/"baseline"), ``tune_objective``, ``tune_value`` (the run's own value;
  peak_qps also ``tune_low``/``tune_high``) beside ``streams_requested``,
  ``requests_requested``, ``threads_requested`` and ``batch_size``. Run again on the same
  file, a tune measures only what is missing (the search then takes the same path); a file
  written with another model, objective or run options is refused, and no row is rewritten.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.declare import make
from inferclock._common.errors import ConfigError, InferclockError, WorkerCrash
from inferclock._common.jsonl import ResultWriter, check_output_path, load_file, strict_dumps
from inferclock._common.util import utc_now
from inferclock._platform.host import changed as host_changed, host_id
from inferclock._search import tune_space as ts
from inferclock._search.options import DEFAULT_MAX_POINTS, OBJECTIVES, TuneOptions
from inferclock._search.tune_result import UNIT as _UNIT, TunePoint, TuneResult
from inferclock._search.tune_space import Estimate, Point
from inferclock._sweeps import file as _sweep_file, grid as _grid, progress as _progress
from inferclock._sweeps.runner import Runner as _SweepRunner
from inferclock._sweeps.sweep import SweepInterrupted
from inferclock._timing import rows as _rows, schema as _schema
from inferclock._timing.modelinfo import ModelBook, ModelFacts
from inferclock._timing.options import RunOptions
from inferclock._workers.run import spec_for
from inferclock._workers.supervisor import CtrlC, Outcome

__all__ = ["OBJECTIVES", "TunePoint", "TuneResult", "tune"]

#: Header fields that describe the rows: a resume with other values is refused.
_DESCRIBING = ("model", "model_sha256", "objective", "run", "serve")
#: The baseline: OpenVINO's THROUGHPUT hint choosing streams, threads and requests itself.
_BASELINE: dict[str, Any] = dict(hint="throughput", streams=None, threads=None, requests=None)


def tune(
    model: Any,
    objective: str = "throughput",
    latency_bound_ms: float | None = None,
    space: Mapping[str, Sequence[int]] | None = None,
    *,
    out: str | os.PathLike[str] = "tune.jsonl",
    processes: int | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
    quiet: bool | None = None,
    tolerance: float | None = None,
    max_steps: int | None = None,
    **run_options: Any,
) -> TuneResult:
    """Search ``space`` for the configuration with the best ``objective`` and measure its gain
    over OpenVINO's own THROUGHPUT hint on the same model.

    Each point (and the baseline, before the first point and after the last) runs in fresh
    worker processes. A space of at most ``max_points`` points is measured whole; a larger
    one by coordinate descent from the hint's own choice (NUM_STREAMS,
    OPTIMAL_NUMBER_OF_INFER_REQUESTS, INFERENCE_NUM_THREADS) snapped to the space, moving to
    the best neighbour that beats the current point beyond their 95% intervals. The answer is
    the best measured point, and ``gain`` = best / baseline with a Welch 95% interval (details:
    docs/serving.md, "Tuning").

    objective: "throughput" (samples/s of a throughput-mode run) or "peak_qps" (the highest
        rate, queries/s, whose server run keeps ``latency_bound_ms`` at ``percentile`` of
        due-time latency: ``ic.find_peak_qps``); ``latency_bound_ms`` is then required.
    space: {"streams": [...], "requests": [...], "threads": [...], "batch_size": [...]}, any
        of those keys, each a non-empty list checked as ``ic.run`` checks that option.
        Default: streams 1, 2, 4, ... up to the CPUs this process may use (or ``cpus``),
        requests 1, 2, 4, ... up to twice that.
    out: the JSON Lines results file, one row per worker run (peak_qps: per search). Run
        again on it, only the runs missing are measured; rows are never rewritten.
    processes: fresh worker processes per point (throughput only; default 3).
    max_points: the grid is measured whole up to this many points; above it a local search
        measures at most this many.
    quiet: no progress display (default: quiet when stderr is not a terminal).
    tolerance, max_steps: ``find_peak_qps``'s, for each search (peak_qps only).
    run_options: any other option of ``ic.run`` (device, precision, max_time, min_time,
        target_ci, cpus, socket, seed, env, percentile, queries, arrival, ...), the same for
        every point and the baseline; mode and hint are tune's to set.

    Everything is checked before anything runs (ConfigError naming the argument). Tune's own
    options (objective, out, max_points, processes, quiet, tolerance, max_steps) are declared,
    with their defaults and checks, in ``_search.options.TuneOptions``. Returns a
    :class:`TuneResult`; Ctrl-C raises ``SweepInterrupted`` with every finished row kept.
    """
    own: TuneOptions = make(
        TuneOptions,
        dict(objective=objective, out=out, max_points=max_points, processes=processes,
             tolerance=tolerance, max_steps=max_steps, quiet=quiet),
        "tune",
    )  # fmt: skip
    plan = ts.plan(own, latency_bound_ms, space, run_options)
    out_path = check_output_path(own.out, "results file").absolute()
    _sweep_file.check_writable(out_path)
    from inferclock._platform.plugins import check_devices

    ctrl_c = CtrlC()
    with ctrl_c.installed(), ModelBook() as book:
        facts = book.add(model)
        book.check_shapes([facts], plan.base.shapes)
        check_devices([plan.base.device])
        with _sweep_file.locked(out_path):
            return _Bench(plan, model, facts, book, out_path, own.quiet, ctrl_c).search()


class _Stopped(Exception):
    """Ctrl-C stopped the tune between two runs."""


@dataclass(frozen=True)
class _PointCell(_grid.Cell):
    """A cell whose key also names the point, so the sweep's runner writes its rows."""

    point: str = ""

    @property
    def key(self) -> str:
        return f"{super().key}|{self.point}"


class _Runner(_SweepRunner):
    """The sweep's runner (one row per worker run, a failure an error row), marking rows."""

    extra: dict[str, Any]
    writer_name = "ic.tune"

    def _row(
        self, unit: _grid.Unit, outcome: Outcome, env: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        row = super()._row(unit, outcome, env)
        row.update(self.extra, tune_value=_schema.get(row, "throughput_fps"))
        return row


class _Bench:
    """The runs of one tune: the baseline's and the points', each row written as it ends;
    each point's figure read back from its rows (earlier ones included)."""

    def __init__(
        self,
        plan: ts.Plan,
        model: Any,
        facts: ModelFacts,
        book: ModelBook,
        out: Path,
        quiet: bool | None,
        ctrl_c: CtrlC,
    ) -> None:
        from inferclock._platform.environment import environment

        self.plan, self.model, self.facts, self.book, self.out = plan, model, facts, book, out
        self.quiet, self.ctrl_c = quiet, ctrl_c
        self.env = environment()
        self.host = host_id(self.env)
        self.cache = plan.base.cache_dir
        if "cache_dir" not in plan.given:  # as a sweep's: beside the results, for every point
            self.cache = str(out.parent / f"{out.stem}.ovcache")
        earlier, self.writer = self._open(self._header())
        self.done = _rows.done_runs(earlier)
        self.progress = _progress.make(quiet if plan.objective == "throughput" else True)
        self.runner = _Runner(self.writer, self.progress, False, ctrl_c, earlier)
        self.runner.extra = {}
        self.figures: dict[Point, Estimate | None] = {}

    def _header(self) -> dict[str, Any]:
        from inferclock._platform.environment import collect_versions

        v, p, f = collect_versions(), self.plan, self.facts
        run = {k: x for k, x in p.base.to_row().items() if k not in ("processes", "isolate")}
        tune = dict(model=f.name, model_path=f.path, model_sha256=f.sha256, objective=p.objective,
                    space=p.space, max_points=p.max_points, processes=p.processes, run=run,
                    serve=p.serve or None, cache_dir=self.cache or None)  # fmt: skip
        return {"inferclock_version": v["inferclock"], "openvino_version": v["openvino"],
                "environment": self.env, "tune": tune}  # fmt: skip

    def _open(self, header: dict[str, Any]) -> tuple[list[dict[str, Any]], ResultWriter]:
        """The rows already in the file and a writer; a file of another tune is refused."""
        if self.out.stat().st_size == 0:
            return [], ResultWriter(self.out, header)
        f = load_file(self.out)
        was, now = f.header.get("tune"), json.loads(strict_dumps(header["tune"]))
        if not isinstance(was, dict):
            raise ConfigError(f"results file {str(self.out)!r} was not written by a tune (no "
                              "'tune' in its header): write to another file")  # fmt: skip
        diff = [f"{k}: {a!r} in the file, {b!r} now" for k, (a, b) in _differences(was, now)]
        host = host_changed(f.header.get("environment") or {}, self.env)
        diff += [f"host {k}: {a!r} in the file, {b!r} here" for k, (a, b) in host.items()]
        if diff:
            raise ConfigError(
                f"results file {str(self.out)!r} was written by a tune with other settings "
                f"({'; '.join(diff)}): its rows would not match this tune's; write to another file"
            )
        return [dict(r) for r in f.rows], ResultWriter(self.out, header)

    def search(self) -> TuneResult:
        p, space = self.plan, self.plan.space
        half = -(-p.processes // 2)  # baseline workers before the points, and after them
        total = min(ts.size(space), p.max_points) * p.processes + 2 * half  # runs at most
        self.progress.start(total)
        try:
            self._baseline(range(half))
            if ts.size(space) > p.max_points:
                start = ts.snap(space, self._hinted())
                s = ts.descend(space, start, self._point, p.max_points)
            else:
                s = ts.exhaustive(space, self._point, p.base.seed)
            self._baseline(range(half, 2 * half))
        except (_Stopped, SweepInterrupted) as e:
            hint = (
                f"tune interrupted: {self.runner.written} run(s) written to {self.out}, every "
                "finished row kept: run the same tune again to measure the rest"
            )
            table, stop = ResultTable.load(self.out), getattr(e, "terminated", False)
            raise SweepInterrupted(table, self.runner.written, total, hint, stop) from None
        finally:
            self.progress.close()
        return self._result(s)

    def _cell(self, config: Mapping[str, int], label: str) -> _PointCell:
        b = self.plan.base
        batch = config.get("batch_size", b.batch_size)
        return _PointCell(self.facts.name, b.device, b.precision, batch, self.plan.objective,
                          b.socket, point=label)  # fmt: skip

    def _baseline_cell(self) -> _PointCell:
        return self._cell({"batch_size": self.plan.baseline_batch}, "hint=throughput")

    def _baseline(self, procs: range) -> None:
        cell, cfg = self._baseline_cell(), dict(_BASELINE)
        if "batch_size" in self.plan.space:  # else the run options' (given, or the default)
            cfg["batch_size"] = self.plan.baseline_batch
        if self.plan.objective == "throughput":
            opts = self.plan.base.replace(**cfg)  # processes: a point's (its time budget)
            self._closed(cell, opts, procs, "baseline")
        for i in procs if self.plan.objective == "peak_qps" else ():
            self._peak(cell, cfg, i, f"baseline-{i + 1}", "baseline")

    def _point(self, point: Point) -> Estimate | None:
        cfg, name = ts.as_dict(point), ts.label(point)
        cell = self._cell(cfg, name)
        if self.plan.objective == "throughput":
            opts = self.plan.base.replace(**cfg, hint=self.plan.point_hint)
            self._closed(cell, opts, range(self.plan.processes), "point")
        else:
            self._peak(cell, {**cfg, "hint": self.plan.point_hint}, 0, name, "point")
        self.figures[point] = ts.figure(self._ok(cell.key), self.plan.objective)
        return self.figures[point]

    def _hinted(self) -> dict[str, float | None]:
        """What the THROUGHPUT hint chose, from the baseline's rows (the local search's start)."""
        rows = self._ok(self._baseline_cell().key)
        return {**ts.hinted(rows[0] if rows else {}), "batch_size": self.plan.baseline_batch}

    def _stop_if_asked(self) -> None:
        if self.ctrl_c.count or self.runner.aborted:
            raise _Stopped

    def _closed(self, cell: _PointCell, opts: RunOptions, procs: range, role: str) -> None:
        """Throughput-mode runs of a cell: a fresh worker for each process not in the file."""
        todo = [i for i in procs if (cell.key, i, 0) not in self.done]
        if not todo:
            return
        spec = spec_for(self.facts, opts, self.book, cache_dir=self.cache, env=self.env)
        self.runner.extra = {"tune_role": role, "tune_objective": "throughput"}
        for i in todo:
            self._stop_if_asked()
            self.runner.run(_grid.Unit(cell, spec, i, (0,)))
        self._stop_if_asked()

    def _peak(self, cell: _PointCell, cfg: dict[str, Any], i: int, name: str, role: str) -> None:
        """A ``find_peak_qps`` search of a cell in its own file, kept as one row: the server
        run at the peak, its bracket as ``tune_low``/``tune_high`` (a failure: an error row)."""
        if (cell.key, i, 0) in self.done:
            return
        self._stop_if_asked()
        from inferclock._search.peak import find_peak_qps

        path = self.out.parent / f"{self.out.stem}.peak" / f"{name}.jsonl"
        path.parent.mkdir(exist_ok=True)
        serve, started = dict(self.plan.serve), utc_now()
        opts = {**{k: v for k, v in self.plan.given.items() if k != "isolate"}, **cfg}
        opts = {k: v for k, v in opts.items() if v is not None or k not in cfg}
        tags = dict(tune_role=role, tune_objective="peak_qps",
                    tune_file=os.path.relpath(path, self.out.parent))  # fmt: skip
        try:
            bound, pct = serve.pop("latency_bound_ms"), serve.pop("percentile")
            res = find_peak_qps(self.model, bound, pct, out=path, quiet=self.quiet,
                                cache_dir=self.cache, **serve, **opts)  # fmt: skip
            steps = [r for r in ResultTable.load(path).ok().rows if _schema.get(r, "verdict")]
            if not steps:  # pragma: no cover - a search that ran writes its steps
                raise InferclockError(f"the search left no server run in {path}")
        except InferclockError as e:
            requested = {**self.plan.base.replace(**cfg).to_row(), "mode": "server"}
            kind = e.kind if isinstance(e, WorkerCrash) else type(e).__name__
            failed = _rows.error_row(self.facts.name, self.facts, requested, str(e), kind,
                                     started, self.env)  # fmt: skip
            row = _rows.sweep_row(cell.key, failed, i, 0, None)
            row.update(tags, tune_value=None, tune_low=None, tune_high=None)
        else:
            # The server run at the peak; none VALID: the lowest rate tried.
            at = [r for r in steps if _schema.get(r, "qps") == res.qps] or [min(steps, key=_qps)]
            row = {**at[-1], "key": cell.key, "process": i, "repeat": 0}
            row.update(tags, tune_value=res.qps, tune_low=res.qps, tune_high=res.lowest_invalid)
        _schema.check(row, "ic.tune")
        self.writer.append(row)
        self.runner.cells.setdefault(cell.key, []).append(row)

    def _rows(self, key: str) -> list[dict[str, Any]]:
        mine = (self.host, None)
        return [r for r in self.runner.cells.get(key, []) if _schema.get(r, "host") in mine]

    def _ok(self, key: str) -> list[dict[str, Any]]:
        return [r for r in self._rows(key) if _schema.get(r, "error") is None]

    def _record(self, key: str, config: dict[str, int], e: Estimate | None) -> TunePoint:
        ok, n = len(self._ok(key)), len(self._rows(key))
        if e is None:
            return TunePoint(config, None, None, None, key, ok, n - ok)
        mm = e.combined.multimodal if e.combined is not None and e.combined.processes > 1 else None
        return TunePoint(config, e.value, e.low, e.high, key, ok, n - ok, mm)

    def _result(self, s: ts.Search) -> TuneResult:
        p, base_key = self.plan, self._baseline_cell().key
        base = ts.figure(self._ok(base_key), p.objective)
        chose = {k: int(v) for k, v in self._hinted().items() if v is not None}
        points = [self._record(self._cell(ts.as_dict(q), ts.label(q)).key, ts.as_dict(q),
                               self.figures.get(q)) for q in s.measured]  # fmt: skip
        measured = [(q, f) for q in s.measured if (f := self.figures.get(q)) is not None]
        best, fig = max(measured, key=lambda t: t[1].value) if measured else (None, None)
        gain = ts.gain(base, fig) if base is not None and fig is not None else (None, None, None)
        return TuneResult(
            objective=p.objective, unit=_UNIT[p.objective],
            best=None if best is None else ts.as_dict(best), value=fig.value if fig else None,
            low=fig.low if fig else None, high=fig.high if fig else None,
            baseline=self._record(base_key, chose, base), gain=gain[0], gain_low=gain[1],
            gain_high=gain[2], search=s.kind, stop=s.stop, space_size=ts.size(p.space),
            out=str(self.out), points=tuple(points), path=tuple(ts.as_dict(q) for q in s.path),
        )  # fmt: skip


def _differences(was: Mapping[str, Any], now: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(field, (in the file, now)) for each describing header field that differs."""
    out: list[tuple[str, Any]] = []
    for k in _DESCRIBING:
        a, b = was.get(k), now.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [
                (f"{k}.{x}", (a.get(x), b.get(x))) for x in sorted({*a, *b}) if a.get(x) != b.get(x)
            ]
        elif a != b:
            out.append((k, (a, b)))
    return out


def _qps(row: Mapping[str, Any]) -> float:
    return float(_schema.get(row, "qps") or 0.0)
