"""The history database's faults as one-line typed errors, and how a SQLite history is opened.

Every error the drivers raise (``sqlite3.Error``, ``psycopg.Error``) leaves the store as a
:class:`~inferclock._common.errors.HistoryError` naming the database and saying what is wrong
in words a user can act on, its ``kind`` telling callers which fault it is: ``locked``
(another writer held the lock past the timeout), ``full`` (no space left), ``damaged``
(corrupted pages or text that is not UTF-8), ``read-only``, ``open`` (the file cannot be
opened), ``connection`` (the PostgreSQL connection was lost or refused: the only kind a write
retries), ``database`` (anything else the server refused).

A SQLite history is opened read-write with a busy timeout, or read-only through a
``file:...?mode=ro`` URI, which needs no write access to the file or its folder. A WAL
database whose ``-wal`` and ``-shm`` files are gone (closed cleanly) on a read-only mount
cannot be opened even so; there, and only where the folder's mount is read-only (nobody
writes it through that mount), it is opened ``immutable``.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from typing import Any

from inferclock._common.errors import HistoryError


def sqlite_error(where: str, e: sqlite3.Error, timeout: float) -> HistoryError:
    """The HistoryError of a ``sqlite3`` error on history ``where``."""
    text = str(e)[:200]  # a decode error quotes the whole stored text
    low = text.lower()
    if low.startswith("could not decode"):  # before the rest: it quotes stored text
        return _damaged(where, text)
    if "locked" in low or "busy" in low:
        return HistoryError(
            f"history {where} is locked by another writer: gave up after waiting {timeout:g} s "
            f"(a longer wait: timeout=, or --timeout on the command line) ({text})",
            "locked",
        )
    if "disk is full" in low or "disk i/o error" in low:
        return HistoryError(
            f"history {where} cannot be written: the disk is full or failed ({text}); "
            "nothing of this write was stored",
            "full",
        )
    if "readonly" in low or "read-only" in low:
        return HistoryError(
            f"history {where} is read-only ({text}): open it where it can be written",
            "read-only",
        )
    if "unable to open" in low:
        return HistoryError(
            f"cannot open history {where} ({text}): its folder must exist and be writable",
            "open",
        )
    if isinstance(e, sqlite3.DatabaseError) and (
        "malformed" in low or "not a database" in low or "corrupt" in low
    ):
        return _damaged(where, text)
    return HistoryError(f"history {where}: {text}", "database")


def _damaged(where: str, text: str) -> HistoryError:
    return HistoryError(
        f"history {where} is damaged ({text}): restore it from a copy, or start a new one "
        "and add the results files again",
        "damaged",
    )


def pg_error(where: str, e: Exception, broken: bool) -> HistoryError:
    """The HistoryError of a ``psycopg`` error on history ``where`` (``broken``: the
    connection is lost)."""
    import psycopg

    text = " ".join(str(e).split())  # the server's message can span lines
    if isinstance(e, psycopg.errors.LockNotAvailable):
        return HistoryError(
            f"history {where} is locked by another writer: gave up at the lock timeout "
            f"(a longer wait: timeout=, or --timeout on the command line) ({text})",
            "locked",
        )
    if isinstance(e, psycopg.errors.DiskFull):
        return HistoryError(f"history {where}: the server's disk is full ({text})", "full")
    if isinstance(e, psycopg.errors.ReadOnlySqlTransaction):
        return HistoryError(f"history {where} is read-only ({text})", "read-only")
    if broken or isinstance(e, psycopg.OperationalError):
        return HistoryError(f"history {where}: the connection was lost ({text})", "connection")
    return HistoryError(f"history {where}: {text}", "database")


def _uri(path: str, immutable: bool) -> str:
    quoted = urllib.parse.quote(os.path.abspath(path))
    return f"file:{quoted}?mode=ro{'&immutable=1' if immutable else ''}"


def _read_only_mount(path: str) -> bool:
    try:
        return bool(os.statvfs(os.path.dirname(os.path.abspath(path))).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def open_sqlite(path: str, timeout: float, read_only: bool) -> sqlite3.Connection:
    """A connection to the SQLite history at ``path`` (autocommit, usable from any thread):
    read-write in WAL mode, or read-only (``sqlite3.Error`` on failure, for the caller to
    translate)."""
    if not read_only:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        return _ready(conn, timeout, "PRAGMA journal_mode = WAL")
    if not os.path.exists(path):
        raise HistoryError(f"history {path!r} does not exist", "open")
    try:
        return _open_ro(path, timeout, immutable=False)
    except sqlite3.OperationalError as e:
        if "unable to open" not in str(e) or not _read_only_mount(path):
            raise
    return _open_ro(path, timeout, immutable=True)


def _open_ro(path: str, timeout: float, immutable: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(
        _uri(path, immutable), uri=True, timeout=timeout, isolation_level=None,
        check_same_thread=False,
    )  # fmt: skip
    return _ready(conn, timeout, "SELECT count(*) FROM sqlite_master")  # opens the file


def _ready(conn: sqlite3.Connection, timeout: float, first: str) -> sqlite3.Connection:
    """``conn`` with its busy timeout, after ``first`` (the statement that opens the file),
    or closed and the error raised. ``first`` is retried while the file is locked, up to
    ``timeout``: SQLite refuses a lock it could only wait for in a deadlock (two processes
    turning a new file to WAL at once) at once, without calling the busy handler."""
    deadline = time.monotonic() + timeout
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        while True:
            try:
                conn.execute(first).fetchall()
                return conn
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)
    except BaseException:
        conn.close()
        raise


def is_driver_error(e: BaseException, postgres: bool) -> bool:
    """Whether ``e`` is an error of the history's driver (to be translated)."""
    if isinstance(e, sqlite3.Error):
        return True
    if not postgres:
        return False
    import psycopg

    return isinstance(e, psycopg.Error)


def translate(where: str, e: BaseException, timeout: float, conn: Any) -> HistoryError:
    """``e``, a driver error, as a HistoryError (``conn``: the connection it came from)."""
    if isinstance(e, sqlite3.Error):
        return sqlite_error(where, e, timeout)
    broken = bool(getattr(conn, "broken", False) or getattr(conn, "closed", False))
    assert isinstance(e, Exception)
    return pg_error(where, e, broken)
