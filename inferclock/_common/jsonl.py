"""The results file format: JSON Lines with a versioned header, written durably, read tolerantly.

This module owns the bytes on disk and nothing above them. Line 1 of a results file is a
header (``kind: "header"``, ``format_version``, the environment), every other line one row
(one cell x process x repeat; see the schema in the sweep docs). Files only ever grow:

* :class:`ResultWriter` appends one row per call with ``flush`` + ``fsync``, never rewriting a
  line. A torn last line (power cut mid-write) is left where it is; the next append first ends
  it with a newline so the new row starts on a clean line and readers skip the torn one.
* :func:`load_file` / :func:`read_rows` skip lines that are not valid JSON rows and count them,
  upgrade rows of an older format version, and refuse a file of an unknown or newer format
  version with a message saying what to do.
* Non-finite floats are written as ``null`` so every line is strict JSON (jq, JavaScript);
  :func:`json_default` is the package's one encoder for numpy values, paths and sets.

It imports only the standard library, numpy and the extension's error classes, so a worker
process can write rows without importing tables, markdown, pandas or matplotlib (a test holds
it to that). :mod:`inferclock._analysis.table` re-exports the public names.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np

from inferclock._common.errors import ConfigError, InferclockError

__all__ = [
    "FORMAT_VERSION",
    "PathLike",
    "ResultFile",
    "ResultWriter",
    "Row",
    "RowStream",
    "canonical",
    "check_output_path",
    "json_default",
    "load_file",
    "read_rows",
    "row_id",
    "strict_dumps",
]

FORMAT_VERSION = 1

Row = dict[str, Any]
PathLike = str | os.PathLike[str]

# Upgraders from format version v to v + 1, applied to every row of an older file on load.
# Version 1 is the first format, so there is nothing to upgrade yet.
_UPGRADES: dict[int, Callable[[Row], Row]] = {}


class ResultFile(NamedTuple):
    """One results file as read: its header, its rows, how many lines were skipped, and the
    records of forced resumes that changed the sweep's settings (``kind: "resume"`` lines)."""

    path: Path
    header: Row
    rows: list[Row]
    skipped_lines: int
    resumes: list[Row] = []  # noqa: RUF012  (a NamedTuple default, never mutated)
    #: Each skipped line as (its 1-based line number in the file, why it was skipped).
    skipped: tuple[tuple[int, str], ...] = ()

    def skipped_text(self) -> list[str]:
        """Each skipped line as ``"path:line: why"``."""
        return [f"{self.path}:{n}: {why}" for n, why in self.skipped]


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


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` for what rows hold besides JSON types; TypeError otherwise.

    numpy scalars become Python numbers, arrays lists, paths strings, sets and tuples lists.
    """
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


def strict_dumps(obj: Any, **kwargs: Any) -> str:
    """``obj`` as JSON text with non-finite floats as null, encoded by :func:`json_default`.

    ``kwargs`` go to :func:`json.dumps` (``indent``, ``sort_keys``, ``allow_nan``).
    """
    return json.dumps(_strict(obj), default=json_default, ensure_ascii=False, **kwargs)


def _line(obj: Mapping[str, Any]) -> bytes:
    return strict_dumps(dict(obj), allow_nan=False).encode("utf-8") + b"\n"


def _write_synced(fh: IO[bytes], data: bytes) -> None:
    fh.write(data)
    fh.flush()
    os.fsync(fh.fileno())


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


def canonical(obj: Mapping[str, Any]) -> str:
    """A row's (or header's) canonical JSON: sorted keys, no spaces."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=json_default)


def row_id(row: Mapping[str, Any]) -> str:
    """A row's identity: the sha256 of its canonical JSON. Two rows with one id are the same
    measurement read twice: tables count it once, the history stores it once."""
    return hashlib.sha256(canonical(row).encode()).hexdigest()


#: A UTF-8 byte order mark: valid UTF-8 that some editors put first; it is read as nothing.
_BOM = b"\xef\xbb\xbf"


def _parse_line(raw: bytes) -> Any:
    try:
        return json.loads(raw.removeprefix(_BOM).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _lone_surrogate(obj: Any, where: str = "") -> str | None:
    """Why ``obj`` holds text that is not Unicode (a ``\\ud800`` escape JSON allows alone),
    naming the field; None when every string in it is valid."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError as e:
            bad = obj[e.start : e.end].encode("unicode_escape").decode("ascii")
            field = where or "(a key)"
            return f"field {field!r} holds a lone surrogate ({bad}): not valid Unicode text"
        return None
    items: Any = ()
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    for k, v in items:
        path = f"{where}[{k}]" if isinstance(k, int) else f"{where}.{k}" if where else k
        why = _lone_surrogate(k, path) if isinstance(k, str) else None
        if why := why or _lone_surrogate(v, path):
            return why
    return None


#: A surrogate code point's escape: only through one can a row hold text that is not Unicode.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _not_a_row(obj: Any, raw: bytes = b"") -> str | None:
    if obj is None:
        return "not valid JSON (a torn or damaged line)"
    if not isinstance(obj, dict):
        return f"not a JSON object (a {type(obj).__name__})"
    if obj.get("kind") != "row":
        return f"kind {obj.get('kind')!r}, not 'row'"
    if not isinstance(obj.get("key"), str):
        return "a row without a string key"
    return _lone_surrogate(obj) if _SURROGATE_ESCAPE.search(raw) else None


class RowStream:
    """A results file read one line at a time (``with RowStream(path) as s: for row in s``):
    its header on opening, then its rows, upgraded as :func:`load_file` does; skipped lines
    (``skipped``: line number, why) and resume records (``resumes``) are collected while
    iterating. Readers that keep a summary of each row (``compare``) hold one line at a time,
    never the file."""

    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        try:
            self._fh: IO[bytes] = self.path.open("rb")
        except FileNotFoundError:
            raise FileNotFoundError(f"results file {str(self.path)!r} does not exist") from None
        except IsADirectoryError:
            raise ConfigError(
                f"results file {str(self.path)!r} is a directory: give a results file "
                "(JSON Lines, .jsonl)"
            ) from None
        self._lines = enumerate(self._fh, 1)
        self.skipped: list[tuple[int, str]] = []
        self.resumes: list[Row] = []
        first = next(((i, raw) for i, raw in self._lines if raw.strip()), None)
        if first is None:
            self.close()
            raise InferclockError(f"results file {str(self.path)!r} is empty (no header line)")
        try:
            self.header = _check_header(_parse_line(first[1]), self.path)
        except InferclockError:
            self.close()
            raise
        self._version: int = self.header["format_version"]

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RowStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Row]:
        for number, raw in self._lines:
            if not raw.strip():
                continue
            obj = _parse_line(raw)
            if isinstance(obj, dict) and obj.get("kind") == "resume":
                self.resumes.append(obj)
                continue
            why = _not_a_row(obj, raw)
            if why is not None:
                self.skipped.append((number, why))
                continue
            for v in range(self._version, FORMAT_VERSION):
                obj = _UPGRADES[v](obj)
            yield obj


def load_file(path: PathLike) -> ResultFile:
    """Read a results file: header, rows, and the number of lines skipped.

    Lines that are not valid JSON objects with ``kind == "row"`` (a torn line after a power
    cut, a stray header) are skipped and listed with their line numbers (``skipped``): readers
    that judge (``compare``, the report) name them. Rows of an older format
    version are upgraded; a newer or unknown version raises InferclockError.
    """
    with RowStream(path) as s:
        rows = list(s)
    return ResultFile(s.path, s.header, rows, len(s.skipped), s.resumes, tuple(s.skipped))


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
            self.header: Row = self._existing_header()
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
        line = _line(full)
        # An empty file (crash between create and header write) holds nothing to keep.
        mode = "wb" if self.path.exists() else "xb"
        try:
            with self.path.open(mode) as fh:
                _write_synced(fh, line)
        except OSError as e:
            raise ConfigError(f"cannot create results file {str(self.path)!r}: {e}") from e
        _fsync_dir(self.path.parent)
        self.header = full
        self.created = True

    def _existing_header(self) -> Row:
        with self.path.open("rb") as fh:
            existing = _parse_line(fh.readline())
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
        return checked

    def note_resume(self, record: Mapping[str, Any]) -> None:
        """Append a ``kind: "resume"`` line: a forced resume changed what the header says."""
        self._append_line({**record, "kind": "resume"})

    def append(self, row: Mapping[str, Any]) -> None:
        """Write one row as one line, then flush and fsync."""
        full: Row = {"kind": "row", **row}
        if full["kind"] != "row":
            raise ConfigError(f"a row must have kind 'row', got {full['kind']!r}")
        if not isinstance(full.get("key"), str):
            raise ConfigError(f"a row needs a string 'key' (the cell key), got {full.get('key')!r}")
        self._append_line(full)

    def _append_line(self, obj: Mapping[str, Any]) -> None:
        line = _line(obj)  # serialize first: a failure here writes nothing
        try:
            with self.path.open("a+b") as fh:
                fh.seek(0, os.SEEK_END)
                if fh.tell() > 0:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        # Torn last line: end it so this row starts clean; readers skip it.
                        line = b"\n" + line
                _write_synced(fh, line)
        except OSError as e:
            raise InferclockError(f"cannot append to results file {str(self.path)!r}: {e}") from e
