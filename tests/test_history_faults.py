"""A SQLite history that cannot be used as asked (issue 24): locked by another writer, a full
disk, corrupted pages, a damaged schema, a header of the wrong type, a NUL in a key, a file on
a read-only mount. Each is a one-line typed error naming the file (``HistoryError``, a
ConfigError), and the command line's ``error:`` with exit 2, never a traceback.

Real files and real faults: a second ``sqlite3`` connection holding ``BEGIN EXCLUSIVE``,
bytes overwritten in the database's pages, a small tmpfs and ``RLIMIT_FSIZE`` for a full
disk, a read-only bind mount (the tests run as root, so file modes alone block nothing; the
mount tests are skipped where mounting is not allowed)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from synthetic import HEADER, write_table
from test_history import CELLS

import inferclock as ic
from inferclock.__main__ import main


def _rows(n: int, pad: int = 0, tag: str = "") -> list[dict[str, Any]]:
    return [{"key": f"cell{i}", "model": "m", "i": i, "pad": tag + "x" * pad} for i in range(n)]


def _history(path: Path, n: int = 40, tag: str = "") -> Path:
    with ic.history(path) as h:
        assert h.add(_rows(n, pad=200, tag=tag), header=HEADER) == n
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in err, err
    return err


# -- a writer holding the lock ------------------------------------------------------------


def test_a_locked_history_waits_up_to_its_timeout_then_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = _history(tmp_path / "h.db")
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # held for the whole test: the outcome is not a race
    try:
        with pytest.raises(ic.HistoryError, match="locked by another writer") as e:
            ic.history(db, timeout=0.2)
        assert e.value.kind == "locked" and str(db) in str(e.value)
        assert isinstance(e.value, ic.ConfigError)
        assert main(["history", "add", str(res), "--history", str(db), "--timeout", "0.2"]) == 2
        _one_line_error(capsys, str(db), "locked by another writer", "0.2 s")
        # readers are not writers: a WAL history is read while a writer holds it
        assert main(["history", "query", "--history", str(db), "--timeout", "0.2"]) == 0
        assert "cell39" in capsys.readouterr().out
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert main(["history", "add", str(res), "--history", str(db)]) == 0


def test_a_new_history_another_writer_is_creating_is_waited_for(tmp_path: Path) -> None:
    """A writer holding the new file's lock in rollback mode (what a second process creating
    the same history meets): SQLite refuses the switch to WAL at once, without its busy
    handler, and the open waits it out instead of calling the history locked."""
    db = tmp_path / "h.db"
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE scratch (x)")
    release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
    release.start()
    try:
        with ic.history(db, timeout=60) as h:
            assert h.add(_rows(3), header=HEADER) == 3
    finally:
        release.join()
        other.close()
    with ic.history(db) as h:
        assert len(h.query()) == 3


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), "5"])
def test_a_bad_timeout_is_refused_by_name(tmp_path: Path, timeout: Any) -> None:
    with pytest.raises(ic.ConfigError, match="timeout must be"):
        ic.history(tmp_path / "h.db", timeout=timeout)


# -- a full disk ---------------------------------------------------------------------------


@contextlib.contextmanager
def _mounted(kind: str, where: Path, *opts: str, source: str = "none") -> Iterator[Path]:
    """``mount`` a filesystem at ``where`` for the block (root only; skipped elsewhere)."""
    where.mkdir(parents=True, exist_ok=True)
    cmd = ["mount", *(["-t", kind] if kind else []), *opts, source, str(where)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        pytest.skip(f"cannot mount here ({' '.join(cmd)}: {p.stderr.strip()})")
    try:
        yield where
    finally:
        _umount(where)


def _umount(where: Path) -> None:
    """Unmount ``where``; lazily if a file is still open on it (nothing is left mounted)."""
    if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=True)


@contextlib.contextmanager
def _read_only_view(folder: Path, where: Path) -> Iterator[Path]:
    """``folder`` seen read-only at ``where`` (a read-only bind mount)."""
    with _mounted("", where, "--bind", source=str(folder)):
        p = subprocess.run(["mount", "-o", "remount,bind,ro", str(where)],
                           capture_output=True, text=True, check=False)  # fmt: skip
        if p.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {p.stderr.strip()}")
        yield where


def _fill(h: ic.History) -> tuple[int, ic.HistoryError]:
    """Add 60 KB rows, one batch each, until the disk refuses one: (batches stored, error)."""
    for i in range(1, 200):
        try:
            h.add(_rows(1, pad=60_000, tag=f"{i}-"), header=HEADER, source=f"batch{i}")
        except ic.HistoryError as e:
            return i - 1, e
    raise AssertionError("the disk never filled")


def _fill_until_full(db: Path) -> tuple[int, ic.HistoryError]:
    with ic.history(db) as h:
        return _fill(h)


def test_a_full_disk_is_a_typed_error_and_keeps_what_was_stored(tmp_path: Path) -> None:
    """A 512 KiB tmpfs: writes fail with ENOSPC (SQLite's "database or disk is full"). The
    failed batch is rolled back, so once space is freed the same connection goes on."""
    with _mounted("tmpfs", tmp_path / "small", "-o", "size=512k") as mnt:
        filler, db = mnt / "filler", mnt / "h.db"
        filler.write_bytes(b"x" * 128 * 1024)
        with ic.history(db) as h:
            stored, e = _fill(h)
            assert e.kind == "full" and str(db) in str(e) and "disk is full" in str(e)
            assert "\n" not in str(e) and stored >= 1
            filler.unlink()
            assert h.add(_rows(1, tag="after"), header=HEADER) == 1
        with ic.history(db, read_only=True) as h:  # the failed batch left nothing behind
            assert len(h.query()) == stored + 1


FSIZE = textwrap.dedent(
    """
    import resource, signal, sys
    sys.path[:0] = [sys.argv[2]]
    from test_history_faults import _fill_until_full
    from pathlib import Path
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
    stored, e = _fill_until_full(Path(sys.argv[1]))
    print(stored, e.kind, e)
    """
)


def test_a_file_size_limit_is_a_typed_error(tmp_path: Path) -> None:
    """Where no tmpfs can be mounted: the file-size limit (``RLIMIT_FSIZE``) in a fresh
    process makes the writes fail as a full disk does."""
    db = tmp_path / "h.db"
    tests = str(Path(__file__).parent)
    p = subprocess.run([sys.executable, "-c", FSIZE, str(db), tests],
                       capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert p.returncode == 0, p.stderr
    stored, kind, message = p.stdout.strip().split(" ", 2)
    assert kind == "full" and str(db) in message and int(stored) >= 1
    with ic.history(db, read_only=True) as h:
        assert len(h.query()) == int(stored)


# -- damaged pages and schema --------------------------------------------------------------


def _overwrite(db: Path, at: int, data: bytes) -> None:
    with db.open("r+b") as f:
        f.seek(at)
        f.write(data)


def _damage(db: Path, how: str) -> None:
    raw = db.read_bytes()
    if how == "header":
        _overwrite(db, 0, b"\x00" * 100)
    elif how == "pages":  # every page after the first (sqlite_master) is garbage
        _overwrite(db, 4096, b"\xa5" * (len(raw) - 4096))
    elif how == "utf-8":  # a stored row's text is not UTF-8
        _overwrite(db, raw.index(b"TAGTAG"), b"\xff\xfe\xff\xfe\xff\xfe")
    elif how == "json":  # valid UTF-8, not JSON
        _overwrite(db, raw.index(b'{"i":7,'), b"}}}}}}}")
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "says"),
    [("header", "not a database"), ("pages", "malformed"), ("utf-8", "UTF-8"),
     ("json", "not JSON of a row")],
)  # fmt: skip
def test_damaged_pages_are_a_typed_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, says: str
) -> None:
    # the words after the tag are quoted by a decode error: it must not read as "locked"
    db = _history(tmp_path / "h.db", tag="TAGTAG locked busy ")
    assert not Path(f"{db}-wal").exists()  # closed: every page is in the file itself
    _damage(db, how)
    with pytest.raises(ic.HistoryError, match=f"history '.*h.db' is damaged.*{says}") as e:
        with ic.history(db) as h:
            h.query()
    assert e.value.kind == "damaged"
    assert main(["history", "query", "--history", str(db)]) == 2
    _one_line_error(capsys, str(db), "damaged", says)


SCHEMA = {
    "empty version table": ("DELETE FROM schema_version", "holds 0 rows"),
    "two versions": ("INSERT INTO schema_version VALUES (2)", "holds 2 rows"),
    "version 0": ("UPDATE schema_version SET version = 0", "schema version 0 is not"),
    "version 'abc'": ("UPDATE schema_version SET version = 'abc'", "schema version 'abc' is"),
    "version 2.5": ("UPDATE schema_version SET version = 2.5", "schema version 2.5 is"),
    "no results table": ("DROP TABLE results", "has no table 'results'"),
    "no runs table": ("DROP TABLE results; DROP TABLE runs", "has no table 'runs'"),
}


@pytest.mark.parametrize("case", SCHEMA)
def test_a_damaged_schema_is_a_typed_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    db = _history(tmp_path / "h.db", n=3)
    sql, says = SCHEMA[case]
    c = sqlite3.connect(db)
    c.executescript(sql)
    c.close()
    for read_only in (False, True):
        with pytest.raises(ic.HistoryError, match=says) as e:
            ic.history(db, read_only=read_only)
        assert e.value.kind == "damaged" and str(db) in str(e.value)
    assert main(["history", "regressions", "--history", str(db)]) == 2
    _one_line_error(capsys, str(db), says)


# -- what is added -------------------------------------------------------------------------


@pytest.mark.parametrize("version", [{"v": 1}, ["2026"], 2026, True])
def test_a_header_version_of_another_type_is_refused_by_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], version: Any
) -> None:
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False)
    lines = res.read_text().splitlines()
    header = json.loads(lines[0])
    header["inferclock_version"] = version
    res.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    db = tmp_path / "h.db"
    assert main(["history", "add", str(res), "--history", str(db)]) == 2
    _one_line_error(capsys, "header field 'inferclock_version' must be a version string")
    with ic.history(db) as h:
        with pytest.raises(ic.ConfigError, match="'openvino_version' must be a version string"):
            h.add(_rows(1), header={"openvino_version": version})
        assert h.query().empty  # nothing of a refused batch is stored


@pytest.mark.parametrize("field", ["key", "model", "host", "precision_requested"])
def test_a_nul_in_a_key_is_refused_naming_the_row_and_field(tmp_path: Path, field: str) -> None:
    """PostgreSQL's text refuses NUL; SQLite took it: both refuse it now, the same way
    (test_history_pg.py::test_a_nul_in_a_key_is_refused_as_on_sqlite)."""
    rows = _rows(3)
    rows[1][field] = "cell\x00one"
    with ic.history(tmp_path / "h.db") as h:
        with pytest.raises(ic.ConfigError, match=f"row 2 .*field '{field}'.*NUL") as e:
            h.add(rows, header=HEADER)
        assert not isinstance(e.value, ic.HistoryError)  # the input is wrong, not the file
        assert h.query().empty
        with pytest.raises(ic.ConfigError, match="NUL"):
            h.query(model="a\x00b")


# -- a read-only mount ---------------------------------------------------------------------


def test_a_history_on_a_read_only_mount_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The history was closed (no -wal, no -shm beside it): SQLite cannot open it with
    ``mode=ro`` alone on a read-only mount, so it is opened immutable there."""
    src = tmp_path / "src"
    src.mkdir()
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False)
    with ic.history(src / "h.db") as h:
        assert h.add_file(res) == 2
    with _read_only_view(src, tmp_path / "ro") as ro:
        db = str(ro / "h.db")
        assert main(["history", "query", "--history", db]) == 0
        assert "tiny" in capsys.readouterr().out
        assert main(["history", "regressions", "--history", db]) == 0
        capsys.readouterr()
        assert main(["publish", db, "-o", str(tmp_path / "site")]) == 0
        assert (tmp_path / "site" / "index.html").exists()
        capsys.readouterr()
        assert main(["history", "add", str(res), "--history", db]) == 2
        _one_line_error(capsys, db)


def test_a_read_only_mount_reads_the_rows_still_in_the_wal(tmp_path: Path) -> None:
    """A writer still has the history open (its last rows in ``-wal``, not yet in the file):
    ``mode=ro`` reads them; an immutable open would miss them."""
    src = tmp_path / "src"
    src.mkdir()
    with _read_only_view(src, tmp_path / "ro") as ro:
        writer = ic.history(src / "h.db")
        try:
            assert writer.add(_rows(6), header=HEADER) == 6
            assert Path(f"{src / 'h.db'}-wal").stat().st_size > 0
            with ic.history(ro / "h.db", read_only=True) as h:
                assert len(h.query()) == 6
        finally:
            # before the unmount: SQLite keeps the reader's file open while another
            # connection of this process holds a lock on the same file
            writer.close()


def test_read_only_opens_create_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "none.db"
    with pytest.raises(ic.HistoryError, match="does not exist"):
        ic.history(db, read_only=True)
    assert main(["history", "query", "--history", str(db)]) == 2
    _one_line_error(capsys, "does not exist")
    assert list(tmp_path.iterdir()) == []
