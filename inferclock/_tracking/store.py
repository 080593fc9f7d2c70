"""The history's storage: one connection to SQLite (stdlib ``sqlite3``, WAL mode, a busy
timeout; read-only through a URI) or PostgreSQL (psycopg 3, imported only for
``postgresql://`` targets), the versioned schema and its checks and migrations, the two writes
(a run, its rows) and reads the API needs, and the check that a SQLite path can be written.

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
advisory lock), so two processes opening a new database at once create it once. Opening
checks what it finds: one ``schema_version`` row holding a version inferclock wrote, and that
version's tables (``TABLES``); anything else is a damaged history, a HistoryError. A lock
held by another writer is waited for up to ``timeout`` seconds (SQLite's busy timeout,
PostgreSQL's ``lock_timeout``). Driver errors become HistoryErrors (``_tracking.faults``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from inferclock._common.errors import ConfigError, HistoryError
from inferclock._common.jsonl import canonical
from inferclock._common.secrets import mask_url, scrub
from inferclock._timing import schema as _schema
from inferclock._tracking import faults as _faults

SCHEMA_VERSION = 2
#: The default longest wait for another writer's lock, in seconds (``ic.history(timeout=)``).
TIMEOUT_S = 30.0
#: The tables each schema version must hold (a missing one: a damaged history).
TABLES = {1: ("runs", "result_rows"), 2: ("runs", "results")}
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
    PostgreSQL). Every driver error leaves it as a HistoryError (``_tracking.faults``).
    ``timeout``: the longest wait, in seconds, for another writer's lock; ``read_only``: open
    without writing anything (SQLite ``mode=ro``, a PostgreSQL read-only session), so no
    creation or migration either."""

    def __init__(self, target: str, *, timeout: float = TIMEOUT_S, read_only: bool = False) -> None:
        self.target = target
        self.timeout = timeout
        self.read_only = read_only
        self.postgres = is_postgres(target)
        self.serial = "BIGSERIAL PRIMARY KEY" if self.postgres else "INTEGER PRIMARY KEY"
        self.where = repr(_safe(target))
        self._conn: Any = None
        self.connect()

    def connect(self) -> None:
        """(Re)open the connection and check (or create, or migrate) the schema: after a lost
        PostgreSQL connection, a fresh one."""
        if self._conn is not None:
            self.close()
        if self.postgres:
            self._conn = self._connect_pg()
        else:
            try:
                self._conn = _faults.open_sqlite(self.target, self.timeout, self.read_only)
            except sqlite3.Error as e:
                raise _faults.sqlite_error(self.where, e, self.timeout) from None
        try:
            with self._guard():
                self._setup()
        except BaseException:
            self.close()  # refused: no connection is left open behind the error
            raise

    def _connect_pg(self) -> Any:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                f"history {self.where} is a PostgreSQL URL, which needs the psycopg "
                "driver: pip install 'inferclock[postgres]'"
            ) from None
        conn = None
        try:
            conn = psycopg.connect(self.target, autocommit=False)
            # a lock held by another writer is waited for up to the timeout, not for ever
            conn.execute("SELECT set_config('lock_timeout', %s, false)",
                         (f"{int(self.timeout * 1000)}ms",))  # fmt: skip
            conn.commit()
            conn.read_only = self.read_only
        except psycopg.Error as e:
            if conn is not None:
                conn.close()
            text = scrub(" ".join(str(e).split()), self.target)  # one line, no secret
            raise HistoryError(
                f"cannot connect to history {self.where}: {text}", "connection"
            ) from None
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except Exception as e:
            if _faults.is_driver_error(e, self.postgres):
                raise _faults.translate(self.where, e, self.timeout, self._conn) from None
            raise

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._guard():
            cur = self._conn.execute(self._sql(sql), tuple(params))
            return int(cur.rowcount)

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._guard():
            return list(self._conn.execute(self._sql(sql), tuple(params)).fetchall())

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction: SQLite takes the write lock at its start (waiting up to the
        timeout for another writer), PostgreSQL's rows lock as they are written. An error
        inside rolls it back (SQLite may have done so itself: a full disk)."""
        if not self.postgres:
            self.execute("BEGIN IMMEDIATE")
        try:
            yield
            with self._guard():  # a COMMIT that fails (a full disk) is rolled back too
                self._conn.commit() if self.postgres else self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        try:
            if self.postgres:
                self._conn.rollback()
            elif self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        except Exception as e:  # a lost connection: the server rolled it back already
            if not _faults.is_driver_error(e, self.postgres):
                raise

    def _has_table(self, name: str) -> bool:
        if self.postgres:
            return self.fetch("SELECT to_regclass(?)", (name,))[0][0] is not None
        return bool(
            self.fetch("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        )

    def version(self) -> int | None:
        """The schema version, None when there is no ``schema_version`` table; a HistoryError
        when the table does not hold one version inferclock wrote."""
        if not self._has_table("schema_version"):
            return None
        rows = self.fetch("SELECT version FROM schema_version")
        if len(rows) != 1:
            raise HistoryError(
                f"history {self.where}: its schema_version table holds {len(rows)} rows, not "
                "one: damaged, or not an inferclock history",
                "damaged",
            )
        v = rows[0][0]
        if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v:
            raise HistoryError(
                f"history {self.where}: schema version {v!r} is not one inferclock writes "
                f"(1 to {SCHEMA_VERSION}): damaged, or not an inferclock history",
                "damaged",
            )
        return v

    def _check_tables(self, v: int) -> None:
        for name in TABLES.get(v, ()):
            if not self._has_table(name):
                raise HistoryError(
                    f"history {self.where} (schema version {v}) has no table {name!r}: "
                    "damaged; restore it from a copy, or start a new one",
                    "damaged",
                )

    def _setup(self) -> None:
        if self.read_only:
            self._check_read_only()
            return
        with self.transaction():
            if self.postgres:
                self.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK,))
            v = self.version()
            if v is None:
                for sql in _v1(self.serial):
                    self.execute(sql)
                v = 1
            self._newer(v)
            self._check_tables(v)
            while v < SCHEMA_VERSION:
                MIGRATIONS[v](self)
                v += 1

    def _check_read_only(self) -> None:
        v = self.version()
        if v is None:
            raise HistoryError(f"history {self.where} holds no inferclock history", "schema")
        self._newer(v)
        if v < SCHEMA_VERSION:
            raise HistoryError(
                f"history {self.where} has schema version {v}, older than this inferclock's "
                f"{SCHEMA_VERSION}, and is opened read-only: add to it once (inferclock "
                "history add) to migrate it",
                "schema",
            )
        self._check_tables(v)
        if self.postgres:
            self._conn.rollback()  # end the read transaction the checks opened

    def _newer(self, v: int) -> None:
        if v > SCHEMA_VERSION:
            raise HistoryError(
                f"history {self.where} has schema version {v}, newer than this "
                f"inferclock's {SCHEMA_VERSION}: upgrade inferclock",
                "schema",
            )

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
        with self._guard():
            return int(self._conn.execute(sql, params).lastrowid)

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
        try:
            self._conn.close()
        except Exception as e:  # a lost connection: nothing left to close
            if not _faults.is_driver_error(e, self.postgres):
                raise


def check_writable(target: str, what: str) -> None:
    """A ConfigError, naming ``what`` (the option it came from), when the SQLite history
    ``target`` cannot be created or written: its folder missing or not a folder, the path a
    folder, the file or its folder not writable (a read-only mount). Nothing is created. A
    PostgreSQL URL is not checked here (connecting is the check)."""
    if is_postgres(target):
        return
    # not normalized: "new/../h.db" needs "new" to exist, as SQLite's open does
    path = os.path.expanduser(target)
    folder = os.path.dirname(path) or "."
    if os.path.isdir(path):
        raise ConfigError(f"{what} {target!r} is a folder, not a history file")
    if not os.path.isdir(folder):
        why = "is not a folder" if os.path.exists(folder) else "does not exist"
        raise ConfigError(f"{what} {target!r}: its folder {folder!r} {why}")
    # SQLite writes the file and, in WAL mode, its -wal and -shm beside it
    for p in (folder, *([path] if os.path.exists(path) else [])):
        if not os.access(p, os.W_OK):
            raise ConfigError(
                f"{what} {target!r} cannot be written: {p!r} is not writable (permissions or "
                "a read-only mount)"
            )


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


def _safe(target: str) -> str:
    """The URL with every secret masked (``user:***@``, ``?password=***``)."""
    return mask_url(target)
