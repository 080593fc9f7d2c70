"""Results files (JSON Lines) and the table that reads them.

A results file is JSON Lines: line 1 is a header (``kind: "header"``, ``format_version``, the
environment), every other line one row (one cell x process x repeat; see the schema in the
sweep docs). Files only ever grow:

* :class:`ResultWriter` appends one row per call with ``flush`` + ``fsync``, never rewriting a
  line. A torn last line (power cut mid-write) is left where it is; the next append first ends
  it with a newline so the new row starts on a clean line and readers skip the torn one.
* :func:`load_file` / :func:`read_rows` skip lines that are not valid JSON rows and count them,
  and refuse a file of an unknown or newer format version with a message saying what to do.
* Non-finite floats are written as ``null`` so every line is strict JSON (jq, JavaScript).

:class:`ResultTable` loads one or several files, filters rows, pools the rows of a cell into a
:class:`CellSummary` (the median of the per-run medians), and exports CSV, JSON, pandas and a
markdown summary.
"""

from __future__ import annotations

import csv
import json
import math
import os
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from inferclock._core import ConfigError, InferclockError

if TYPE_CHECKING:
    import pandas

__all__ = [
    "FORMAT_VERSION",
    "CellSummary",
    "ResultFile",
    "ResultTable",
    "ResultWriter",
    "load_file",
    "read_rows",
]

FORMAT_VERSION = 1

Row = dict[str, Any]
PathLike = str | os.PathLike[str]

# Upgraders from format version v to v + 1, applied to every row of an older file on load.
# Version 1 is the first format, so there is nothing to upgrade yet.
_UPGRADES: dict[int, Callable[[Row], Row]] = {}


class ResultFile(NamedTuple):
    """One results file as read: its header, its rows, and how many lines were skipped."""

    path: Path
    header: Row
    rows: list[Row]
    skipped_lines: int


def check_output_path(path: PathLike, what: str = "output file") -> Path:
    """Resolve ``path`` and check its directory exists and is writable; ConfigError if not.

    Root passes ``os.access`` on read-only directories, so callers still catch the OSError of
    the actual write; this check gives the common mistakes a clear message before any work.
    """
    p = Path(path).expanduser()
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise ConfigError(f"{what} {str(p)!r}: directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise ConfigError(f"{what} {str(p)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {str(p)!r}: directory {str(parent)!r} is not writable")
    if p.exists() and p.is_dir():
        raise ConfigError(f"{what} {str(p)!r} is a directory, expected a file path")
    return p


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} to a results file: {obj!r}")


def _strict(obj: Any) -> Any:
    # NaN/inf are not JSON; null says the same ("no value") and every parser reads it.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, np.floating) and not np.isfinite(obj):
        return None
    return obj


def _dumps(obj: Mapping[str, Any]) -> bytes:
    text = json.dumps(
        _strict(dict(obj)), default=_json_default, ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8") + b"\n"


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; not every filesystem allows it, which is harmless.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_header(header: Any, path: Path) -> Row:
    if not isinstance(header, dict) or header.get("kind") != "header":
        raise InferclockError(
            f"{str(path)!r} is not an inferclock results file: its first line is not a header "
            f'(expected {{"kind": "header", "format_version": {FORMAT_VERSION}, ...}})'
        )
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise InferclockError(
            f"{str(path)!r}: header has no integer format_version (got {version!r})"
        )
    if version > FORMAT_VERSION:
        raise InferclockError(
            f"{str(path)!r} has format_version {version}, newer than this inferclock reads "
            f"(up to {FORMAT_VERSION}): upgrade inferclock to read it"
        )
    if version < FORMAT_VERSION and any(v not in _UPGRADES for v in range(version, FORMAT_VERSION)):
        raise InferclockError(
            f"{str(path)!r} has unknown format_version {version}; "
            f"this inferclock reads versions 1..{FORMAT_VERSION}"
        )
    return header


def _parse_line(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def load_file(path: PathLike) -> ResultFile:
    """Read a results file: header, rows, and the number of lines skipped.

    Lines that are not valid JSON objects with ``kind == "row"`` (a torn line after a power
    cut, a stray header) are skipped and counted, not warned about. Rows of an older format
    version are upgraded; a newer or unknown version raises InferclockError.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"results file {str(p)!r} does not exist") from None
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        raise InferclockError(f"results file {str(p)!r} is empty (no header line)")
    header = _check_header(_parse_line(lines[0]), p)
    version: int = header["format_version"]
    rows: list[Row] = []
    skipped = 0
    for raw in lines[1:]:
        obj = _parse_line(raw)
        if (
            not isinstance(obj, dict)
            or obj.get("kind") != "row"
            or not isinstance(obj.get("key"), str)
        ):
            skipped += 1
            continue
        for v in range(version, FORMAT_VERSION):
            obj = _UPGRADES[v](obj)
        rows.append(obj)
    return ResultFile(p, header, rows, skipped)


def read_rows(path: PathLike) -> tuple[Row, list[Row]]:
    """``(header, rows)`` of a results file; see :func:`load_file` (which also counts skips)."""
    f = load_file(path)
    return f.header, f.rows


class ResultWriter:
    """Appends rows to a JSON Lines results file, durably, never rewriting a line.

    A new file is created with ``header`` as its first line (``kind``, ``format_version`` and
    ``created`` are filled in). An existing file is appended to after checking its header's
    format version; its header is then the one in :attr:`header`. Each :meth:`append` opens,
    writes one line, flushes, fsyncs and closes, so no handle outlives a call and every
    returned ``append`` is on disk.
    """

    def __init__(self, path: PathLike, header: Mapping[str, Any]) -> None:
        self.path = check_output_path(path, "results file")
        if self.path.exists() and self.path.stat().st_size > 0:
            first = _first_line(self.path)
            existing = _parse_line(first)
            if existing is None:
                raise InferclockError(
                    f"results file {str(self.path)!r} exists but its first line is not a valid "
                    "header (torn or not an inferclock file): move it away or pick another path"
                )
            checked = _check_header(existing, self.path)
            if checked["format_version"] != FORMAT_VERSION:
                raise InferclockError(
                    f"results file {str(self.path)!r} has format_version "
                    f"{checked['format_version']}; this inferclock appends only to version "
                    f"{FORMAT_VERSION} files: write to a new file"
                )
            self.header: Row = checked
            self.created = False
            return
        full: Row = {"kind": "header", "format_version": FORMAT_VERSION}
        full["created"] = datetime.now(UTC).isoformat(timespec="seconds")
        full.update(header)
        if full.get("format_version") != FORMAT_VERSION or full.get("kind") != "header":
            raise ConfigError(
                f"header may not set kind/format_version to {full.get('kind')!r}/"
                f"{full.get('format_version')!r}; they are 'header'/{FORMAT_VERSION}"
            )
        line = _dumps(full)
        # An empty file (crash between create and header write) holds nothing to keep.
        mode = "wb" if self.path.exists() else "xb"
        try:
            with self.path.open(mode) as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            raise ConfigError(f"cannot create results file {str(self.path)!r}: {e}") from e
        _fsync_dir(self.path.parent)
        self.header = full
        self.created = True

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row as one line, then flush and fsync."""
        full: Row = {"kind": "row", **row}
        if full["kind"] != "row":
            raise ConfigError(f"a row must have kind 'row', got {full['kind']!r}")
        if not isinstance(full.get("key"), str):
            raise ConfigError(f"a row needs a string 'key' (the cell key), got {full.get('key')!r}")
        line = _dumps(full)  # serialize first: a failure here writes nothing
        try:
            with self.path.open("a+b") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        # Torn last line: end it so this row starts clean; readers skip it.
                        line = b"\n" + line
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            raise InferclockError(f"cannot append to results file {str(self.path)!r}: {e}") from e


def _first_line(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.readline()


@dataclass(frozen=True)
class CellSummary:
    """The rows of one cell (its processes and repeats) pooled into one line of a table.

    ``median_ns`` is the median of the per-run medians (a run is one row: one process x
    repeat); ``ci95_*`` spans every run's CI (the single run's CI when there is one);
    ``spread`` is (max - min) / median of the per-run medians, None for a single run.
    ``p99_ns``, ``throughput_fps`` and the start-up times are medians over runs.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(row: Mapping[str, Any], field: str) -> float | None:
    v = row.get(field)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def _median_of(rows: Sequence[Mapping[str, Any]], field: str) -> float | None:
    vals = [v for v in (_num(r, field) for r in rows) if v is not None]
    return statistics.median(vals) if vals else None


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
        str(s.socket),
        s.key,
    )


def fmt_num(v: float | None) -> str:
    """A number for a table: about 4 significant digits, no exponent; '-' for None."""
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    if a >= 1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def _ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6


def markdown_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table ('|' in cells escaped)."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(cell(c) for c in line) + " |" for line in body)
    return "\n".join(out)


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
    def load(cls, *paths: PathLike) -> ResultTable:
        """Rows of every file in ``paths``, in file order."""
        if not paths:
            raise ConfigError("ResultTable.load needs at least one results file path")
        table = cls()
        for path in paths:
            f = load_file(path)
            table._headers.append(f.header)
            table._paths.append(f.path)
            table.skipped_lines += f.skipped_lines
            base = f.path.resolve().parent
            for r in f.rows:
                table._rows.append(r)
                table._base[id(r)] = base
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

    def summary(self) -> list[CellSummary]:
        """One :class:`CellSummary` per cell that has at least one row without error."""
        groups: dict[str, list[Row]] = {}
        for r in self._rows:
            groups.setdefault(r["key"], []).append(r)
        out: list[CellSummary] = []
        for key, rows in groups.items():
            good = [
                r
                for r in rows
                if r.get("error") is None and _num(r, "latency_median_ns") is not None
            ]
            if not good:
                continue
            medians = [float(r["latency_median_ns"]) for r in good]
            med = statistics.median(medians)
            lows = [v for v in (_num(r, "latency_ci95_low_ns") for r in good) if v is not None]
            highs = [v for v in (_num(r, "latency_ci95_high_ns") for r in good) if v is not None]
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
                    median_ns=med,
                    ci95_low_ns=min(lows) if lows else None,
                    ci95_high_ns=max(highs) if highs else None,
                    p99_ns=_median_of(good, "latency_p99_ns"),
                    throughput_fps=_median_of(good, "throughput_fps"),
                    spread=(max(medians) - min(medians)) / med if len(good) > 1 and med else None,
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
        text = json.dumps(_strict(doc), default=_json_default, ensure_ascii=False, indent=1)
        p.write_text(text + "\n", encoding="utf-8")
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
        parts: list[str] = []
        summ = self.summary()
        if summ:
            multi = any(s.runs > 1 for s in summ)
            header = [
                "model",
                "device",
                "precision req/exec",
                "batch",
                "mode",
                "median ms [95% CI]",
                "p99 ms",
                "throughput /s",
                "n",
            ]
            if multi:
                header += ["runs", "spread"]
            body = []
            for s in summ:
                ci = (
                    f" [{fmt_num(_ms(s.ci95_low_ns))}, {fmt_num(_ms(s.ci95_high_ns))}]"
                    if s.ci95_low_ns is not None and s.ci95_high_ns is not None
                    else ""
                )
                line = [
                    s.model,
                    s.device,
                    f"{s.precision_requested}/{s.precision_executed or '?'}",
                    str(s.batch_size),
                    s.mode,
                    f"{fmt_num(_ms(s.median_ns))}{ci}",
                    fmt_num(_ms(s.p99_ns)),
                    fmt_num(s.throughput_fps),
                    str(s.n),
                ]
                if multi:
                    line += [str(s.runs), "-" if s.spread is None else f"{s.spread:.1%}"]
                body.append(line)
            parts.append(markdown_table(header, body))
        else:
            parts.append("_No successful measurements._")
        errs = self.errors()
        if errors and len(errs):
            parts.append(f"**Errors ({len(errs)} rows):**")
            parts.append(errors_markdown(errs.rows))
        return "\n\n".join(parts) + "\n"


def errors_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A table of error rows: cell key, process/repeat, kind and message."""
    body = [
        [
            str(r.get("key")),
            f"{r.get('process', '-')}/{r.get('repeat', '-')}",
            str(r.get("error_kind") or "-"),
            " ".join(str(r.get("error")).split())[:300],
        ]
        for r in rows
    ]
    return markdown_table(["cell", "process/repeat", "kind", "error"], body)


def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(_strict(v), default=_json_default, ensure_ascii=False, sort_keys=True)
    return v
