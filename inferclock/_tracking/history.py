"""``ic.history``: results across runs, in a SQLite file or on a shared PostgreSQL server.

A *run* is one added file or batch of rows: when it was added, its source, its header, the
git commit of the current directory (when inside a checkout) and the inferclock and OpenVINO
versions. Every row is stored with its full JSON; its identity is the sha256 of its
canonical JSON, so adding the same rows again stores nothing (``push`` is idempotent).
Storage and schema: ``_tracking.store``; change detection: ``_tracking.detect`` (ruptures).
See ``docs/history.md``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from inferclock._analysis import cell as _cell
from inferclock._analysis.states import row_problem
from inferclock._common import checks as _checks
from inferclock._common.errors import ConfigError, ConfigTypeError, HistoryError
from inferclock._timing import schema as _schema
from inferclock._tracking import detect as _history_detect
from inferclock._tracking.store import TIMEOUT_S, Store

if TYPE_CHECKING:
    import pandas

__all__ = ["History", "Step", "history"]

RUN_FIELDS = ("run_id", "added_at", "commit", "inferclock_version", "openvino_version")
#: The row fields stored in columns of their own (text; PostgreSQL's refuses a NUL).
COLUMNS = ("key", "model", "precision_requested", "host")
#: How many times a write is tried when the PostgreSQL connection is lost mid-write (the
#: server rolled the transaction back; rows are unique by identity, so a retry after a lost
#: commit acknowledgment stores nothing twice).
ATTEMPTS = 3


@dataclass(frozen=True)
class Step:
    """A step in a cell's series larger than its noise: between points ``index - 1`` and
    ``index`` (the run ``run_id``, added ``at``, at ``commit`` and ``version``)."""

    key: str
    host: str | None
    metric: str
    index: int
    run_id: int
    at: str
    commit: str | None
    version: str  # "inferclock X, openvino Y"
    before: float
    after: float
    ratio: float  # after / before
    direction: str  # "slower" or "faster"


def git_commit() -> str | None:
    """``git rev-parse HEAD`` of the current directory, or None (not a checkout, no git)."""
    try:
        p = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = p.stdout.strip()
    return out if p.returncode == 0 and out else None


def _target(target: Any) -> str:
    if not isinstance(target, (str, os.PathLike)):
        raise ConfigTypeError(
            f"history must be a SQLite file path or a postgresql:// URL, got "
            f"{type(target).__name__}"
        )
    text = os.fspath(target)
    if not text:
        raise ConfigError("history must be a SQLite file path or a postgresql:// URL, got ''")
    return text


def _text(where: str, name: str, value: Any) -> None:
    """A NUL in text stored in a column: PostgreSQL refuses it, so both backends do."""
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(
            f"{where}: {name} {value!r} holds a NUL character (\\x00), which a history "
            "cannot store; remove it"
        )


def check_rows(rows: list[Any], source: str | None) -> None:
    """Each row a result row with a string ``key``, its column fields free of NUL."""
    for i, r in enumerate(rows):
        where = f"{source or 'rows'}: row {i + 1}"
        if not isinstance(r, Mapping) or not isinstance(_schema.get(r, "key"), str):
            raise ConfigError(f"a history row must be a result row with a 'key', got {r!r}")
        for name in COLUMNS:
            _text(f"{where} ({_schema.get(r, 'key')!r})", f"field {name!r}", _schema.get(r, name))


def _version(header: Mapping[str, Any], name: str, source: str | None) -> str | None:
    v = header.get(name)
    if v is not None and not isinstance(v, str):
        raise ConfigError(
            f"{source or 'header'}: header field {name!r} must be a version string or null, "
            f"got {type(v).__name__} {v!r}"
        )
    _text(source or "header", f"header field {name!r}", v)
    return v


class History:
    """A results history: ``add`` rows or files, ``query`` them, ``series`` and
    ``regressions`` per cell (a cell key on one host). ``timeout``: the longest wait, in
    seconds, for another writer's lock; ``read_only``: open without writing (no creation,
    no migration; a history on a read-only mount)."""

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        timeout: float = TIMEOUT_S,
        read_only: bool = False,
    ) -> None:
        self.target = _target(target)
        timeout = _checks.seconds()("timeout", timeout)
        if not isinstance(read_only, bool):
            raise ConfigTypeError(f"read_only must be True or False, got {read_only!r}")
        self._store = Store(self.target, timeout=timeout, read_only=read_only)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._store.close()

    def add(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        header: Mapping[str, Any] | None = None,
        source: str | None = None,
        commit: str | None = None,
    ) -> int:
        """Store ``rows`` as one run; returns how many were new (a row stored before, from any
        run, is not stored again). A batch with no new row leaves no run behind. ``commit``:
        the git commit the rows measured (default: the current directory's HEAD)."""
        rows = list(rows)
        check_rows(rows, source)
        from inferclock._platform.environment import collect_versions

        if header is not None and not isinstance(header, Mapping):
            raise ConfigTypeError(f"header must be a mapping or None, got {header!r}")
        if header is None:
            got = collect_versions()
            versions = (got.get("inferclock"), got.get("openvino"))
        else:
            versions = (
                _version(header, "inferclock_version", source),
                _version(header, "openvino_version", source),
            )
        if commit is not None and (not isinstance(commit, str) or not commit.strip()):
            err = ConfigError if isinstance(commit, str) else ConfigTypeError
            raise err(f"commit must be a commit hash (a non-empty str) or None, got {commit!r}")
        _text(source or "rows", "commit", commit)
        if commit is None:
            commit = git_commit()  # outside the transaction: a slow git holds no lock
        db = self._store
        for attempt in range(1, ATTEMPTS + 1):
            now = datetime.now(UTC).isoformat(timespec="microseconds")
            try:
                with db.transaction():
                    run_id = db.add_run(now, source, header, commit, versions)
                    added = sum(db.insert_row(run_id, r) for r in rows)
                    if added == 0:
                        db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
                return added
            except HistoryError as e:
                if e.kind != "connection" or not db.postgres:
                    raise
                if attempt == ATTEMPTS:
                    raise HistoryError(
                        f"{e} (tried {ATTEMPTS} times; nothing of this batch was stored, and "
                        "adding it again stores each row once)",
                        "connection",
                    ) from None
                db.connect()  # the server rolled the transaction back: do it all again
        raise AssertionError("unreachable")

    def add_file(self, path: str | os.PathLike[str]) -> int:
        """Store a results file's rows as one run (its header kept); returns the rows new."""
        from inferclock._common.jsonl import load_file

        f = load_file(path)
        return self.add(f.rows, header=f.header, source=os.path.abspath(path))

    def _rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        sql = (
            "SELECT r.data, u.run_id, u.added_at, u.git_commit, u.inferclock_version, "
            f"u.openvino_version FROM results r JOIN runs u ON r.run_id = u.run_id {where} "
            "ORDER BY u.run_id, r.row_id"
        )
        return [
            {**self._data(d), **dict(zip(RUN_FIELDS, rest, strict=True))}
            for d, *rest in self._store.fetch(sql, params)
        ]

    def _data(self, text: Any) -> dict[str, Any]:
        """A stored row's JSON, or a HistoryError: text that is not a row is damage."""
        try:
            row = json.loads(text)
        except (TypeError, ValueError) as e:
            row, why = None, str(e)
        else:
            why = f"a {type(row).__name__}, not an object"
        if not isinstance(row, dict):
            raise HistoryError(
                f"history {self._store.where} is damaged: a stored row is not JSON of a row "
                f"({why}): {str(text)[:80]!r}",
                "damaged",
            )
        return row

    def query(
        self,
        *,
        model: str | None = None,
        precision: str | None = None,
        host: str | None = None,
        key: str | None = None,
    ) -> pandas.DataFrame:
        """One row per stored result row (its fields plus the run's ``run_id``, ``added_at``,
        ``commit``, ``inferclock_version``, ``openvino_version``), in the order added."""
        import pandas as pd

        conds, params = [], []
        for col, v in (("r.model", model), ("r.precision_requested", precision),
                       ("r.host", host), ("r.key", key)):  # fmt: skip
            if v is not None:
                if not isinstance(v, str):
                    raise ConfigTypeError(f"{col[2:]} must be a string, got {v!r}")
                _text("query", col[2:], v)
                conds.append(f"{col} = ?")
                params.append(v)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        return pd.DataFrame(self._rows(where, tuple(params)))

    def cells(self) -> list[tuple[str, str | None]]:
        """The (cell key, host id) pairs stored."""
        got = self._store.fetch("SELECT DISTINCT key, host FROM results")
        return sorted(((k, h) for k, h in got), key=lambda c: (c[0], c[1] or ""))

    def _host(self, key: str, host: str | None) -> str | None:
        hosts = [h for k, h in self.cells() if k == key]
        if host is not None or len(hosts) <= 1:
            return host if host is not None else (hosts[0] if hosts else None)
        raise ConfigError(f"cell {key!r} ran on several hosts {hosts!r}: give host=")

    def series(self, key: str, host: str | None = None, metric: str = "auto") -> pandas.DataFrame:
        """One point per run of the cell on ``host``, in the order added: ``run_id``, ``at``,
        ``commit``, versions, and the metric's ``value`` with its interval (``low``,
        ``high``), the run's rows combined (``_analysis.cell.combine_rows``). ``metric``: auto,
        median, throughput or pNN. Runs whose rows lack the metric (errors) are left out."""
        import pandas as pd

        metric = _cell.check_metric(metric)
        _text("series", "key", key)
        host = self._host(key, host)
        if host is None:
            rows = self._rows("WHERE r.key = ? AND r.host IS NULL", (key,))
        else:
            rows = self._rows("WHERE r.key = ? AND r.host = ?", (key, host))
        by_run: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            by_run.setdefault(r["run_id"], []).append(r)
        points = []
        for run_id, rs in by_run.items():
            # Rows that are not measurements (row_problem) are never averaged in.
            ok = [r for r in rs if _schema.get(r, "error") is None and row_problem(r) is None]
            m = _cell.metric_for(metric, _schema.get(rs[0], "mode"))
            c = _cell.combine_rows(ok, m) if ok else None
            if c is None:
                continue
            first = rs[0]
            points.append({
                "run_id": run_id, "at": first["added_at"], "commit": first["commit"],
                "inferclock_version": first["inferclock_version"],
                "openvino_version": first["openvino_version"], "metric": m,
                "value": c.estimate,
                "low": c.low if c.low is not None else math.nan,
                "high": c.high if c.high is not None else math.nan,
            })  # fmt: skip
        cols = [*RUN_FIELDS[:1], "at", "commit", *RUN_FIELDS[3:], "metric", "value", "low", "high"]
        return pd.DataFrame(points, columns=cols)

    def regressions(self, *, metric: str = "auto") -> list[Step]:
        """Steps larger than the noise in every cell's series (``_tracking.detect``'s method),
        slower and faster ones, cell by cell in time order."""
        metric = _cell.check_metric(metric)
        steps = []
        for key, host in self.cells():
            s = self.series(key, host, metric)
            if len(s) == 0:
                continue
            m = str(s["metric"].iloc[0])
            higher = _cell.higher_is_better(m)
            for ch in _history_detect.changes([float(v) for v in s["value"]]):
                p = s.iloc[ch.index]
                ratio = ch.after / ch.before
                worse = ratio < 1 if higher else ratio > 1
                steps.append(Step(
                    key=key, host=host, metric=m, index=ch.index, run_id=int(p["run_id"]),
                    at=str(p["at"]), commit=p["commit"],
                    version=f"inferclock {p['inferclock_version']}, "
                    f"openvino {p['openvino_version']}",
                    before=ch.before, after=ch.after, ratio=ratio,
                    direction="slower" if worse else "faster",
                ))  # fmt: skip
        return steps


def history(
    target: str | os.PathLike[str], *, timeout: float = TIMEOUT_S, read_only: bool = False
) -> History:
    """Open (creating or migrating) the history at ``target``: a SQLite file path or a
    ``postgresql://user@host:port/db`` URL (needs ``pip install 'inferclock[postgres]'``).
    ``timeout``: how long to wait for another writer's lock (seconds; then a HistoryError);
    ``read_only``: read without writing anything (query, series, regressions; works on a
    read-only mount)."""
    return History(target, timeout=timeout, read_only=read_only)
