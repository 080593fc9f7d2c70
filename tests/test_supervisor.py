"""The process supervisor: errors keep their type and attributes across the process boundary,
Ctrl-C stops a worker that is still compiling, isolated runs have a default timeout, and the
worker's environment is set and recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from procs import has_mapped

import inferclock as ic
from inferclock._timing.options import BASE_TIMEOUT, DEFAULT_MAX_TIME, RunOptions
from inferclock._workers import supervisor as _supervisor, worker as _worker


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.callback = lambda: None  # lambdas do not pickle
        self.code = 42


def round_trip(e: BaseException, tmp_path: Path) -> BaseException:
    path = tmp_path / "outcome.pickle"
    _worker._write({"error": _worker.portable_error(e), "warnings": []}, path)
    out = _supervisor.read_outcome(path, 0, "now")
    assert out.result is None and out.error is not None
    return out.error


def test_errors_cross_as_themselves_with_attributes(tmp_path: Path) -> None:
    e = ic.ModelError("bad model")
    e.detail = {"input": "x"}  # type: ignore[attr-defined]
    back = round_trip(e, tmp_path)
    assert type(back) is ic.ModelError and str(back) == "bad model"
    assert back.detail == {"input": "x"}  # type: ignore[attr-defined]
    crash = round_trip(ic.WorkerCrash("gone", "crash (SIGSEGV)"), tmp_path)
    assert type(crash) is ic.WorkerCrash and crash.kind == "crash (SIGSEGV)"  # type: ignore[attr-defined]
    assert type(round_trip(KeyboardInterrupt(), tmp_path)) is KeyboardInterrupt


def test_an_unpicklable_error_comes_back_by_type_name_and_message(tmp_path: Path) -> None:
    back = round_trip(Unpicklable("no pickle"), tmp_path)
    # Its class lives in a test module the loader can import: the type comes back.
    assert type(back).__name__ == "Unpicklable" and str(back) == "no pickle"
    # Attributes that pickle come back as themselves; only the lambda as its repr.
    assert back.code == 42  # type: ignore[attr-defined]
    assert isinstance(back.callback, str) and back.callback.startswith("<function")  # type: ignore[attr-defined]
    assert back.__notes__ == [
        "(from a worker process: attribute(s) callback did not pickle; their repr)"
    ]


def test_worker_errors_keep_their_type(no_batch_model: Path, matmul_model: Path) -> None:
    with pytest.raises(ic.ModelError, match="no batch dimension"):
        ic.run(str(no_batch_model), batch_size=2, isolate=True, iterations=3)
    with pytest.raises(ic.ConfigError, match="NUM_STREAMS"):
        ic.run(str(matmul_model), isolate=True, properties={"NUM_STREAMS": "banana"})


def test_isolated_runs_have_a_default_timeout() -> None:
    assert RunOptions().effective_timeout() == BASE_TIMEOUT + 2 * DEFAULT_MAX_TIME
    assert RunOptions(duration=30).effective_timeout() == BASE_TIMEOUT + 60
    assert RunOptions(duration=30, warmup=5.0).effective_timeout() == BASE_TIMEOUT + 70
    assert RunOptions(timeout=3).effective_timeout() == 3


def test_a_worker_past_its_timeout_is_killed(deep_model: Path) -> None:
    with pytest.raises(ic.WorkerCrash, match="timeout=1 s") as info:
        ic.run(str(deep_model), isolate=True, iterations=3, timeout=1.0)
    assert info.value.kind == "timeout"


def _children(pid: int) -> list[int]:
    """Worker processes of ``pid`` (not the short-lived helpers imports may fork)."""
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if (
                int(stat.rsplit(")", 1)[1].split()[1]) == pid
                and b"inferclock._workers.worker" in cmd
            ):
                kids.append(int(d.name))
    return kids


def test_ctrl_c_stops_a_worker_that_is_compiling(deep_model: Path) -> None:
    code = textwrap.dedent(f"""
        import inferclock as ic
        try:
            ic.run({str(deep_model)!r}, isolate=True, iterations=5)
            print("finished")
        except KeyboardInterrupt as e:
            print("interrupted:", e)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    _wait_for(lambda: _children(p.pid) or p.poll() is not None, "the worker")
    (worker,) = _children(p.pid)
    # Not a sleep that guesses how long start-up takes: the worker has the CPU plugin loaded
    # once it is compiling (it told its parent "phase compile" before); 1000 blocks compile
    # for seconds more.
    _wait_for(lambda: has_mapped(worker), "the worker to compile")
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    assert "interrupted: stopped while the worker was in phase 'compile'" in out, out
    assert not Path(f"/proc/{worker}").exists(), "the worker outlived the run"


def test_env_is_set_in_the_worker_and_recorded(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=3, env={"OMP_WAIT_POLICY": "PASSIVE"})
    assert r.isolated and r.env_vars["OMP_WAIT_POLICY"] == "PASSIVE"
    assert r.to_dict()["env_set"] == {"OMP_WAIT_POLICY": "PASSIVE"}
    assert "OMP_WAIT_POLICY" not in os.environ
    with pytest.raises(ic.PinningError, match="fresh process"):
        ic.run(str(matmul_model), env={"OMP_WAIT_POLICY": "PASSIVE"}, isolate=False)
    with pytest.raises(ic.ConfigError, match="environment variable name"):
        ic.run(str(matmul_model), env={"BAD=NAME": "1"})


def test_the_fingerprint_records_the_variables_that_change_openvino(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KMP_AFFINITY", "compact")
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    env = ic.environment()["env_vars"]
    assert env["KMP_AFFINITY"] == "compact" and "UNRELATED_VARIABLE" not in env


def _inferclock_dirs(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("inferclock-"))


def _start_cli(args: list[str], tmpdir: Path) -> subprocess.Popen[str]:
    tmpdir.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    return subprocess.Popen(
        [sys.executable, "-m", "inferclock", *args], env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _wait_for(check: object, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_sigterm_to_a_sweep_keeps_its_rows_and_leaves_no_worker(
    matmul_model: Path, tmp_path: Path
) -> None:
    out, tmpdir = tmp_path / "r.jsonl", tmp_path / "tmp"
    p = _start_cli(
        ["sweep", str(matmul_model), "-b", "1,2,3,4", "--duration", "1", "--warmup", "0",
         "--no-shuffle", "--quiet", "-o", str(out)],
        tmpdir,
    )  # fmt: skip
    workers: set[int] = set()

    def first_row() -> bool:
        workers.update(_children(p.pid))
        return out.exists() and out.read_text().count('"kind": "row"') >= 1

    _wait_for(first_row, "the first row")
    _wait_for(lambda: workers.update(_children(p.pid)) or _children(p.pid), "the next worker")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143, err
    assert "terminated" in err and "resume" in err
    rows = ic.ResultTable.load(out).rows
    assert 1 <= len(rows) < 4 and all(r["error"] is None for r in rows)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "a worker outlived the sweep"
    assert _inferclock_dirs(tmpdir) == []


def _pinned_run(model: Path, tmpdir: Path) -> tuple[subprocess.Popen[str], int]:
    """A pinned 30 s `inferclock run`, once its worker is up: (the CLI process, the worker)."""
    cpu = str(min(os.sched_getaffinity(0)))
    p = _start_cli(["run", str(model), "--cpus", cpu, "--duration", "30", "--warmup", "0"], tmpdir)
    _wait_for(lambda: _children(p.pid), "the worker")
    (worker,) = _children(p.pid)
    return p, worker


def test_a_killed_parent_takes_its_worker_and_its_files_along(
    matmul_model: Path, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    p, worker = _pinned_run(matmul_model, tmpdir)
    _wait_for(lambda: _inferclock_dirs(tmpdir), "the worker's folder")
    p.kill()  # SIGKILL: nothing in the parent runs
    p.communicate(timeout=30)
    _wait_for(lambda: not Path(f"/proc/{worker}").exists(), "the worker to die", 30)
    assert _inferclock_dirs(tmpdir) == []


def test_sigterm_to_a_pinned_run_stops_its_worker_and_cleans_up(
    matmul_model: Path, tmp_path: Path
) -> None:
    tmpdir = tmp_path / "tmp"
    p, worker = _pinned_run(matmul_model, tmpdir)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and err.startswith("terminated"), err
    assert not Path(f"/proc/{worker}").exists()
    assert _inferclock_dirs(tmpdir) == []


def test_ctrl_c_while_compiling_in_the_cli_exits_130_without_a_traceback(
    deep_model: Path, tmp_path: Path
) -> None:
    p = _start_cli(["run", str(deep_model), "--isolate", "--iterations", "5"], tmp_path / "tmp")
    _wait_for(lambda: _children(p.pid), "the worker")
    (worker,) = _children(p.pid)
    _wait_for(lambda: has_mapped(worker), "the worker to compile")  # not a guessed sleep
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.startswith("interrupted: stopped while"), err
    assert "Traceback" not in err
