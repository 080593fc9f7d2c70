"""Result tables: rows of one or several results files, filtered, pooled and exported.

This module owns :class:`ResultTable` (load, filter, ok/errors, raw latencies, summary) with
the exports to CSV, JSON, pandas and markdown; :class:`CellSummary` (the rows of a cell
combined into one line) is made in :mod:`inferclock._analysis.summary`. Rows of different hosts
(``_platform.host``) are never pooled: loading files of several hosts is refused unless
``allow_mixed=True`` or one cluster sweep's file holds them all, and each host's rows stay
their own cells. The file format itself (header, durable appends, tolerant reads, strict
JSON) is :mod:`inferclock._common.jsonl`; markdown rendering is :mod:`inferclock._analysis.text`.
Their public names are re-exported here, so ``from inferclock._analysis.table import ResultWriter,
load_file, fmt_num, ...`` keeps working.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferclock._analysis.states import row_problem
from inferclock._analysis.summary import CellSummary, precision_rank, summarize_cells
from inferclock._analysis.text import errors_markdown, summary_markdown
from inferclock._common.errors import ConfigError, ConfigTypeError, InferclockError
from inferclock._common.jsonl import (
    FORMAT_VERSION,
    PathLike,
    ResultFile,
    ResultWriter,
    Row,
    RowStream,
    check_output_path,
    load_file,
    read_rows,
    row_id,
    strict_dumps,
)
from inferclock._common.text import fmt_num, markdown_table
from inferclock._platform.host import (
    differences as _host_diff,
    fill_names,
    from_cluster,
    host_id,
    label,
)
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FORMAT_VERSION",
    "CellSummary",
    "PathLike",
    "ResultFile",
    "ResultTable",
    "ResultWriter",
    "Row",
    "check_output_path",
    "errors_markdown",
    "fmt_num",
    "load_file",
    "markdown_table",
    "precision_rank",
    "read_rows",
]


class ResultTable:
    """Rows of one or several results files, with filters, pooling and exports.

    Rows are the dicts as stored (unknown extra keys kept; an older row without
    ``host_name`` gets its machine's one name, see ``_platform.host.fill_names``). Raw latencies
    named by a row's ``raw_latencies`` field are resolved against the directory of the file the row
    came from.
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]] = (),
        headers: Sequence[Mapping[str, Any]] = (),
        *,
        base_dir: PathLike | None = None,
    ) -> None:
        self._rows: list[Row] = [dict(r) for r in rows]
        fill_names(self._rows)
        self._headers: list[Row] = [dict(h) for h in headers]
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        self._base: dict[int, Path] = {id(r): base for r in self._rows}
        self._paths: list[Path] = []
        #: Lines of the files that held no row, as "path:line: why" (torn writes, garbage).
        self.skipped: list[str] = []
        #: Rows dropped because an identical row (same ``row_id``) came first.
        self.duplicates = 0
        self._summary: list[CellSummary] | None = None
        self._dedupe()

    def _dedupe(self, ids: Mapping[int, str] | None = None) -> None:
        # ``ids``: the row_id of each row cut by ``load(keep=)``, taken from the whole row.
        seen: set[str] = set()
        kept = []
        for r in self._rows:
            rid = ids[id(r)] if ids is not None else row_id(r)
            if rid not in seen:
                seen.add(rid)
                kept.append(r)
        self.duplicates += len(self._rows) - len(kept)
        self._rows = kept

    @property
    def skipped_lines(self) -> int:
        """How many lines of the files held no row (see ``skipped``)."""
        return len(self.skipped)

    @classmethod
    def load(
        cls, *paths: PathLike, allow_mixed: bool = False, keep: Callable[[Row], Row] | None = None
    ) -> ResultTable:
        """Rows of every file in ``paths``, in file order.

        Rows of different hosts (CPU, cores, sockets, kernel, OpenVINO or inferclock version
        differ: ``row["host"]``, or the file header's fingerprint for older rows) are refused,
        naming the differences, unless ``allow_mixed``: then they load, and every summary
        keeps each host's rows apart. A cluster sweep's file (its header's ``sweep.cluster``
        set) may hold several hosts: it loads as if ``allow_mixed``, with files of its own
        hosts beside it; a file of another machine is refused as above.

        Files are read one line at a time. ``keep`` cuts each row down to the part a reader
        needs (``compare`` keeps the fields it judges on: memory in proportion to those, not
        to whole rows); duplicates are still found on the whole row (``row_id``)."""
        if not paths:
            raise ConfigError("ResultTable.load needs at least one results file path")
        if not isinstance(allow_mixed, bool):
            raise ConfigTypeError(f"allow_mixed must be True or False, got {allow_mixed!r}")
        table = cls()
        hosts: dict[str, tuple[Path, Mapping[str, Any]]] = {}
        origins: list[set[str]] = []  # a cluster file's hosts, or one host of another file
        ids: dict[int, str] = {}  # id(cut row) -> row_id of the whole row
        for path in paths:
            with RowStream(path) as f:
                table._headers.append(f.header)
                table._paths.append(f.path)
                base = f.path.resolve().parent
                env = f.header.get("environment")
                env = env if isinstance(env, Mapping) else {}
                mine: set[str] = set()
                for r in f:
                    _own_host(r, env)
                    if isinstance(hid := _schema.get(r, "host"), str):
                        hosts.setdefault(hid, (f.path, env))
                        mine.add(hid)
                    if keep is not None:
                        full, r = r, keep(r)
                        ids[id(r)] = row_id(full)
                    table._rows.append(r)
                    table._base[id(r)] = base
                table.skipped += [f"{f.path}:{n}: {why}" for n, why in f.skipped]
            origins += [mine] if from_cluster(f.header) else [{h} for h in mine]
        unnamed = [r for r in table._rows if not _schema.get(r, "host_name")]
        fill_names(table._rows)
        if keep is not None and any(_schema.get(r, "host_name") for r in unnamed):
            _ids_after_fill(paths, table._rows, ids)
        table._dedupe(ids if keep is not None else None)
        if len(hosts) > 1 and not allow_mixed and not any(o >= hosts.keys() for o in origins):
            (pa, ea), *others = hosts.values()
            diffs = "; ".join(
                f"{pb}: "
                + (
                    ", ".join(_host_diff(ea, eb, identity_only=True))
                    or "(fingerprint not in its header)"
                )
                for pb, eb in others
            )
            raise ConfigError(
                f"results of {len(hosts)} different hosts would be pooled ({pa} against {diffs}): "
                "load each host's results on its own, or pass allow_mixed=True (CLI: "
                "--allow-mixed) to keep them as separate cells"
            )
        return table

    def _derive(self, rows: Iterable[Row]) -> ResultTable:
        t = ResultTable.__new__(ResultTable)
        t._rows = list(rows)
        t._headers = self._headers
        t._base = {id(r): self._base[id(r)] for r in t._rows}
        t._paths = self._paths
        t.skipped = self.skipped
        t.duplicates = self.duplicates
        t._summary = None
        return t

    @property
    def rows(self) -> list[Row]:
        return list(self._rows)

    @property
    def headers(self) -> list[Row]:
        return list(self._headers)

    @property
    def paths(self) -> list[Path]:
        """The files this table was loaded from."""
        return list(self._paths)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)

    def __repr__(self) -> str:
        return (
            f"ResultTable({len(self._rows)} rows, {len(self.keys())} cells, "
            f"{len(self.errors())} errors, files={[str(p) for p in self._paths]})"
        )

    def columns(self) -> list[str]:
        """Every field name of any row, in first-seen order."""
        return list(dict.fromkeys(k for r in self._rows for k in r))

    def filter(
        self, predicate: Callable[[Row], bool] | None = None, /, **field_equals: Any
    ) -> ResultTable:
        """Rows where ``predicate(row)`` is true and every ``field == value``.

        A value may also be a list/tuple/set of accepted values. A field no row has raises
        ConfigError (a misspelt field would otherwise give an empty table silently).
        """
        if self._rows and field_equals:
            known = set(self.columns())
            unknown = sorted(set(field_equals) - known)
            if unknown:
                raise ConfigError(f"filter: unknown field(s) {unknown}; fields are {sorted(known)}")

        def keep(r: Row) -> bool:
            for f, want in field_equals.items():
                have = r.get(f)
                if isinstance(want, (list, tuple, set, frozenset)):
                    if have not in want:
                        return False
                elif have != want:
                    return False
            return predicate is None or bool(predicate(r))

        return self._derive(r for r in self._rows if keep(r))

    def ok(self) -> ResultTable:
        """Rows without an error that are valid measurements (see :meth:`invalid`)."""
        return self._derive(
            r for r in self._rows if _schema.get(r, "error") is None and row_problem(r) is None
        )

    def invalid(self) -> ResultTable:
        """Rows without an error that are not measurements: a median that is null, NaN, <= 0
        or not a number, an interval with low > high... (``_analysis.states.row_problem``
        says why). They are never summarized, plotted or compared."""
        return self._derive(r for r in self._rows if row_problem(r) is not None)

    def notes(self, *, skipped: bool = True) -> list[str]:
        """What a reader of this table must be told: skipped lines (each named by file and
        line; left out with ``skipped=False``), duplicate rows dropped, rows that are not
        measurements (each named)."""
        out = []
        if self.skipped and skipped:
            lines = "; ".join(self.skipped)
            out.append(f"{len(self.skipped)} unreadable line(s) skipped: {lines}")
        if self.duplicates:
            out.append(
                f"{self.duplicates} duplicate row(s) dropped (identical to a row read before: "
                "the same file or rows given twice)"
            )
        bad = [f"{_schema.at(r, 'key')} ({row_problem(r)})" for r in self.invalid()]
        if bad:
            out.append(f"{len(bad)} row(s) are not valid measurements: " + "; ".join(bad))
        return out

    def errors(self) -> ResultTable:
        """Rows with an error (crash, timeout, OpenVINO error...)."""
        return self._derive(r for r in self._rows if _schema.get(r, "error") is not None)

    def keys(self, *, ok_only: bool = False) -> list[str]:
        """Cell keys present (unique, first-seen order); ``ok_only`` drops error rows."""
        rows = self.ok()._rows if ok_only else self._rows
        return list(dict.fromkeys(_schema.at(r, "key") for r in rows))

    def raw_latencies_path(self, row: Mapping[str, Any]) -> Path | None:
        """Path of the row's raw latencies .npy (resolved), or None when it has none."""
        rel = _schema.get(row, "raw_latencies")
        if not isinstance(rel, str) or not rel:
            return None
        return self._base.get(id(row), Path.cwd()) / rel

    def raw_latencies(self, row: Mapping[str, Any]) -> npt.NDArray[np.int64] | None:
        """Per-inference latencies (ns) saved for ``row``, or None when absent or missing."""
        p = self.raw_latencies_path(row)
        if p is None or not p.is_file():
            return None
        arr = np.load(p, allow_pickle=False)
        if arr.ndim != 1 or arr.size == 0:
            raise InferclockError(
                f"raw latencies {str(p)!r}: expected a non-empty 1-d array, got shape {arr.shape}"
            )
        return np.asarray(arr, dtype=np.int64)

    def hosts(self) -> list[str]:
        """The hosts of the rows by ``_platform.host.label`` (a worker's or machine's name, else the
        machine id), first-seen order; rows with neither left out."""
        return list(dict.fromkeys(h for h in map(label, self._rows) if h is not None))

    def summary(self) -> list[CellSummary]:
        """One :class:`CellSummary` per cell and host that has at least one valid measurement
        (error rows are counted in its ``errors``; invalid rows are left out)."""
        # Computed once: the report asks for it in several places (tables, figures, rate
        # curves), and a thousand cells take seconds; a table's rows do not change.
        if self._summary is None:
            self._summary = summarize_cells(r for r in self._rows if row_problem(r) is None)
        return list(self._summary)

    def to_csv(self, path: PathLike) -> Path:
        """Write flat CSV: one column per field, dict/list fields as JSON, None as empty."""
        p = check_output_path(path, "CSV file")
        cols = self.columns()
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(cols)
            for r in self._rows:
                w.writerow([_csv_cell(r.get(c)) for c in cols])
        return p

    def to_json(self, path: PathLike) -> Path:
        """Write one JSON document: ``{"format_version", "headers": [...], "rows": [...]}``."""
        p = check_output_path(path, "JSON file")
        doc = {"format_version": FORMAT_VERSION, "headers": self._headers, "rows": self._rows}
        p.write_text(strict_dumps(doc, indent=1) + "\n", encoding="utf-8")
        return p

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a DataFrame (one column per field; dict fields stay dicts)."""
        try:
            import pandas as pd
        except ImportError as e:
            raise ImportError(
                "ResultTable.to_pandas needs pandas: pip install 'inferclock[pandas]'"
            ) from e
        return pd.DataFrame.from_records(self._rows, columns=self.columns())

    def to_markdown(self, *, errors: bool = True) -> str:
        """Summary table per cell, then (with ``errors``) the error rows, if any."""
        return summary_markdown(self.summary(), self.errors().rows if errors else ())


def _own_host(row: Row, env: Mapping[str, Any]) -> None:
    """An older row without ``host`` gets its file header's machine id."""
    if _schema.get(row, "host") is None and env:
        row["host"] = host_id(env)


def _ids_after_fill(paths: Sequence[PathLike], cut: Sequence[Row], ids: dict[int, str]) -> None:
    """Each cut row's ``row_id`` again, of its whole row as ``fill_names`` named it (rows of
    a sweep resumed across versions: some named, some not): a second reading of the files,
    row for row in the same order. Rare, so the first reading does not keep whole rows."""
    rows = iter(cut)
    for path in paths:
        with RowStream(path) as f:
            env = f.header.get("environment")
            env = env if isinstance(env, Mapping) else {}
            for full, r in zip(f, rows, strict=False):
                _own_host(full, env)
                name = _schema.get(r, "host_name")
                if name != _schema.get(full, "host_name"):
                    full["host_name"] = name
                ids[id(r)] = row_id(full)


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        return strict_dumps(v, sort_keys=True)
    return v
