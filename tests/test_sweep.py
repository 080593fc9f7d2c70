"""ic.sweep: fresh worker per cell, rows kept whatever happens, resume, Ctrl-C, bad input.

Every test runs real workers on small models built here with OpenVINO's opset API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops
from procs import has_mapped, signal_taken

import inferclock as ic
from inferclock._analysis.table import load_file
from inferclock._cli.demo import bf16_native

FAST = {"iterations": 20, "warmup": 2, "processes": 1}
SECOND_PRECISION = "bf16" if bf16_native() else "default"


def save_matmul(path: Path, n: int = 64, static: bool = False) -> Path:
    x = ops.parameter([n] if static else [-1, n], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    y = ops.matmul(ops.unsqueeze(x, ops.constant(np.int64(0))) if static else x, w, False, False)
    ov.save_model(ov.Model([y], [x], "mm"), str(path), compress_to_fp16=False)
    return path


def save_convnet(path: Path) -> Path:
    x = ops.parameter([-1, 3, 16, 16], np.float32, name="img")
    w = ops.constant(np.random.default_rng(1).standard_normal((8, 3, 3, 3)).astype(np.float32))
    c = ops.relu(ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.reduce_mean(c, ops.constant(np.array([2, 3], np.int64)), False)
    ov.save_model(ov.Model([y], [x], "conv"), str(path), compress_to_fp16=False)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    return {
        "mm": save_matmul(d / "mm.xml"),
        "conv": save_convnet(d / "conv.xml"),
        "nobatch": save_matmul(d / "nobatch.xml", static=True),
    }


@pytest.fixture(scope="module")
def grid(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 models x 2 precisions x 2 batch sizes, raw latencies saved."""
    out = tmp_path_factory.mktemp("grid") / "results.jsonl"
    ic.sweep(
        [models["mm"], models["conv"]],
        precisions=["f32", SECOND_PRECISION],
        batch_sizes=[1, 4],
        out=out,
        save_raw=True,
        quiet=True,
        **FAST,
    )
    return out


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def runs(path: Path) -> list[tuple[str, int, int]]:
    return [(r["key"], r["process"], r["repeat"]) for r in load_file(path).rows]


def worker_children(parent: int) -> list[int]:
    """pids of inferclock worker processes whose parent is ``parent``."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
            cmd = Path(f"/proc/{d}/cmdline").read_bytes()
        except OSError:
            continue
        if (
            int(stat.rsplit(")", 1)[1].split()[1]) == parent
            and b"inferclock._workers.worker" in cmd
        ):
            found.append(int(d))
    return found


# ---------------------------------------------------------------- the grid


def test_grid_writes_one_row_per_cell_plus_header(grid: Path) -> None:
    text = lines(grid)
    assert len(text) == 9
    header = json.loads(text[0])
    assert header["kind"] == "header" and header["format_version"] == 1
    assert header["environment"] and header["openvino_version"]
    assert header["sweep"]["models"] == ["mm", "conv"]
    assert header["sweep"]["precisions"] == ["f32", SECOND_PRECISION]
    assert header["sweep"]["run"]["iterations"] == 20
    f = load_file(grid)
    assert f.skipped_lines == 0
    keys = {r["key"] for r in f.rows}
    assert keys == {
        f"{m}|CPU|{p}|{b}|latency|-"
        for m in ("mm", "conv")
        for p in ("f32", SECOND_PRECISION)
        for b in (1, 4)
    }
    for r in f.rows:
        assert r["error"] is None and r["error_kind"] is None
        assert (r["process"], r["repeat"]) == (0, 0)
        assert r["n"] == 20 and r["latency_median_ns"] > 0
        assert r["compile_cache"] in ("cold", "hot")
        assert r["isolated"] is True
        raw = np.load(grid.parent / r["raw_latencies"])
        assert raw.dtype == np.int64 and raw.size == r["n"]
        assert float(np.median(raw)) == pytest.approx(r["latency_median_ns"], rel=1e-6)
    if SECOND_PRECISION == "bf16":
        assert {r["precision_executed"] for r in f.rows if r["precision_requested"] == "bf16"} == {
            "bf16"
        }


def test_resume_of_a_finished_sweep_runs_nothing(grid: Path, models: dict[str, Path]) -> None:
    before = grid.read_bytes()
    table = ic.sweep(
        [models["mm"], models["conv"]],
        precisions=["f32", SECOND_PRECISION],
        batch_sizes=[1, 4],
        out=grid,
        quiet=True,
        **FAST,
    )
    assert grid.read_bytes() == before
    assert len(table) == 8


def test_report_from_a_real_sweep(grid: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    md = ic.report(ic.ResultTable.load(grid), tmp_path / "rep")
    pngs = sorted((tmp_path / "rep").glob("*.png"))
    svgs = sorted((tmp_path / "rep").glob("*.svg"))
    assert pngs and len(pngs) == len(svgs)
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for svg in svgs:
        assert b"<svg" in svg.read_bytes()[:2000]
    text = md.read_text()
    assert "conv" in text and "mm" in text and "drawn from raw" in text


def test_compare_of_a_sweep_with_itself_passes(grid: Path) -> None:
    result = ic.compare(grid, grid)
    assert len(result.cells) == 8
    assert not result.regressions
    assert all(c.ratio == 1.0 for c in result.cells)


def test_processes_and_repeats(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    table = ic.sweep(models["mm"], repeats=2, out=out, quiet=True, **{**FAST, "processes": 2})
    rows = table.rows
    assert sorted((r["process"], r["repeat"]) for r in rows) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    # One OpenVINO model cache for the whole sweep: only the very first compile is cold.
    assert sorted(r["compile_cache"] for r in rows) == ["cold", "hot", "hot", "hot"]
    assert (tmp_path / "r.ovcache").is_dir()
    summary = table.summary()
    assert len(summary) == 1 and summary[0].runs == 4 and summary[0].spread is not None


# ---------------------------------------------------------------- failures become rows


def test_openvino_error_becomes_error_row_and_is_retried_on_resume(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    kwargs: dict[str, Any] = {"batch_sizes": [1, 2], "out": out, "quiet": True, **FAST}
    table = ic.sweep(models["nobatch"], **kwargs)
    assert len(table) == 2
    bad = table.errors().rows
    assert len(bad) == 1 and bad[0]["batch_size"] == 2
    assert bad[0]["error_kind"] == "ModelError" and "batch" in bad[0]["error"]
    assert bad[0]["latency_median_ns"] is None and bad[0]["model"] == "nobatch"
    assert table.ok().rows[0]["batch_size"] == 1
    # Resume retries the error row (appending) and leaves the measured cell alone.
    table = ic.sweep(models["nobatch"], **kwargs)
    assert len(table.ok()) == 1 and len(table.errors()) == 2


def test_sigkill_mid_cell_becomes_error_row_and_the_rest_complete(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    killed: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pids = worker_children(os.getpid())
            # Mid cell: compiling (its CPU plugin loaded) or measuring, not a guessed sleep.
            if pids and has_mapped(pids[0]):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
                return
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    table = ic.sweep(
        models["mm"], batch_sizes=[1, 2, 4], out=out, shuffle=False, quiet=True,
        duration=2.0, warmup=1, processes=1,
    )  # fmt: skip
    t.join()
    assert killed
    assert len(table) == 3
    errors = table.errors().rows
    assert len(errors) == 1
    assert errors[0]["error_kind"] == "crash (SIGKILL)" and errors[0]["batch_size"] == 1
    assert {r["batch_size"] for r in table.ok().rows} == {2, 4}


def test_hang_past_cell_timeout_becomes_error_row(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    table = ic.sweep(
        models["mm"],
        batch_sizes=[1],
        out=out,
        quiet=True,
        duration=30.0,
        cell_timeout=2.0,
        processes=1,
    )
    (row,) = table.rows
    assert row["error_kind"] == "timeout" and "timeout=2 s" in row["error"]
    assert not worker_children(os.getpid())


# ---------------------------------------------------------------- Ctrl-C, torn lines


def _sweep_cli(models: dict[str, Path], out: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "inferclock", "sweep", str(models["mm"]), str(models["conv"]),
         "-b", "1,2", "--no-shuffle", "--processes", "1", "-o", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for(cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_sigint_keeps_finished_rows_and_resume_runs_only_the_rest(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    proc = _sweep_cli(models, out, "--duration", "0.7", "--warmup", "1")
    _wait_for(lambda: out.exists() and len(lines(out)) >= 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "to resume: inferclock sweep" in err and "Traceback" not in err
    f = load_file(out)
    assert f.skipped_lines == 0
    assert 1 <= len(f.rows) < 4
    assert all(r["error"] is None for r in f.rows)
    first = out.read_bytes()

    proc = _sweep_cli(models, out, "--duration", "0.7", "--warmup", "1")
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    done = runs(out)
    assert len(done) == 4 and len(set(done)) == 4  # exactly the missing cells, no duplicates
    assert out.read_bytes().startswith(first)  # nothing rewritten
    assert "| mm |" in stdout and "| conv |" in stdout


def test_second_sigint_kills_the_running_worker_at_once(
    models: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    proc = _sweep_cli(models, out, "--duration", "60")
    _wait_for(lambda: bool(worker_children(proc.pid)))
    proc.send_signal(signal.SIGINT)
    # Two SIGINTs sent before the first is handled merge into one (then the 60 s cell runs
    # on): press again once the first was taken, not after a sleep.
    _wait_for(lambda: signal_taken(proc.pid))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)  # far less than the 60 s cell
    assert proc.returncode == 130, err
    f = load_file(out)
    assert f.rows == []  # the killed run is not recorded, the file is still valid
    assert not worker_children(proc.pid)


def test_torn_trailing_line_is_redone_on_resume(models: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    kwargs: dict[str, Any] = {
        "batch_sizes": [1, 2],
        "out": out,
        "quiet": True,
        "shuffle": False,
        **FAST,
    }
    ic.sweep(models["mm"], **kwargs)
    data = out.read_bytes()
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[1]
    out.write_bytes(data[: len(data) - len(last) // 2 - 1])  # power cut mid-row
    torn_key = json.loads(last)["key"]
    assert load_file(out).skipped_lines == 1

    table = ic.sweep(models["mm"], **kwargs)
    f = load_file(out)
    assert f.skipped_lines == 1  # the torn line stays, skipped by readers
    assert sorted(runs(out)) == sorted(set(runs(out))) and len(f.rows) == 2
    assert f.rows[-1]["key"] == torn_key
    assert len(table) == 2


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        ({"models": []}, ic.ConfigError, "models is empty"),
        ({"models": ["resnet5"]}, ic.ModelError, "resnet5"),
        ({"models": ["/nonexistent/model.xml"]}, ic.ModelError, "/nonexistent/model.xml"),
        ({"precisions": ["f32", "f32"]}, ic.ConfigError, "duplicate"),
        ({"batch_sizes": [0]}, ic.ConfigError, "batch_size"),
        ({"precisions": ["f64"]}, ic.ConfigError, "f64"),
        ({"modes": ["fast"]}, ic.ConfigError, "fast"),
        ({"devices": ["FOO"]}, ic.DeviceError, "FOO"),
        ({"sockets": [99]}, ic.PinningError, "socket 99"),
        ({"out": "/nonexistent-dir/r.jsonl"}, ic.ConfigError, "does not exist"),
        ({"repeats": 0}, ic.ConfigError, "repeats"),
        ({"iterationz": 5}, ic.ConfigError, "iterationz"),
        ({"shapes": {"nope": [1, 64]}}, ic.ConfigError, "'nope' that none of the models has"),
    ],
)
def test_bad_input_rejected_before_any_work(
    models: dict[str, Path], tmp_path: Path, change: dict[str, Any], error: type, words: str
) -> None:
    args: dict[str, Any] = {"models": [models["mm"]], "out": tmp_path / "r.jsonl", "quiet": True}
    args.update(change)
    with pytest.raises(error, match=words):
        ic.sweep(**args)
    assert not (tmp_path / "r.jsonl").exists()


def test_duplicate_model_names_rejected(models: dict[str, Path], tmp_path: Path) -> None:
    other = save_matmul(tmp_path / "mm.xml")  # same stem as models["mm"]
    with pytest.raises(ic.ConfigError, match="duplicate cells: two models are named 'mm'"):
        ic.sweep([models["mm"], other], out=tmp_path / "r.jsonl")
    with pytest.raises(ic.ConfigError, match="duplicate"):
        ic.sweep([models["mm"], models["mm"]], out=tmp_path / "r.jsonl")


def test_read_only_directory_rejected(models: dict[str, Path], tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root writes through directory modes; a read-only filesystem still refuses it
        if not Path("/sys/kernel").is_dir():
            pytest.skip("no read-only filesystem to try as root")
        target = Path("/sys/inferclock-results.jsonl")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        target = ro / "r.jsonl"
    with pytest.raises(ic.ConfigError, match=r"cannot write|not writable"):
        ic.sweep(models["mm"], out=target, quiet=True)
    assert not target.exists()


def test_existing_file_without_resume_is_refused(grid: Path, models: dict[str, Path]) -> None:
    before = grid.read_bytes()
    with pytest.raises(ic.ConfigError, match="exists"):
        ic.sweep(models["mm"], out=grid, resume=False)
    assert grid.read_bytes() == before
