"""ic.history on a real PostgreSQL server that this module starts on loopback (Debian's
postgresql 15 binaries; the server refuses to run as root, so as the ``postgres`` user then):
the same API, idempotent pushes, concurrent writers, and faults (issue 24): a NUL in a key, a
header of the wrong type, a backend terminated mid-push."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synthetic import write_table
from test_history import CELLS, KEY, concurrent_writers, fill, step_rows

import inferclock as ic
from inferclock.__main__ import main

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> list[str]:
    if os.geteuid() != 0:
        return list(cmd)
    return ["runuser", "-u", "postgres", "--", *cmd]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 (trust auth), stopped at the end of the session;
    yields a URL prefix to which a database name is appended."""
    if not (BIN / "initdb").exists() or not (BIN / "pg_ctl").exists():
        pytest.skip(f"PostgreSQL server binaries not found in {BIN} (Debian package postgresql)")
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'inferclock[test]')")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
    root = Path(tempfile.mkdtemp(prefix="inferclock-pg-"))
    data, log = root / "data", root / "log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    root.chmod(0o700)
    port = _free_port()
    user = "postgres" if os.geteuid() == 0 else None
    subprocess.run(
        _as_postgres(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"),
        check=True, capture_output=True,
    )  # fmt: skip
    opts = f"-h 127.0.0.1 -p {port} -k {root}"
    subprocess.run(
        _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", opts, "-w",
                     "start"),
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgresql://{user or 'postgres'}@127.0.0.1:{port}"
    finally:
        subprocess.run(
            _as_postgres(str(BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"),
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


_count = iter(range(10**6))


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh database on the session's server."""
    import psycopg

    name = f"t{next(_count)}"
    with psycopg.connect(f"{pg_server}/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return f"{pg_server}/{name}"


def test_push_twice_adds_rows_once(pg_url: str, tmp_path: Path) -> None:
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False, processes=2)
    assert main(["history", "push", str(res), "--to", pg_url]) == 0
    assert main(["history", "push", str(res), "--to", pg_url]) == 0
    with ic.history(pg_url) as h:
        df = h.query()
        assert len(df) == 4 and set(df["run_id"]) == {1}
        assert len(h.query(precision="bf16")) == 2
        assert len(h.cells()) == 2


def test_two_writers_at_once_lose_nothing(pg_url: str, tmp_path: Path) -> None:
    concurrent_writers(pg_url, tmp_path)
    with ic.history(pg_url) as h:
        df = h.query()
        assert len(df) == 400
        assert sorted(df.groupby("writer").size()) == [200, 200]


def test_regression_found_on_postgres(pg_url: str) -> None:
    with ic.history(pg_url) as h:
        fill(h, step_rows(30, 20, 0.02, seed=3))
        assert len(h.series(KEY)) == 30
        steps = h.regressions()
    assert [(s.index, s.direction) for s in steps] == [(20, "slower")]


# -- faults (issue 24) ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["key", "model", "host"])
def test_a_nul_in_a_key_is_refused_as_on_sqlite(pg_url: str, field: str) -> None:
    """PostgreSQL's text cannot hold NUL (psycopg.DataError before); SQLite could: both refuse
    it with the same ConfigError naming the row and field
    (test_history_faults.py::test_a_nul_in_a_key_is_refused_naming_the_row_and_field)."""
    rows = [{"key": f"cell{i}", "model": "m", "i": i} for i in range(3)]
    rows[2][field] = "a\x00b"
    with ic.history(pg_url) as h:
        with pytest.raises(ic.ConfigError, match=f"row 3 .*field '{field}'.*NUL"):
            h.add(rows)
        with pytest.raises(ic.ConfigError, match="NUL"):
            h.query(key="a\x00b")
        assert h.add(rows[:2]) == 2  # the connection is still good


def test_a_header_version_that_is_a_dict_is_refused_by_field(pg_url: str) -> None:
    with ic.history(pg_url) as h:
        with pytest.raises(ic.ConfigError, match="'inferclock_version' must be a version string"):
            h.add([{"key": "k"}], header={"inferclock_version": {"v": 1}})
        assert h.query().empty


def _blocked_push(pg_url: str, tmp_path: Path) -> tuple[Path, Any, Any, subprocess.Popen[str]]:
    """A push whose first row waits on a second connection's uncommitted row of the same
    identity (its INSERT ... ON CONFLICT must wait for that transaction's outcome), so it is
    mid-transaction, for as long as the test wants, when its backend is terminated."""
    import psycopg

    from inferclock._common.jsonl import load_file, row_id

    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False, processes=2)
    ic.history(pg_url).close()  # the schema
    first = load_file(res).rows[0]
    blocker = psycopg.connect(pg_url)
    run = blocker.execute("INSERT INTO runs (added_at) VALUES ('t') RETURNING run_id").fetchone()
    assert run is not None
    blocker.execute(
        "INSERT INTO results (run_id, sha256, key, data) VALUES (%s, %s, 'k', '{}')",
        (run[0], row_id(first)),
    )
    monitor = psycopg.connect(pg_url, autocommit=True)
    push = subprocess.Popen(
        [sys.executable, "-m", "inferclock", "history", "push", str(res), "--to", pg_url,
         "--timeout", "600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    return res, blocker, monitor, push


def _kill_waiting_push(monitor: Any, push: subprocess.Popen[str], killed: set[int]) -> None:
    """Wait for the push's backend to wait on the blocker's row (an event seen in
    pg_stat_activity; the deadline is only a hang guard), then terminate that backend."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert push.poll() is None, push.communicate()
        got = monitor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO results%%'"
        ).fetchall()
        pids = [p for (p,) in got if p not in killed]
        if pids:
            assert monitor.execute("SELECT pg_terminate_backend(%s)", (pids[0],)).fetchone()
            killed.add(pids[0])
            return
        time.sleep(0.02)
    raise AssertionError("the push never waited on the blocked row")


def test_a_backend_killed_mid_push_is_retried_and_stores_every_row_once(
    pg_url: str, tmp_path: Path
) -> None:
    res, blocker, monitor, push = _blocked_push(pg_url, tmp_path)
    try:
        _kill_waiting_push(monitor, push, set())
        blocker.rollback()  # the retry's insert goes through (now or when it reaches it)
        out, err = push.communicate(timeout=300)
    finally:
        blocker.close()
        monitor.close()
        if push.poll() is None:
            push.kill()
    assert push.returncode == 0, err
    assert out.strip() == f"{res}: 4 new row(s)" and "Traceback" not in err
    with ic.history(pg_url, read_only=True) as h:
        df = h.query()
    assert len(df) == 4 and set(df["run_id"]) == {df["run_id"].iloc[0]}  # one run, each row once


def test_a_backend_killed_on_every_try_is_one_error_line(pg_url: str, tmp_path: Path) -> None:
    from inferclock._tracking.history import ATTEMPTS

    res, blocker, monitor, push = _blocked_push(pg_url, tmp_path)
    killed: set[int] = set()
    try:
        for _ in range(ATTEMPTS):
            _kill_waiting_push(monitor, push, killed)
        _, err = push.communicate(timeout=300)
    finally:
        blocker.rollback()
        blocker.close()
        monitor.close()
        if push.poll() is None:
            push.kill()
    assert push.returncode == 2, err
    assert err.startswith("error: history ") and err.count("\n") == 1, err
    assert "connection was lost" in err and f"tried {ATTEMPTS} times" in err
    with ic.history(pg_url, read_only=True) as h:
        assert h.query().empty  # nothing of the batch was stored
    assert main(["history", "push", str(res), "--to", pg_url]) == 0  # again: each row once
    with ic.history(pg_url, read_only=True) as h:
        assert len(h.query()) == 4


def test_a_schema_lock_held_past_the_timeout_is_a_typed_error(pg_url: str) -> None:
    """Another session holds the schema's advisory lock for the whole test: opening waits
    up to ``timeout`` (PostgreSQL's lock_timeout), then says so, naming the database."""
    import psycopg

    from inferclock._tracking.store import _PG_LOCK

    ic.history(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (_PG_LOCK,))
        with pytest.raises(ic.HistoryError, match="locked by another writer") as e:
            ic.history(pg_url, timeout=0.2)
        assert e.value.kind == "locked" and "127.0.0.1" in str(e.value)
        with ic.history(pg_url, read_only=True) as h:  # a reader takes no schema lock
            assert h.query().empty
