"""The dashboard's screenshots in docs/, from a real history: python docs/screenshots.py

A scratch git repository gets 10 commits; at each one a real sweep (two small OpenVINO
models built here, batch 1 and 4, latency and throughput modes, one fresh process per cell)
adds its rows to a SQLite history from inside the checkout, so every run records its
commit. From commit 6 on, the "matmul" model does 50% more work (its chain of MatMuls grows
from 4 to 6 under the same name): a real slowdown, measured. The history is published and
headless Chromium (the system ``chromium``, through Playwright) photographs the index, the
slowed cell's page and the model page into docs/. Takes a few minutes (about 80 cell runs).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

import inferclock as ic
from inferclock._render.browser import screenshot
from inferclock._render.site import cell_file, model_file

DOCS = Path(__file__).resolve().parent
COMMITS, SLOWER_FROM = 10, 6


def _matmul(path: Path, depth: int) -> Path:
    """x[N,256] through ``depth`` MatMul+ReLU layers: the "code" the commits change."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([-1, 256], np.float32, name="x")
    h = x
    for _ in range(depth):
        w = ops.constant(rng.standard_normal((256, 256)).astype(np.float32) * 0.05)
        h = ops.relu(ops.matmul(h, w, False, False))
    ov.save_model(ov.Model([h], [x], "matmul"), str(path), compress_to_fp16=False)
    return path


def _convnet(path: Path) -> Path:
    """A small conv net [N,3,32,32] -> conv/relu x2 -> pool -> fc (as tests/conftest.py)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(1)
    x = ops.parameter([-1, 3, 32, 32], np.float32, name="image")
    w1 = ops.constant(rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 0.1)
    c1 = ops.relu(ops.convolution(x, w1, [1, 1], [1, 1], [1, 1], [1, 1]))
    w2 = ops.constant(rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1)
    c2 = ops.relu(ops.convolution(c1, w2, [2, 2], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(c2, ops.constant(np.array([2, 3], dtype=np.int64)), False)
    out = ops.matmul(pooled, ops.constant(rng.standard_normal((32, 10)).astype(np.float32)),
                     False, False)  # fmt: skip
    ov.save_model(ov.Model([out], [x], "convnet"), str(path), compress_to_fp16=False)
    return path


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()  # fmt: skip


def build_history(work: Path, db: Path) -> Path:
    """The real history (see the module docstring) in ``db``; returns it."""
    repo = work / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "bench@example.com")
    _git(repo, "config", "user.name", "bench")
    conv = _convnet(work / "convnet.xml")
    here = os.getcwd()
    os.chdir(repo)  # the history records the commit of the current directory
    try:
        for i in range(COMMITS):
            depth = 6 if i >= SLOWER_FROM else 4
            model = _matmul(repo / "matmul.xml", depth)
            (repo / "code.txt").write_text(f"change {i}: matmul depth {depth}\n")
            _git(repo, "add", "code.txt")
            _git(repo, "commit", "-q", "-m", f"commit {i}: matmul depth {depth}")
            ic.sweep([str(model), str(conv)], batch_sizes=[1, 4], modes=["latency", "throughput"],
                     out=work / f"results-{i}.jsonl", history=db, quiet=True, processes=1,
                     iterations=300, warmup=30)  # fmt: skip
            print(f"commit {i + 1}/{COMMITS} measured", flush=True)
    finally:
        os.chdir(here)
    return db


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--history", help="a history file: published as it is when it exists, "
                    "else measured into (default: a temporary one)")  # fmt: skip
    ap.add_argument("--out", default=str(DOCS), help="where the PNGs go (default docs/)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        db = Path(args.history) if args.history else work / "history.db"
        if not db.exists():
            build_history(work, db.resolve())
        index = ic.publish(db, work / "site", title="nightly")
        with ic.history(db, read_only=True) as h:
            cells = {k for k, _ in h.cells()}
            print(f"{len(cells)} cells; steps:", [(s.key, s.index, round(s.ratio, 3))
                                                  for s in h.regressions()])  # fmt: skip
        from inferclock._render.publish import cells_from_history

        with ic.history(db, read_only=True) as h:
            records = cells_from_history(h)
        slowed = next(c for c in records if c.key == "matmul|CPU|f32|1|latency|-")
        out = Path(args.out)
        screenshot(index, out / "dashboard.png", width=1200, height=1000)
        screenshot(work / "site" / cell_file(slowed), out / "dashboard-cell.png", width=1200,
                   height=1000)  # fmt: skip
        screenshot(work / "site" / model_file("matmul"), out / "dashboard-model.png", width=1200,
                   height=1000)  # fmt: skip
        print("wrote", *(out / n for n in ("dashboard.png", "dashboard-cell.png",
                                           "dashboard-model.png")))  # fmt: skip


if __name__ == "__main__":
    main()
