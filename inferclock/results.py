"""Result tables: rows of one or several results files, filtered, pooled and exported.

This module owns :class:`ResultTable` (load, filter, ok/errors, raw latencies) and
:class:`CellSummary` (the rows of a cell combined into one line, by ``_cell``: the same method
``compare`` uses), with the exports to CSV, JSON, pandas and markdown. Rows of different hosts
(``_host``) are never pooled: loading files of several hosts is refused unless
``allow_mixed=True``, and then each host's rows stay their own cells. The file format itself
(header, durable appends, tolerant reads, strict JSON) is :mod:`inferclock._jsonl`; markdown
rendering is :mod:`inferclock._markdown`. Their public names are re-exported here, so ``from
inferclock.results import ResultWriter, load_file, fmt_num, ...`` keeps working.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferclock import _cell
from inferclock._core import ConfigError, InferclockError
from inferclock._errors import ConfigTypeError
from inferclock._host import differences as _host_diff, host_id
from inferclock._jsonl import (
    FORMAT_VERSION,
    PathLike,
    ResultFile,
    ResultWriter,
    Row,
    check_output_path,
    load_file,
    read_rows,
    strict_dumps,
)
from inferclock._markdown import errors_markdown, fmt_num, markdown_table, summary_markdown

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


@dataclass(frozen=True)
class CellSummary:
    """The rows of one cell on one host (its processes and repeats) combined into one line.

    ``median_ns`` and ``throughput_fps`` with their intervals (``ci95_*``, ``throughput_ci_*``)
    combine the runs within and between processes (``_intervals.combine``, the method
    ``compare`` uses); ``ci_confidence`` is the coverage the median's interval actually has
    (below 0.95 only when the runs were too short for 95%). ``multimodal``: the processes
    disagree beyond their own intervals (None with one process). ``spread`` is (max - min) /
    median of the per-run medians, None for a single run. ``p99_ns`` and the start-up times are
    medians over runs. An open-loop cell (server, multistream) has its asked rate ``qps``;
    its latencies are due-time ones, and ``verdict`` is "VALID" only when every run with a
    verdict is VALID ("INVALID" when any is, None when no run has one).
    """

    key: str
    model: str
    device: str
    precision_requested: str
    precision_executed: str | None
    batch_size: int
    mode: str
    socket: int | None
    runs: int
    n: int
    median_ns: float
    ci95_low_ns: float | None
    ci95_high_ns: float | None
    p99_ns: float | None
    throughput_fps: float | None
    spread: float | None
    read_ms: float | None
    reshape_ms: float | None
    compile_ms: float | None
    first_infer_ms: float | None
    compile_cache: str | None
    errors: int
    host: str | None = None
    ci_confidence: float | None = None
    processes: int = 1
    multimodal: bool | None = None
    throughput_ci_low_fps: float | None = None
    throughput_ci_high_fps: float | None = None
    qps: float | None = None
    verdict: str | None = None

    @property
    def config(self) -> str | None:
        """What the key names beyond the six usual fields (a tune point's
        ``streams=2,requests=4``), or None."""
        extra = self.key.split("|")[6:]
        return "|".join(extra) if extra else None

    @property
    def mode_label(self) -> str:
        """The mode as tables show it: ``"server @200 qps"`` for an open-loop cell, with the
        cell's ``config`` when it has one."""
        label = self.mode if self.qps is None else f"{self.mode} @{self.qps:g} qps"
        return label if self.config is None else f"{label} {self.config}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(row: Mapping[str, Any], field: str) -> float | None:
    v = row.get(field)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _nums(rows: Sequence[Mapping[str, Any]], field: str) -> list[float]:
    """The finite numbers ``field`` holds in ``rows`` (missing, null, NaN and bools left out)."""
    return [v for v in (_num(r, field) for r in rows) if v is not None]


def _median_of(rows: Sequence[Mapping[str, Any]], field: str) -> float | None:
    vals = _nums(rows, field)
    return statistics.median(vals) if vals else None


def _verdict(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """A cell's verdict: INVALID when any run's is, VALID when all that have one are."""
    v = {r.get("verdict") for r in rows} - {None}
    return None if not v else "VALID" if v == {"VALID"} else "INVALID"


def _joined(values: Iterable[Any]) -> str | None:
    seen = list(dict.fromkeys(str(v) for v in values if v is not None))
    return "/".join(seen) if seen else None


_PRECISION_ORDER = {"f32": 0, "bf16": 1, "f16": 2, "int8": 3, "default": 4}


def precision_rank(precision: str) -> tuple[int, str]:
    """Sort key putting precisions in their usual order (f32, bf16, f16, int8, others)."""
    return _PRECISION_ORDER.get(precision, len(_PRECISION_ORDER)), precision


def _sort_key(s: CellSummary) -> tuple[Any, ...]:
    return (
        s.model,
        s.device,
        s.mode,
        precision_rank(s.precision_requested),
        s.batch_size,
        s.qps or 0.0,  # open-loop cells by rate, not by their keys' text
        str(s.socket),
        s.key,
    )


class ResultTable:
    """Rows of one or several results files, with filters, pooling and exports.

    Rows are the dicts as stored (unknown extra keys kept). Raw latencies named by a row's
    ``raw_latencies`` field are resolved against the directory of the file the row came from.
    """

    def __init__(
        self,
        rows: Iterable[Mapping[str, Any]] = (),
        headers: Sequence[Mapping[str, Any]] = (),
        *,
        base_dir: PathLike | None = None,
    ) -> None:
        self._rows: list[Row] = [dict(r) for r in rows]
        self._headers: list[Row] = [dict(h) for h in headers]
        base = Path(base_dir) if base_dir is not None else Path.cwd()
        self._base: dict[int, Path] = {id(r): base for r in self._rows}
        self._paths: list[Path] = []
        self.skipped_lines = 0

    @classmethod
    def load(cls, *paths: PathLike, allow_mixed: bool = False) -> ResultTable:
        """Rows of every file in ``paths``, in file order.

        Rows of different hosts (CPU, cores, sockets, kernel, OpenVINO or inferclock version
        differ: ``row["host"]``, or the file header's fingerprint for older rows) are refused,
        naming the differences, unless ``allow_mixed``: then they load, and every summary
        keeps each host's rows apart."""
        if not paths:
            raise ConfigError("ResultTable.load needs at least one results file path")
        if not isinstance(allow_mixed, bool):
            raise ConfigTypeError(f"allow_mixed must be True or False, got {allow_mixed!r}")
        table = cls()
        hosts: dict[str, tuple[Path, Mapping[str, Any]]] = {}
        for path in paths:
            f = load_file(path)
            table._headers.append(f.header)
            table._paths.append(f.path)
            table.skipped_lines += f.skipped_lines
            base = f.path.resolve().parent
            env = f.header.get("environment")
            env = env if isinstance(env, Mapping) else {}
            for r in f.rows:
                if r.get("host") is None and env:
                    r["host"] = host_id(env)
                if isinstance(r.get("host"), str):
                    hosts.setdefault(r["host"], (f.path, env))
                table._rows.append(r)
                table._base[id(r)] = base
        if len(hosts) > 1 and not allow_mixed:
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
        t.skipped_lines = self.skipped_lines
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
        """Rows without an error."""
        return self._derive(r for r in self._rows if r.get("error") is None)

    def errors(self) -> ResultTable:
        """Rows with an error (crash, timeout, OpenVINO error...)."""
        return self._derive(r for r in self._rows if r.get("error") is not None)

    def keys(self, *, ok_only: bool = False) -> list[str]:
        """Cell keys present (unique, first-seen order); ``ok_only`` drops error rows."""
        rows = self.ok()._rows if ok_only else self._rows
        return list(dict.fromkeys(r["key"] for r in rows))

    def raw_latencies_path(self, row: Mapping[str, Any]) -> Path | None:
        """Path of the row's raw latencies .npy (resolved), or None when it has none."""
        rel = row.get("raw_latencies")
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
        """The host identities of the rows (first-seen order; rows without one left out)."""
        return list(dict.fromkeys(r["host"] for r in self._rows if isinstance(r.get("host"), str)))

    def summary(self) -> list[CellSummary]:
        """One :class:`CellSummary` per cell and host that has at least one row without
        error."""
        groups: dict[tuple[str, Any], list[Row]] = {}
        for r in self._rows:
            groups.setdefault((r["key"], r.get("host")), []).append(r)
        out: list[CellSummary] = []
        for (key, host), rows in groups.items():
            good = [
                r
                for r in rows
                if r.get("error") is None and _num(r, "latency_median_ns") is not None
            ]
            if not good:
                continue
            medians = [float(r["latency_median_ns"]) for r in good]
            med = statistics.median(medians)
            lat = _cell.combine_rows(good, "median")
            tp = _cell.combine_rows(good, "throughput")
            first = good[0]
            batch = first.get("batch_size")
            out.append(
                CellSummary(
                    key=key,
                    model=str(first.get("model")),
                    device=str(first.get("device")),
                    precision_requested=str(first.get("precision_requested")),
                    precision_executed=_joined(r.get("precision_executed") for r in good),
                    batch_size=int(batch) if isinstance(batch, int) else 0,
                    mode=str(first.get("mode")),
                    socket=first.get("socket"),
                    runs=len(good),
                    n=sum(int(r.get("n") or 0) for r in good),
                    median_ns=lat.estimate if lat else med,
                    ci95_low_ns=lat.low if lat else None,
                    ci95_high_ns=lat.high if lat else None,
                    p99_ns=_median_of(good, "latency_p99_ns"),
                    throughput_fps=tp.estimate if tp else _median_of(good, "throughput_fps"),
                    spread=(max(medians) - min(medians)) / med if len(good) > 1 and med else None,
                    host=host,
                    ci_confidence=lat.confidence if lat and lat.low is not None else None,
                    processes=lat.processes if lat else 1,
                    multimodal=_cell.multimodal(good, _cell.metric_for("auto", first.get("mode"))),
                    throughput_ci_low_fps=tp.low if tp else None,
                    throughput_ci_high_fps=tp.high if tp else None,
                    qps=_num(first, "qps"),
                    verdict=_verdict(good),
                    read_ms=_median_of(good, "read_ms"),
                    reshape_ms=_median_of(good, "reshape_ms"),
                    compile_ms=_median_of(good, "compile_ms"),
                    first_infer_ms=_median_of(good, "first_infer_ms"),
                    compile_cache=_joined(r.get("compile_cache") for r in good),
                    errors=len(rows) - len(good),
                )
            )
        out.sort(key=_sort_key)
        return out

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


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        return strict_dumps(v, sort_keys=True)
    return v
