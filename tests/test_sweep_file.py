"""A sweep's results file: one writer at a time, and a resume that would mix rows of other
settings is refused (naming the differences) unless forced, which the file then records."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

import inferclock as ic
from inferclock._analysis.table import load_file

FAST = {"iterations": 5, "warmup": 1, "quiet": True, "processes": 1}


def test_a_second_writer_is_refused(matmul_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    fd = os.open(out, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a running sweep holds it
        with pytest.raises(ic.ConfigError, match="being written by another sweep"):
            ic.sweep(str(matmul_model), out=out, **FAST)
    finally:
        os.close(fd)
    ic.sweep(str(matmul_model), out=out, **FAST)  # the lock is gone: it runs
    assert len(load_file(out).rows) == 1


def test_a_refused_sweep_leaves_no_empty_file(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.raises(ic.ModelError):
        ic.sweep(str(tmp_path / "missing.xml"), out=out, **FAST)
    assert not out.exists()


def test_resume_with_other_settings_is_refused_unless_forced(
    matmul_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    ic.sweep(str(matmul_model), out=out, batch_sizes=[1], **FAST)
    assert len(ic.sweep(str(matmul_model), out=out, batch_sizes=[1], **FAST).rows) == 1
    with pytest.raises(ic.ConfigError, match=r"run\.iterations: 5 in the file, 6 now"):
        ic.sweep(str(matmul_model), out=out, batch_sizes=[1], **{**FAST, "iterations": 6})
    with pytest.raises(ic.ConfigError, match=r"batch_sizes: \[1\] in the file, \[1, 2\] now"):
        ic.sweep(str(matmul_model), out=out, batch_sizes=[1, 2], **FAST)
    assert len(load_file(out).rows) == 1, "nothing written by the refused resumes"
    table = ic.sweep(str(matmul_model), out=out, batch_sizes=[1, 2], force_resume=True, **FAST)
    assert len(table.rows) == 2
    f = load_file(out)
    assert f.skipped_lines == 0 and len(f.resumes) == 1
    assert f.resumes[0]["changed"]["batch_sizes"] == [[1], [1, 2]]
    # The record now describes the file: the same forced grid resumes without force.
    assert len(ic.sweep(str(matmul_model), out=out, batch_sizes=[1, 2], **FAST).rows) == 2


def test_a_finished_sweep_resumes_to_a_no_op(conv_model: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "r.jsonl"
    args = [sys.executable, "-m", "inferclock", "sweep", str(conv_model), "-b", "1,2"]
    args += ["--shape", "image[?,3,32,32]", "--iterations", "5", "-o", str(out), "--quiet"]
    for _ in range(2):
        p = subprocess.run(args, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
    rows = load_file(out).rows  # 2 cells x 3 processes (the default), none added by the resume
    assert sorted((r["batch_size"], r["process"]) for r in rows) == [
        (b, p) for b in (1, 2) for p in range(3)
    ]
