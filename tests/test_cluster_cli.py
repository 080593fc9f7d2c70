"""``inferclock sweep --cluster`` against a real ``dask scheduler`` and ``dask worker``
processes on 127.0.0.1, as the README starts them: a worker SIGKILLed in the middle of a
cell, Ctrl-C, resume, and a host that cannot see a model path (a worker in its own mount
namespace, where the models folder is an empty tmpfs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))


def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


class Cluster:
    def __init__(self, root: Path, hidden: Path) -> None:
        self.root, self.procs = root, []
        self.pids: dict[str, int] = {}  # each process leads its own session
        self.env = dict(os.environ, INFERCLOCK_CACHE_DIR=str(root / "hosts-cache"))
        sched_file = root / "scheduler.json"
        scheduler = [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
        self._start([*scheduler, "--scheduler-file", str(sched_file)], "scheduler")
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.address = json.loads(sched_file.read_text())["address"]
        worker = [DASK, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
                  "--resources", "inferclock=1", "--no-dashboard"]  # fmt: skip
        self._start([*worker, "--name", "w1"], "w1")
        self._start([*worker, "--name", "w2"], "w2")
        names = {"w1", "w2"}
        if _can_unshare():  # w3 cannot see the models folder
            hide = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount -t tmpfs none "$0" && shift 0 && exec "$@"', str(hidden)]  # fmt: skip
            self._start([*hide[:-1], hide[-1], *worker, "--name", "w3"], "w3")
            names.add("w3")
        with distributed.Client(self.address, timeout=30) as c:
            c.wait_for_workers(len(names), timeout=60)
        self.names = names

    def sessions(self, *names: str) -> set[int]:
        return {self.pids[n] for n in names}

    def _start(self, argv: list[str], name: str) -> None:
        with open(self.root / f"{name}.log", "wb") as log:  # the process keeps its own copy
            p = subprocess.Popen(argv, stdout=log, stderr=log, env=self.env, start_new_session=True)
        self.procs.append(p)
        self.pids[name] = p.pid

    def close(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("dask"), model_dir)
    try:
        yield c
    finally:
        c.close()


def _sweep(cluster: Cluster, model: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "inferclock", "sweep", str(model), "--cluster",
            cluster.address, "-o", str(out), "--quiet", *extra]  # fmt: skip


def _rows(out: Path) -> list[dict[str, Any]]:
    if not out.exists():
        return []
    lines = [json.loads(x) for x in out.read_text().splitlines() if x.strip()]
    return [r for r in lines if r.get("kind") == "row"]


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat fields after the command name: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cell_processes(sessions: set[int]) -> dict[int, int]:
    """pid -> parent pid of every live inferclock cell worker process whose parent (a Dask
    worker) runs in one of ``sessions`` (our workers', not another test's)."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes()
            state, ppid = _stat(int(d.name))[:2]
            parent_session = int(_stat(int(ppid))[3])
        except (OSError, IndexError, ValueError):
            continue
        if b"inferclock._workers.worker" in cmd and state != "Z" and parent_session in sessions:
            out[int(d.name)] = int(ppid)
    return out


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"


def test_a_worker_killed_mid_cell_is_retried_and_resume_adds_nothing(
    cluster: Cluster, slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    argv = _sweep(cluster, slow_model, out, "-b", "1,2,3,4", "--processes", "1",
                  "--duration", "2", "--hosts", "w1,w2")  # fmt: skip
    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and sweep.poll() is None:
        if len(_rows(out)) >= 1:  # a cell finished: the next ones are under way
            cells = _cell_processes(cluster.sessions("w1", "w2"))
            if cells:
                # At once (a sleep here could outlast the cell on a fast machine, or the
                # cell's last moments on a loaded one): a live cell process is mid cell.
                victim = next(iter(cells.items()))
                before = out.read_text()
                os.kill(victim[1], signal.SIGKILL)  # the Dask worker running the cell
        time.sleep(0.05)
    assert victim is not None, "no cell was seen running"
    _, stderr = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, stderr.decode()
    # The killed cell's worker process did not outlive its Dask worker.
    deadline = time.monotonic() + 10
    while not _gone(victim[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(victim[0])
    text = out.read_text()
    assert text.startswith(before)  # no finished row lost or rewritten
    rows = _rows(out)
    assert sorted(r["batch_size"] for r in rows) == [1, 2, 3, 4]
    retried = [r for r in rows if r["attempt"] == 2 or r["error_kind"] == "host lost"]
    assert len(retried) == 1, [(r["key"], r["attempt"], r["error"]) for r in rows]
    assert {r["host_name"] for r in rows} <= {"w1", "w2"}
    # Resume: every run is there; nothing is added.
    again = subprocess.run(argv, capture_output=True, timeout=300)
    assert again.returncode == 0, again.stderr.decode()
    measured = [(r["key"], r["process"], r["repeat"]) for r in _rows(out) if not r["error"]]
    assert len(measured) == len(set(measured))
    assert len(_rows(out)) == len(rows)


def test_ctrl_c_keeps_finished_rows_and_resume_does_the_rest(
    cluster: Cluster, slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "r.jsonl"
    argv = _sweep(cluster, slow_model, out, "-b", "1,2,3,4,5,6", "--processes", "1",
                  "--duration", "1", "--hosts", "w1,w2")  # fmt: skip
    sweep = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _rows(out) and time.monotonic() < deadline and sweep.poll() is None:
        time.sleep(0.05)
    sweep.send_signal(signal.SIGINT)
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 130, stderr.decode()
    assert b"to resume:" in stderr
    first = _rows(out)
    assert 1 <= len(first) < 6 and all(r["error"] is None for r in first)
    done = subprocess.run(argv, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    rows = _rows(out)
    assert sorted(r["batch_size"] for r in rows) == [1, 2, 3, 4, 5, 6]
    assert rows[: len(first)] == first


def test_a_model_path_missing_on_a_host_is_refused_naming_it(
    cluster: Cluster, matmul_model: Path, tmp_path: Path
) -> None:
    if "w3" not in cluster.names:
        pytest.skip("needs `unshare -m` (a private mount namespace) for a host without the path")
    out = tmp_path / "r.jsonl"
    r = subprocess.run(
        _sweep(cluster, matmul_model, out, "--hosts", "w3", "--no-ship-models"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert f"model '{matmul_model}' does not exist on host w3" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    # Shipped (the default), the same model runs there.
    ok = subprocess.run(
        _sweep(cluster, matmul_model, out, "--hosts", "w3", "--iterations", "20",
               "--processes", "1"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    (row,) = _rows(out)
    assert row["host_name"] == "w3" and row["error"] is None
