"""The history's storage: one connection to SQLite (stdlib ``sqlite3``, WAL mode, a busy
timeout) or PostgreSQL (psycopg 3, imported only for ``postgresql://`` targets), the versioned
schema and its migrations, and the two writes (a run, its rows) and reads the API needs.

Schema versions (table ``schema_version``, one row):

* v1: ``runs(run_id, added_at, source, header)`` and ``result_rows(row_id, run_id, key, data)``:
  every row's JSON, no identity (the same file added twice was stored twice).
* v2: ``runs`` gains ``git_commit``, ``inferclock_version`` and ``openvino_version``;
  ``result_rows`` is replaced by ``results(row_id, run_id, sha256 UNIQUE, key, model,
  precision_requested, host, data)`` with indexes on (key, host), model and host. The
  migration fills the new columns from the stored JSON and keeps one copy of rows stored
  twice.

A new database is created at v1 and migrated, so every database takes the same path. Schema
changes run in one transaction under a lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL an
advisory lock), so two processes opening a new database at once create it once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from inferclock._common.errors import ConfigError
from inferclock._common.jsonl import canonical
from inferclock._common.secrets import mask_url, scrub
from inferclock._timing import schema as _schema

SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 60.0
_PG_LOCK = 7_272_013  # pg_advisory_xact_lock key of the schema changes


def identity(text: str) -> str:
    """The identity of a row whose canonical JSON is ``text`` (``_common.jsonl.row_id``)."""
    return hashlib.sha256(text.encode()).hexdigest()


def _v1(serial: str) -> list[str]:
    return [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        f"CREATE TABLE runs (run_id {serial}, added_at TEXT NOT NULL, source TEXT, header TEXT)",
        f"CREATE TABLE result_rows (row_id {serial}, run_id INTEGER NOT NULL "
        "REFERENCES runs(run_id), key TEXT NOT NULL, data TEXT NOT NULL)",
        "INSERT INTO schema_version (version) VALUES (1)",
    ]


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _migrate_1_to_2(db: Store) -> None:
    for col in ("git_commit", "inferclock_version", "openvino_version"):
        db.execute(f"ALTER TABLE runs ADD COLUMN {col} TEXT")
    for run_id, header in db.fetch("SELECT run_id, header FROM runs"):
        h = json.loads(header) if header else {}
        h = h if isinstance(h, dict) else {}
        db.execute(
            "UPDATE runs SET inferclock_version = ?, openvino_version = ? WHERE run_id = ?",
            (_str(h.get("inferclock_version")), _str(h.get("openvino_version")), run_id),
        )
    db.execute(
        f"CREATE TABLE results (row_id {db.serial}, run_id INTEGER NOT NULL "
        "REFERENCES runs(run_id), sha256 TEXT NOT NULL UNIQUE, key TEXT NOT NULL, model TEXT, "
        "precision_requested TEXT, host TEXT, data TEXT NOT NULL)"
    )
    for run_id, data in db.fetch("SELECT run_id, data FROM result_rows ORDER BY row_id"):
        db.insert_row(run_id, json.loads(data))
    db.execute("DROP TABLE result_rows")
    db.execute("CREATE INDEX results_cell ON results (key, host)")
    db.execute("CREATE INDEX results_model ON results (model)")
    db.execute("CREATE INDEX results_host ON results (host)")
    db.execute("UPDATE schema_version SET version = 2")


MIGRATIONS: dict[int, Callable[[Store], None]] = {1: _migrate_1_to_2}


class Store:
    """One open history database; ``?`` placeholders in SQL (turned into ``%s`` for
    PostgreSQL)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.postgres = target.startswith(("postgresql://", "postgres://"))
        self.serial = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY"
        self._conn: Any
        if self.postgres:
            try:
                import psycopg
            except ImportError:
                raise ConfigError(
                    f"history {_safe(target)!r} is a PostgreSQL URL, which needs the psycopg "
                    "driver: pip install 'inferclock[postgres]'"
                ) from None
            try:
                self._conn = psycopg.connect(target, autocommit=False)
            except psycopg.Error as e:
                text = scrub(" ".join(str(e).split()), target)  # one line, no secret
                raise ConfigError(f"cannot connect to history {_safe(target)!r}: {text}") from None
        else:
            try:
                self._conn = sqlite3.connect(
                    target, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                self._conn.execute("PRAGMA journal_mode = WAL")
            except sqlite3.Error as e:
                raise ConfigError(f"cannot open history database {target!r}: {e}") from None
        self._setup()

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self._conn.execute(self._sql(sql), tuple(params)).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: SQLite takes the write lock at its start (waiting up to the
        busy timeout for another writer), PostgreSQL's rows lock as they are written."""
        if not self.postgres:
            self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.rollback() if self.postgres else self._conn.execute("ROLLBACK")
            raise
        self._conn.commit() if self.postgres else self._conn.execute("COMMIT")

    def _has_table(self, name: str) -> bool:
        if self.postgres:
            return self.fetch("SELECT to_regclass(?)", (name,))[0][0] is not None
        return bool(
            self.fetch("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        )

    def version(self) -> int | None:
        if not self._has_table("schema_version"):
            return None
        rows = self.fetch("SELECT version FROM schema_version")
        return int(rows[0][0]) if rows else None

    def _setup(self) -> None:
        with self.transaction():
            if self.postgres:
                self.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))
            v = self.version()
            if v is None:
                for sql in _v1(self.serial):
                    self.execute(sql)
                v = 1
            if v > SCHEMA_VERSION:
                raise ConfigError(
                    f"history {_safe(self.target)!r} has schema version {v}, newer than this "
                    f"inferclock's {SCHEMA_VERSION}: upgrade inferclock"
                )
            while v < SCHEMA_VERSION:
                MIGRATIONS[v](self)
                v += 1

    def add_run(
        self,
        added_at: str,
        source: str | None,
        header: Mapping[str, Any] | None,
        commit: str | None,
        versions: tuple[str | None, str | None],
    ) -> int:
        sql = (
            "INSERT INTO runs (added_at, source, header, git_commit, inferclock_version, "
            "openvino_version) VALUES (?, ?, ?, ?, ?, ?)"
        )
        params = (added_at, source, canonical(header) if header is not None else None, commit,
                  *versions)  # fmt: skip
        if self.postgres:
            return int(self.fetch(sql + " RETURNING run_id", params)[0][0])
        cur = self._conn.execute(sql, params)
        return int(cur.lastrowid)

    def insert_row(self, run_id: int, row: Mapping[str, Any]) -> int:
        """1 when the row is new, 0 when a row with the same canonical JSON is stored."""
        text = canonical(row)
        return self.execute(
            "INSERT INTO results (run_id, sha256, key, model, precision_requested, host, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
            (run_id, identity(text), str(_schema.get(row, "key")), _str(_schema.get(row, "model")),
             _str(_schema.get(row, "precision_requested")), _str(_schema.get(row, "host")), text),
        )  # fmt: skip

    def close(self) -> None:
        self._conn.close()


def _safe(target: str) -> str:
    """The URL with every secret masked (``user:***@``, ``?password=***``)."""
    return mask_url(target)
