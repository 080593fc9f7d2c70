"""The result-row schema, declared once: every field a row of a results file can have, with
its type and whether it may be null, and the accessor every reader and writer goes through.

Groups, in the order a sweep's row holds them (``_timing.rows`` builds the rows):

* ``kind`` (``"row"``), put first by ``_common.jsonl.ResultWriter``; ``key``, the cell key.
* **identity**: the model and the machine (``host``: ``_platform.host.host_id`` of the fingerprint).
* **options**: one field per declared run option (``_timing.options``), its type the option's
  declared type as JSON (tuples are lists; an option's ``to_row`` may say another, as
  ``cpus`` -> a CPU-list text), or null (``ic.measure`` rows and results made without options).
* **measured**: what a measurement fills (``RunResult.measured``); an error row has nulls.
* **bookkeeping**: timestamps and the error.
* **sweep** and **cluster**: the run's place in a sweep, and where a cluster ran it.
* **tune**: what ``ic.tune`` adds to its rows (``_search.tune``).
* **timeit**: what ``inferclock timeit`` adds to its rows (``_workers.timeit_result``).
* **export**: what ``RunResult.to_dict(samples=True)`` / ``to_json`` add; never in a file.

Readers ask :func:`get` / :func:`at` (``row.get(name)`` / ``row[name]``) for a field by name,
and a name the schema lacks is an error at once (``RowSchemaError``), not a silent None;
``tests/test_rows.py`` scans the package for literal names. Writers pass a row to
:func:`check` before it is appended: a field the schema lacks, or a value of another type, is
an error naming the field and the writer. Types are checked shallowly (a dict is a dict).
"""

from __future__ import annotations

import numbers
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferclock._common.errors import RowSchemaError
from inferclock._platform.host import HOST, HOST_NAME
from inferclock._timing import options as _options

__all__ = [
    "BOOK_FIELDS", "CLUSTER_FIELDS", "EXPORT_FIELDS", "FIELDS", "IDENTITY_FIELDS",
    "LATENCY_STATS", "MEASURED_FIELDS", "OPTION_FIELDS", "RUN_FIELDS", "SWEEP_FIELDS",
    "TIMEIT_FIELDS", "TUNE_FIELDS", "Field", "RowSchemaError", "at", "check", "declared", "get",
    "name", "names",
]  # fmt: skip


@dataclass(frozen=True)
class Field:
    """One row field: its name, its type as declared (``float | None``), its group."""

    name: str
    type: Any
    group: str

    @property
    def nullable(self) -> bool:
        return type(None) in _parts(self.type)

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` may be written in this field (shallow: a dict's items are not
        looked at; an int is a float, a bool is neither)."""
        return any(_is(value, t) for t in _parts(self.type))


def _parts(tp: Any) -> tuple[Any, ...]:
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return tuple(p for a in typing.get_args(tp) for p in _parts(a))
    return (tp,)


def _is(value: Any, tp: Any) -> bool:
    if tp is Any:
        return True
    if tp is type(None):
        return value is None
    kind = typing.get_origin(tp) or tp
    if kind is bool:
        return isinstance(value, (bool, np.bool_))
    if isinstance(value, (bool, np.bool_)):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real)
    if kind in (list, tuple):
        return isinstance(value, (list, tuple))
    if kind is dict:
        return isinstance(value, Mapping)
    return isinstance(value, kind)


def _group(group: str, *fields: tuple[str, Any]) -> tuple[Field, ...]:
    return tuple(Field(n, t, group) for n, t in fields)


def _option_type(opt: _options.Option, declared: Any) -> Any:
    """An option's row type: its ``to_row``'s return type when it has one, else its declared
    type with tuples as lists; null always allowed."""
    to_row = opt.meta.to_row
    returned = typing.get_type_hints(to_row).get("return") if to_row is not None else None
    tp = returned if returned not in (None, Any) else declared
    parts = tuple(list if typing.get_origin(p) is tuple else p for p in _parts(tp))
    return typing.Union[(*parts, None)]


def _option_fields() -> tuple[Field, ...]:
    hints = typing.get_type_hints(_options.RunOptions)
    return tuple(
        Field(o.row, _option_type(o, hints[o.name]), "options") for o in _options.options()
    )


#: ``kind`` and ``key``: what every row of a results file has (``ResultWriter`` puts ``kind``
#: first; the cell key names the cell).
FILE = _group("file", ("kind", str), ("key", str))
IDENTITY = _group(
    "identity",
    ("model", str), ("model_path", str | None), ("model_sha256", str | None),
    (HOST, str | None),  # the machine's identity: rows of two hosts are never pooled
)  # fmt: skip
OPTIONS = _option_fields()
#: The summary statistics a row holds as ``latency_<stat>_ns``.
LATENCY_STATS = ("min", "mean", "median", "p90", "p95", "p99", "max", "stdev", "mad")
#: What a measurement fills (``RunResult.measured``, in this order); null in an error row.
MEASURED = _group(
    "measured",
    ("precision_executed", str | None), ("precision_hint", str | None),
    ("precision_mix", dict[str, Any] | None), ("cpus", str | None), ("streams", int | None),
    ("threads", int | None), ("requests", int | None), ("n", int | None),
    ("warmup_n", int | None), ("warmup_steady", bool | None), ("stop_reason", str | None),
    *((f"latency_{s}_ns", float | None) for s in LATENCY_STATS),
    ("latency_cv", float | None), ("latency_drift", float | None),
    ("latency_ci95_low_ns", float | None), ("latency_ci95_high_ns", float | None),
    ("latency_ci_confidence", float | None),
    ("latency_percentiles", dict[str, dict[str, Any]] | None),
    ("throughput_fps", float | None), ("throughput_ci_low_fps", float | None),
    ("throughput_ci_high_fps", float | None), ("async_lost", int | None),
    ("async_stalls", int | None), ("read_ms", float | None),
    ("reshape_ms", float | None), ("compile_ms", float | None),
    ("first_infer_ms", float | None), ("compile_cache", str | None), ("macs", int | None),
    ("gflops", float | None), ("config", dict[str, Any] | None),
    ("inputs", list[dict[str, Any]] | None), ("env_vars", dict[str, str] | None),
    ("interrupted", bool | None), ("isolated", bool | None), ("duration_s", float | None),
    ("stop_note", str | None), ("multimodal", bool | None), ("multimodal_note", str | None),
    ("instability", list[str] | None), ("verdict", str | None),
    ("verdict_reason", str | None), ("server", dict[str, Any] | None),
    # LoadGen's early-stopping percentile estimates, the official one first (latency: p90,
    # p99; server / multistream: the run's percentile): ``early_stopping.PercentileEstimate``
    ("early_stopping", list[dict[str, Any]] | None),
    ("loadgen", dict[str, Any] | None),  # backend "loadgen": LoadGen's summary, parsed
)  # fmt: skip
BOOK = _group(
    "bookkeeping",
    ("started_at", str), ("finished_at", str), ("error", str | None), ("error_kind", str | None),
)  # fmt: skip
#: A sweep's: the process and repeat indices, the raw-latencies file, the warnings, and the
#: host's name (its Dask worker's name, else its hostname; null in a local sweep).
SWEEP = _group(
    "sweep",
    ("process", int | None), ("repeat", int | None), ("raw_latencies", str | None),
    ("warnings", list[str] | None), (HOST_NAME, str | None),
)  # fmt: skip
#: A cluster's rows: the Dask worker, the attempt (2: after its first host was lost) and the
#: unit's span on its host; a local sweep's are null.
CLUSTER = _group(
    "cluster",
    ("dask_worker", str | None), ("attempt", int | None), ("task_started_at", str | None),
    ("task_finished_at", str | None),
)  # fmt: skip
#: ``ic.tune``'s: the row's role ("point"/"baseline"), the objective, the run's own value
#: (peak_qps: the search's bracket as low/high, and its file).
TUNE = _group(
    "tune",
    ("tune_role", str), ("tune_objective", str), ("tune_file", str),
    ("tune_value", float | None), ("tune_low", float | None), ("tune_high", float | None),
)  # fmt: skip
#: ``inferclock timeit``'s: the statement, its setup and the executions per sample (the row's
#: figures are per execution; ``model`` and ``key`` are its name, the statement by default).
TIMEIT = _group("timeit", ("timeit_statement", str), ("timeit_setup", str), ("timeit_number", int))
#: ``RunResult.to_dict(samples=True)``'s samples and ``to_json``'s fingerprint (no file has
#: them: a sweep keeps raw samples in ``.npy`` files, the fingerprint in the header).
EXPORT = _group(
    "export", ("latencies_ns", list[int]), ("warmup_ns", list[int]), ("env", dict[str, Any])
)

#: Every declared field by name, groups in the order above.
FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        *FILE,
        *IDENTITY,
        *OPTIONS,
        *MEASURED,
        *BOOK,
        *SWEEP,
        *CLUSTER,
        *TUNE,
        *TIMEIT,
        *EXPORT,
    )
}


def _names(group: tuple[Field, ...]) -> tuple[str, ...]:
    return tuple(f.name for f in group)


IDENTITY_FIELDS = _names(IDENTITY)
OPTION_FIELDS = _names(OPTIONS)
MEASURED_FIELDS = _names(MEASURED)
BOOK_FIELDS = _names(BOOK)
#: A run's row (``_timing.rows.result_row`` / ``error_row``), in order.
RUN_FIELDS = IDENTITY_FIELDS + OPTION_FIELDS + MEASURED_FIELDS + BOOK_FIELDS
CLUSTER_FIELDS = _names(CLUSTER)
#: What a sweep's row adds to a run's: ``key`` first, the rest after the run's fields.
SWEEP_FIELDS = ("key", *_names(SWEEP), *CLUSTER_FIELDS)
TUNE_FIELDS = _names(TUNE)
TIMEIT_FIELDS = _names(TIMEIT)
EXPORT_FIELDS = _names(EXPORT)


def declared(field: str) -> bool:
    """Whether ``field`` is a row field (for a name made at run time, as ``latency_p97_ns``)."""
    return field in FIELDS


def _undeclared(field: Any) -> RowSchemaError:
    return RowSchemaError(
        f"{field!r} is not a result-row field (inferclock._timing.schema declares them; "
        f"did you mean {_nearest(field)}?)"
    )


def _nearest(field: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(field), list(FIELDS), n=3)
    return " or ".join(repr(c) for c in close) if close else "one of schema.FIELDS"


def name(field: str) -> str:
    """``field``, refused unless the schema declares it (a column name, a metric's field)."""
    if field not in FIELDS:
        raise _undeclared(field)
    return field


def names(*fields: str) -> tuple[str, ...]:
    """``fields``, each refused unless declared."""
    return tuple(name(f) for f in fields)


def get(row: Mapping[str, Any], field: str, default: Any = None) -> Any:
    """``row.get(field, default)`` for a declared field; RowSchemaError for any other name."""
    if field not in FIELDS:
        raise _undeclared(field)
    return row.get(field, default)


def at(row: Mapping[str, Any], field: str) -> Any:
    """``row[field]`` (KeyError when the row lacks it) for a declared field; RowSchemaError
    for any other name."""
    if field not in FIELDS:
        raise _undeclared(field)
    return row[field]


def check(row: Mapping[str, Any], writer: str) -> None:
    """Refuse a row that ``writer`` is about to write with a field the schema lacks or a value
    of another type than the field's (RowSchemaError naming both)."""
    for key, value in row.items():
        f = FIELDS.get(key)
        if f is None:
            raise RowSchemaError(
                f"{writer} writes a row with field {key!r}, which the result-row schema does "
                "not declare: declare it in inferclock/_timing/schema.py (or leave it out)"
            )
        if not f.accepts(value):
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            raise RowSchemaError(
                f"{writer} writes row field {key!r} = {shown} ({type(value).__name__}), but "
                f"the result-row schema declares it {_type_text(f.type)}"
            )


def _type_text(tp: Any) -> str:
    return " | ".join(
        "None" if p is type(None) else getattr(p, "__name__", None) or str(p) for p in _parts(tp)
    )
