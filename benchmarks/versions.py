"""Two installs of inferclock on the same work, in interleaved fresh processes: is a change
no worse than before?

Run: python benchmarks/versions.py --a /path/to/old/venv/bin/python [--b python] [--pairs 8]
Each case runs ``ic.run`` with the same options under interpreter A and B, alternating which
goes first; the table gives each side's median over the pairs and B/A. Only options both
versions take are used (model path, batch, mode, threads, warm-up, duration).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, table, today

CODE = """
import json, sys, inferclock as ic
kw = json.loads(sys.argv[1])
model = kw.pop("model")
r = ic.run(model, **kw)
print(json.dumps({"median_ns": r.latency.median_ns, "throughput": r.throughput, "n": r.n}))
"""


def matmul(path: Path) -> Path:
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    ov.save_model(ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "mm"), str(path))
    return path


def run(python: str, case: dict[str, object]) -> dict[str, float]:
    # From a neutral directory: `-c` puts the working directory first on sys.path, and a
    # source tree there would shadow the install under test.
    out = subprocess.run(
        [python, "-c", CODE, json.dumps(case)],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="python of install A (the baseline)")
    ap.add_argument("--b", default=sys.executable, help="python of install B (default: this)")
    ap.add_argument("--pairs", type=int, default=8)
    args = ap.parse_args()
    import inferclock as ic

    mm = matmul(Path(tempfile.mkdtemp()) / "mm.xml")
    resnet = str(ic.models.path("resnet50"))
    cases = {
        "MatMul 8us b1 latency, 1 thread": dict(model=str(mm), threads=1, warmup=0.5, duration=2.0),
        "ResNet-50 b1 latency": dict(model=resnet, warmup=1.0, duration=5.0),
        "ResNet-50 b1 throughput": dict(model=resnet, mode="throughput", warmup=1.0, duration=5.0),
    }
    print(f"# versions ({today()})\n\n{machine()}\nA: {args.a}\nB: {args.b}\n")
    rows = []
    for label, case in cases.items():
        got: dict[str, list[dict[str, float]]] = {"a": [], "b": []}
        for i in range(args.pairs):
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for side in order:
                got[side].append(run(args.a if side == "a" else args.b, case))
        key = "throughput" if case.get("mode") == "throughput" else "median_ns"
        a = statistics.median(r[key] for r in got["a"])
        b = statistics.median(r[key] for r in got["b"])
        for side in ("a", "b"):
            print(f"  {label} {side}: " + ", ".join(f"{r[key]:,.1f}" for r in got[side]))
        unit = "samples/s" if key == "throughput" else "ns (median latency)"
        rows.append([label, unit, f"{a:,.1f}", f"{b:,.1f}", f"{b / a:.3f}"])
    print()
    print(table(["case", "figure", "A (median of pairs)", "B", "B / A"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
