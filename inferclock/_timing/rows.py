"""The result rows: a run's row, for a measurement and for an error alike, and a sweep's.

A row is the model's identity, the requested options (one field per declared option, from
``_timing.options``), the measurement (``RunResult.measured``) and bookkeeping (timestamps, the
error). A sweep row adds the cell key, the process and repeat indices, the raw-latencies file
and the warnings. An error row carries the same fields: the options as requested, the
measurement as nulls. Which fields there are, and their types, is declared once in
``_schema``; the groups' names are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from inferclock._common.util import is_int, utc_now
from inferclock._platform.host import host_id
from inferclock._timing import schema as _schema
from inferclock._timing.schema import (
    BOOK_FIELDS,
    CLUSTER_FIELDS,
    IDENTITY_FIELDS,
    MEASURED_FIELDS,
    OPTION_FIELDS,
    RUN_FIELDS,
    SWEEP_FIELDS,
)

if TYPE_CHECKING:
    from inferclock._timing.modelinfo import ModelFacts
    from inferclock._timing.result import RunResult

__all__ = [
    "BOOK_FIELDS", "CLUSTER_FIELDS", "IDENTITY_FIELDS", "MEASURED_FIELDS", "SWEEP_FIELDS",
    "done_runs", "error_row", "option_fields", "result_row", "run_fields", "sweep_row",
]  # fmt: skip


def option_fields() -> tuple[str, ...]:
    """The row field of every declared run option, in declaration order."""
    return OPTION_FIELDS


def run_fields() -> tuple[str, ...]:
    """Every field of a run's row, in order."""
    return RUN_FIELDS


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
    return {f: requested.get(f) for f in OPTION_FIELDS}


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
        if host_name is not None and _schema.get(r, "host_name") != host_name:
            continue
        if _schema.get(r, "error") is None and not _schema.get(r, "interrupted"):
            p, rep = _schema.get(r, "process", 0), _schema.get(r, "repeat", 0)
            if is_int(p) and is_int(rep):
                done.add((str(_schema.at(r, "key")), int(p), int(rep)))
    return done
