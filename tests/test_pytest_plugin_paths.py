"""The pytest plugin's paths (issue 24): an ``--inferclock-history`` that cannot be written or
an ``--inferclock-storage`` that is a file is a one-line usage error (exit 4) before any test
runs, not an INTERNALERROR after all of them ran; a history that fails at the session's end
(damaged since it began) is one ``ERROR: inferclock:`` line and exit 4, the tests' outcomes
and the table kept.

The test files write a marker file when their test runs, so "before any test runs" is seen,
not assumed. Runs through ``pytester`` in subprocesses, as test_pytest_plugin.py does.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REGISTERED = any(ep.value == "inferclock.pytest_plugin" for ep in entry_points(group="pytest11"))
OPTS = ("-p", "no:cacheprovider", *(() if REGISTERED else ("-p", "inferclock.pytest_plugin")))

MEASURE = """
from pathlib import Path


def test_quick(inferclock):
    Path("ran").touch()
    inferclock.measure(lambda: None, iterations=50, warmup=0, processes=1)
    DAMAGE
"""


def _umount(where: Path) -> None:
    """Unmount ``where``; lazily if a file is still open on it (nothing is left mounted)."""
    if subprocess.run(["umount", str(where)], capture_output=True, check=False).returncode:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=True)


def _usage_error(r: pytest.RunResult, pytester: pytest.Pytester, *needles: str) -> None:
    assert r.ret == pytest.ExitCode.USAGE_ERROR, r.stdout.str() + r.stderr.str()
    errors = [line for line in r.stderr.lines if line.startswith("ERROR: inferclock:")]
    assert len(errors) == 1, r.stderr.str()
    for n in needles:
        assert n in errors[0], errors[0]
    assert "INTERNALERROR" not in r.stdout.str() + r.stderr.str()
    assert not (pytester.path / "ran").exists()  # refused before any test ran


@pytest.mark.parametrize("where", ["under a file", "a folder", "a missing folder", "up from one"])
def test_a_history_that_cannot_be_written_is_a_usage_error_before_any_test(
    pytester: pytest.Pytester, where: str
) -> None:
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    (pytester.path / "afile").write_text("x")
    (pytester.path / "adir").mkdir()
    path = {"under a file": "afile/h.db", "a folder": "adir", "a missing folder": "no/h.db",
            "up from one": "no/../h.db"}  # fmt: skip
    r = pytester.runpytest_subprocess(*OPTS, "--inferclock-history", path[where])
    _usage_error(r, pytester, "--inferclock-history", path[where])


def test_a_history_from_the_environment_is_checked_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    (pytester.path / "adir").mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFERCLOCK_HISTORY", "adir")
        r = pytester.runpytest_subprocess(*OPTS)
    _usage_error(r, pytester, "$INFERCLOCK_HISTORY", "is a folder")


def test_a_history_on_a_read_only_mount_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """As root, file modes block nothing: a read-only bind mount does."""
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    src, ro = pytester.path / "src", pytester.path / "ro"
    src.mkdir()
    ro.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(ro)], check=False).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        if subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=False).returncode:
            pytest.skip("cannot remount read-only here")
        r = pytester.runpytest_subprocess(*OPTS, "--inferclock-history", "ro/h.db")
    finally:
        _umount(ro)
    _usage_error(r, pytester, "ro/h.db", "not writable")


@pytest.mark.parametrize("flags", [("--inferclock-save", "base"), ("--inferclock-compare", "b")])
def test_a_storage_that_is_a_file_is_a_usage_error_before_any_test(
    pytester: pytest.Pytester, flags: tuple[str, str]
) -> None:
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    (pytester.path / "store").write_text("x")
    r = pytester.runpytest_subprocess(*OPTS, "--inferclock-storage", "store", *flags)
    _usage_error(r, pytester, "--inferclock-storage", "is a file")


def test_a_storage_under_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    (pytester.path / "afile").write_text("x")
    r = pytester.runpytest_subprocess(
        *OPTS, "--inferclock-storage", "afile/base", "--inferclock-save", "base"
    )
    _usage_error(r, pytester, "--inferclock-storage", "cannot be created")


def test_a_history_damaged_during_the_session_is_one_error_line(
    pytester: pytest.Pytester,
) -> None:
    """The history was good when the session began; its test overwrites the file's first
    page. The end of the session says so in one line, exit 4; the test itself passed."""
    damage = 'Path("h.db").write_bytes(b"\\x00" * 4096)'
    pytester.makepyfile(MEASURE.replace("DAMAGE", damage))
    r = pytester.runpytest_subprocess(*OPTS, "--inferclock-history", "h.db")
    r.assert_outcomes(passed=1)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    out = r.stdout.str() + r.stderr.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    r.stdout.fnmatch_lines(["ERROR: inferclock: results not added to history: *h.db* damaged*"])
    assert (pytester.path / "ran").exists()


def test_a_good_history_gets_the_results(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    r = pytester.runpytest_subprocess(*OPTS, "--inferclock-history", "h.db")
    assert r.ret == 0
    import inferclock as ic

    with ic.history(pytester.path / "h.db", read_only=True) as h:
        assert list(h.query()["key"]) == ["test_a_good_history_gets_the_results.py::test_quick"]


def test_a_storage_whose_disk_fills_during_the_session_is_one_error_line(
    pytester: pytest.Pytester,
) -> None:
    """The storage is a tmpfs that a file fills before the session: writable when checked,
    ENOSPC when the baseline is written at the end."""
    pytester.makepyfile(MEASURE.replace("DAMAGE", ""))
    mnt = pytester.path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "none", str(mnt)],
                      check=False).returncode:  # fmt: skip
        pytest.skip("cannot mount a tmpfs here")
    try:
        with (mnt / "filler").open("wb", buffering=0) as f, pytest.raises(OSError, match="space"):
            while True:
                f.write(b"x" * 4096)
        r = pytester.runpytest_subprocess(
            *OPTS, "--inferclock-storage", str(mnt), "--inferclock-save", "base"
        )
    finally:
        _umount(mnt)
    r.assert_outcomes(passed=1)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in r.stdout.str() + r.stderr.str()
    r.stdout.fnmatch_lines(["ERROR: inferclock: baseline 'base' not saved (*base.jsonl): *"])
    assert "saved baseline" not in r.stdout.str()
