"""A sweep's rows as its units finish: one row per run (a failure an error row with every
field of a success row), each cell's multimodal flag over its rows so far, progress.

Local units run here, one at a time under the supervisor; a cluster's units run on their
hosts (``_sweeps.cluster``) and their outcomes come back to :meth:`Runner.record`. A cluster's rows
say where they were measured: ``host_name``, the Dask worker, the attempt and the unit's
span on its host (a local sweep's are null: the fingerprint id names the machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inferclock._analysis import cell as _cell
from inferclock._common.errors import Terminated, WorkerCrash
from inferclock._common.jsonl import ResultWriter
from inferclock._common.util import first_line, utc_now
from inferclock._sweeps import file as _sweep_file, grid as _grid, progress as _progress
from inferclock._timing import rows as _rows, schema as _schema
from inferclock._workers.supervisor import CtrlC, Outcome, supervise


class Runner:
    """Runs units one by one under the supervisor, writing a row per outcome."""

    #: Who writes the rows, as a row the schema refuses names it.
    writer_name = "ic.sweep"

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
            self.cells.setdefault(str(_schema.get(r, "key")), []).append(r)
        self.writer = writer
        self.progress = progress
        self.save_raw = save_raw
        self.ctrl_c = ctrl_c
        self.terminated = False  # SIGTERM stopped the sweep
        self.written = 0
        self.failed = 0
        self.aborted = False  # a second Ctrl-C killed a worker
        self._announced = False
        # A local sweep's rows name no host: the machine's fingerprint id tells machines
        # apart (a hostname changes with every container run of the same machine).
        self.where: dict[str, Any] = {}

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
            self.progress.note(f"{unit.label}: killed by Ctrl-C (not recorded)")
        self._announce()

    def record(self, unit: _grid.Unit, host: str | None, done: Mapping[str, Any]) -> None:
        """The rows of a unit that ran on a cluster host (``done``: its task's result)."""
        if done.get("skipped"):
            return
        where = {
            "host_name": host or done.get("hostname"),
            "dask_worker": done.get("dask_worker"),
            "attempt": done.get("attempt"),
            "task_started_at": done.get("task_started_at"),
            "task_finished_at": done.get("task_finished_at"),
        }
        outcomes: Sequence[Outcome] = done.get("outcomes") or ()
        if done.get("error") is not None:
            e = done["error"]
            started = done.get("task_started_at") or utc_now()
            outcomes = [Outcome(i, started, error=e) for i in range(len(unit.repeats))]
        for outcome in outcomes:
            self._write(self._row(unit, outcome, done.get("env")), where)
        if done.get("stopped"):
            left = len(unit.repeats) - len(outcomes)
            self.progress.note(f"{unit.label} on {host}: stopped ({left} run(s) not recorded)")

    def _announce(self) -> None:
        if self.ctrl_c.count and not self._announced:
            self._announced = True
            self.progress.note(
                "Ctrl-C: stopping after the current cell (press Ctrl-C again to stop at once)"
            )

    def _row(
        self, unit: _grid.Unit, outcome: Outcome, env: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        repeat = unit.repeats[outcome.index]
        notes = [f"{c.__name__}: {m}" for c, m in outcome.warnings]
        for note in notes:
            self.progress.note(f"{unit.label}: {note}")
        r, spec = outcome.result, unit.spec
        if r is not None:
            row = _rows.sweep_row(unit.cell.key, r.to_dict(), unit.process, repeat, notes)
            if self.save_raw and r.samples_ns.size:
                row["raw_latencies"] = _sweep_file.save_raw(
                    self.writer.path, unit.cell.key, unit.process, repeat, r.samples_ns
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
            env or spec.env,
        )
        failed["isolated"] = True
        return _rows.sweep_row(unit.cell.key, failed, unit.process, repeat, notes)

    def _write(self, row: dict[str, Any], where: Mapping[str, Any] | None = None) -> None:
        row.update(where or self.where)
        # The cell's verdict so far, over every row of it written on that host (earlier ones
        # included).
        key = str(_schema.at(row, "key"))
        seen = self.cells.setdefault(key, [])
        seen.append(row)
        if _schema.get(row, "error") is None:
            metric = _cell.metric_for("auto", _schema.get(row, "mode"))
            host, name = _schema.get(row, "host"), _schema.get(row, "host_name")
            same_host = [
                r for r in seen
                if _schema.get(r, "host") == host and _schema.get(r, "host_name") in (None, name)
            ]  # fmt: skip
            row["multimodal"] = _cell.multimodal(same_host, metric)
            row["multimodal_note"] = note = _cell.modes_note(same_host, metric)
            if note:
                self.progress.note(f"{key}: multimodal, {note}")
        _schema.check(row, self.writer_name)
        self.writer.append(row)
        self.written += 1
        failed = _schema.get(row, "error") is not None
        self.failed += int(failed)
        self.progress.advance(failed)
        if failed:
            on = f" on {_schema.at(row, 'host_name')}" if _schema.get(row, "dask_worker") else ""
            p, rep = _schema.at(row, "process"), _schema.at(row, "repeat")
            self.progress.note(
                f"{key} p{p} r{rep}{on}: {_schema.at(row, 'error_kind')}: "
                f"{first_line(_schema.at(row, 'error'))}"
            )
