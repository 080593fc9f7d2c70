"""Sweeps on a Dask cluster on this machine: the wall time of a 12-cell sweep on 1 worker
against 2 workers, and the cluster path's overhead per cell against a local sweep.

Run: python benchmarks/cluster.py [--rounds 3] [--iterations 1000] [--quick]
(about 3 minutes on 2 cores; run it alone on the machine)

A real ``dask scheduler`` and ``dask worker --nworkers 1 --nthreads 1 --resources
inferclock=1`` processes on 127.0.0.1, each worker limited to its own CPU with ``taskset``
(a cell's worker process inherits that mask). The 12 cells are 12 copies of one model
(equal work each: a chain of 512x512 MatMuls of about a millisecond, ``--iterations`` timed
inferences, warm-up 10, one process per cell, so each cell is a fresh worker process as in
any sweep):

(a) the 12 cells on a cluster of 1 worker (CPU 0) and of 2 workers (CPUs 0 and 1);
(b) the overhead per cell: a local sweep of the same 12 cells with this process (and so its
    workers) on CPU 0, against the 1-worker cluster on CPU 0; (cluster - local) / 12.

Rounds alternate the order of the three sweeps; medians over the rounds are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import numpy as np
import openvino as ov
import openvino.opset13 as ops
from _common import loadavg, machine, table, today

import inferclock as ic

DASK = str(Path(sys.executable).with_name("dask"))


def build_models(folder: Path, n: int) -> list[str]:
    rng = np.random.default_rng(3)
    x = ops.parameter([-1, 512], np.float32, name="x")
    h = x
    for _ in range(8):
        w = ops.constant(rng.standard_normal((512, 512)).astype(np.float32) * 0.05)
        h = ops.relu(ops.matmul(h, w, False, False))
    model = ov.Model([h], [x], "chain")
    paths = []
    for i in range(n):
        p = folder / f"chain{i:02d}.xml"
        ov.save_model(model, str(p), compress_to_fp16=False)
        paths.append(str(p))
    return paths


class Cluster:
    """A scheduler and one worker per CPU in ``cpus``."""

    def __init__(self, root: Path, cpus: list[int]) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        env = dict(os.environ, INFERCLOCK_CACHE_DIR=str(root / "hosts-cache"))
        sched = root / f"scheduler-{'-'.join(map(str, cpus))}.json"
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched)], env)  # fmt: skip
        while not sched.exists():
            time.sleep(0.1)
        self.address = json.loads(sched.read_text())["address"]
        for cpu in cpus:
            self._start(["taskset", "-c", str(cpu), DASK, "worker", self.address, "--nworkers",
                         "1", "--nthreads", "1", "--resources", "inferclock=1",
                         "--no-dashboard", "--name", f"cpu{cpu}"], env)  # fmt: skip
        from distributed import Client

        with Client(self.address, timeout=30) as c:
            c.wait_for_workers(len(cpus), timeout=60)

    def _start(self, argv: list[str], env: dict[str, str]) -> None:
        quiet = subprocess.DEVNULL
        self.procs.append(
            subprocess.Popen(argv, stdout=quiet, stderr=quiet, env=env, start_new_session=True)
        )

    def close(self) -> None:
        for p in reversed(self.procs):
            os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            p.wait()


def timed_sweep(models: list[str], out: Path, iterations: int, **kw: Any) -> tuple[float, Any]:
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    t = ic.sweep(models, out=out, processes=1, iterations=iterations, warmup=10, quiet=True,
                 shuffle=False, cache_dir="", **kw)  # fmt: skip
    wall = time.perf_counter() - t0
    bad = [r["error"] for r in t.rows if r["error"]]
    if len(t.rows) != len(models) or bad:
        raise SystemExit(f"sweep did not measure every cell: {bad[:2]}")
    return wall, t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--quick", action="store_true", help="1 round, 100 iterations (smoke)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.iterations = 1, 100
    root = Path(tempfile.mkdtemp(prefix="ic-cluster-bench-"))
    models = build_models(root, 12)
    print(f"# cluster ({today()}); {machine()}; load before: {loadavg()}")
    one, two = Cluster(root, [0]), Cluster(root, [0, 1])
    walls: dict[str, list[float]] = {"local": [], "one": [], "two": []}
    medians: dict[str, list[float]] = {"local": [], "one": [], "two": []}
    try:
        for rnd in range(args.rounds):
            order = ["local", "one", "two"] if rnd % 2 == 0 else ["two", "one", "local"]
            for what in order:
                out = root / f"{what}.jsonl"
                if what == "local":
                    mask = os.sched_getaffinity(0)
                    os.sched_setaffinity(0, {0})  # the local workers inherit CPU 0
                    try:
                        wall, t = timed_sweep(models, out, args.iterations)
                    finally:
                        os.sched_setaffinity(0, mask)
                else:
                    c = one if what == "one" else two
                    wall, t = timed_sweep(models, out, args.iterations, cluster=c.address)
                walls[what].append(wall)
                medians[what].append(float(np.median([r["latency_median_ns"] for r in t.rows])))
                print(f"round {rnd + 1}: {what}: {wall:.2f} s", flush=True)
    finally:
        one.close()
        two.close()
        shutil.rmtree(root, ignore_errors=True)
    med = {k: float(np.median(v)) for k, v in walls.items()}
    names = {"local": "local sweep, CPU 0", "one": "cluster, 1 worker (CPU 0)",
             "two": "cluster, 2 workers (CPUs 0, 1)"}  # fmt: skip
    rows = [
        [names[k], f"{med[k]:.2f}", " / ".join(f"{w:.2f}" for w in walls[k]),
         f"{float(np.median(medians[k])) / 1e6:.3f}"]
        for k in ("local", "one", "two")
    ]  # fmt: skip
    print()
    print(table(["12 cells", "wall s (median)", "each round", "cell median latency ms"], rows))
    print()
    print(f"speed-up of 2 workers over 1: {med['one'] / med['two']:.2f}x")
    print(f"cluster overhead per cell (1 worker - local) / 12: "
          f"{(med['one'] - med['local']) / 12 * 1e3:.0f} ms")  # fmt: skip
    print(f"load after: {loadavg()}")


if __name__ == "__main__":
    main()
