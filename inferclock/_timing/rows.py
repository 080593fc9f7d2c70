"""The result-row schema: which fields a row of a results file has, for a measurement and for
an error alike.

A row is the model's identity, the requested options (one field per declared option, from
``_options``), the measurement (``_result.MEASURED_FIELDS``) and bookkeeping (timestamps, the
error). A sweep row adds the cell key, the process and repeat indices, the raw-latencies file
and the warnings. An error row carries the same fields: the options as requested, the
measurement as nulls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from inferclock._common.util import is_int, utc_now
from inferclock._platform.host import host_id
from inferclock._timing import options as _options
from inferclock._timing.result import MEASURED_FIELDS

if TYPE_CHECKING:
    from inferclock._timing.modelinfo import ModelFacts
    from inferclock._timing.result import RunResult

#: ``host``: the machine's identity (``_host.host_id``): results of different hosts are never
#: pooled into one cell.
IDENTITY_FIELDS = ("model", "model_path", "model_sha256", "host")
BOOK_FIELDS = ("started_at", "finished_at", "error", "error_kind")
#: Fields only a sweep's rows have. A cluster's rows name the host that measured them
#: (``host_name``: its Dask worker's name, else its hostname), the Dask worker, the attempt (2:
#: after its first host was lost) and the unit's span on its host; a local sweep's are null.
CLUSTER_FIELDS = ("dask_worker", "attempt", "task_started_at", "task_finished_at")
SWEEP_FIELDS = ("key", "process", "repeat", "raw_latencies", "warnings", "host_name",
                *CLUSTER_FIELDS)  # fmt: skip


def option_fields() -> tuple[str, ...]:
    """The row field of every declared run option, in declaration order."""
    return tuple(o.row for o in _options.options())


def run_fields() -> tuple[str, ...]:
    """Every field of a run's row, in order."""
    return IDENTITY_FIELDS + option_fields() + MEASURED_FIELDS + BOOK_FIELDS


def result_row(result: RunResult) -> dict[str, Any]:
    """The row of a measurement."""
    row: dict[str, Any] = {
        "model": result.model,
        "model_path": result.model_path,
        "model_sha256": result.model_sha256,
        "host": host_id(result.env),
    }
    row.update(_requested(result.options))
    row.update(result.measured())
    row.update(
        started_at=result.started_at, finished_at=result.finished_at, error=None, error_kind=None
    )
    return row


def error_row(
    model_name: str,
    model: ModelFacts | None,
    requested: Mapping[str, Any],
    message: str,
    kind: str,
    started_at: str,
    env: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The row of a run that failed: identity and requested options as for a measurement,
    every measured field null."""
    row: dict[str, Any] = {
        "model": model_name,
        "model_path": model.path if model else None,
        "model_sha256": model.sha256 if model else None,
        "host": host_id(env),
    }
    row.update(_requested(requested))
    row.update(dict.fromkeys(MEASURED_FIELDS))
    row.update(started_at=started_at, finished_at=utc_now(), error=message, error_kind=kind)
    return row


def _requested(requested: Mapping[str, Any]) -> dict[str, Any]:
    # Every option field, in declaration order (a result made without options has nulls).
    return {f: requested.get(f) for f in option_fields()}


def sweep_row(
    key: str, row: Mapping[str, Any], process: int, repeat: int, warnings: list[str] | None
) -> dict[str, Any]:
    """A run's row as a sweep writes it: the cell key first, then the run's fields."""
    out: dict[str, Any] = {"key": key, **row}
    out.update(process=process, repeat=repeat, raw_latencies=None, warnings=warnings or None)
    out.update(dict.fromkeys(("host_name", *CLUSTER_FIELDS)))
    return out


def done_runs(
    rows: Iterable[Mapping[str, Any]], host_name: str | None = None
) -> set[tuple[str, int, int]]:
    """(key, process, repeat) of the runs a resume can skip: measured, not interrupted
    (``host_name``: on that host only)."""
    done: set[tuple[str, int, int]] = set()
    for r in rows:
        if host_name is not None and r.get("host_name") != host_name:
            continue
        if r.get("error") is None and not r.get("interrupted"):
            p, rep = r.get("process", 0), r.get("repeat", 0)
            if is_int(p) and is_int(rep):
                done.add((str(r["key"]), int(p), int(rep)))
    return done
