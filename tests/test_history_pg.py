"""ic.history on a real PostgreSQL server that this module starts on loopback (Debian's
postgresql 15 binaries; the server refuses to run as root, so as the ``postgres`` user then):
the same API, idempotent pushes, concurrent writers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
