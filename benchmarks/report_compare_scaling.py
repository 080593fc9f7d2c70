"""How ``inferclock report`` and ``inferclock compare`` scale with cells and rows.

Times a tiny real sweep once (a 16x8 MatMul built with OpenVINO, two processes) and copies its
row into synthetic-but-realistic results files: every cell a real row with its key fields
(model, batch size, process) varied and its latency / throughput figures scaled by a
log-normal factor per row, so the files read as a real sweep's of that size would. Then runs
the real CLI in a subprocess for each size and records wall time and peak RSS (``os.wait4``'s
``ru_maxrss`` of that child). Prints a markdown table for ``benchmarks/RESULTS.md``.

    python benchmarks/report_compare_scaling.py  # report 10..1000 cells, compare 2 x 100/400 MB
    python benchmarks/report_compare_scaling.py --report-cells 100 --compare-mb 50
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

_LAT = (
    "latency_min_ns", "latency_mean_ns", "latency_median_ns", "latency_p90_ns", "latency_p95_ns",
    "latency_p99_ns", "latency_max_ns", "latency_stdev_ns", "latency_mad_ns",
    "latency_ci95_low_ns", "latency_ci95_high_ns",
)  # fmt: skip
_TP = ("throughput_fps", "throughput_ci_low_fps", "throughput_ci_high_fps")
_BATCHES = (1, 2, 4, 8)


def real_row(work: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, row) of a tiny real sweep: the row every synthetic one is copied from."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 16], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32))
    model = work / "matmul.xml"
    ov.save_model(ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "matmul"), str(model))
    out = work / "real.jsonl"
    cmd = [sys.executable, "-m", "inferclock", "sweep", str(model), "--processes", "2",
           "--max-time", "0.5", "--quiet", "-o", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    lines = out.read_text().splitlines()
    rows = [json.loads(line) for line in lines[1:]]
    return json.loads(lines[0]), next(r for r in rows if r.get("error") is None)


def synthetic(
    path: Path, header: dict[str, Any], row: dict[str, Any], cells: int, per_cell: int, seed: int
) -> int:
    """Write ``cells`` cells x ``per_cell`` rows copied from ``row``; returns the rows written.
    Cell c is model ``m{c // 4}`` at batch size 1, 2, 4 or 8 (a models x batch sizes grid)."""
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header) + "\n")
        for c in range(cells):
            model, batch = f"m{c // len(_BATCHES):05d}", _BATCHES[c % len(_BATCHES)]
            key = f"{model}|CPU|f32|{batch}|latency|-"
            if c % len(_BATCHES) == 0:  # a new model: its own speed and start-up
                speed, startup = float(rng.lognormal(0.0, 1.0)), float(rng.lognormal(0.0, 0.5))
            base = speed * batch**0.8
            for p in range(per_cell):
                f = base * float(rng.lognormal(0.0, 0.03))
                r = dict(row, key=key, model=model, batch_size=batch, process=p)
                for k in ("read_ms", "reshape_ms", "compile_ms", "first_infer_ms"):
                    if isinstance(r.get(k), (int, float)):
                        r[k] = r[k] * startup * float(rng.lognormal(0.0, 0.1))
                for k in _LAT:
                    if isinstance(r.get(k), (int, float)):
                        r[k] = r[k] * f
                for k in _TP:
                    if isinstance(r.get(k), (int, float)):
                        r[k] = r[k] * batch / f
                pct = r.get("latency_percentiles")
                if isinstance(pct, dict):
                    r["latency_percentiles"] = {
                        name: {
                            k: (v * f if k.endswith("_ns") and isinstance(v, float) else v)
                            for k, v in e.items()
                        }
                        for name, e in pct.items()
                    }
                fh.write(json.dumps(r) + "\n")
    return cells * per_cell


def measure(cmd: list[str]) -> tuple[float, float, float, int]:
    """(wall seconds, CPU seconds, peak RSS MiB, exit status) of ``cmd`` run as a child
    process. CPU time (user + system) is the figure a loaded machine stretches least."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close() if proc.stderr else None
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        print(f"  {' '.join(cmd[2:4])} exited {code}: {err.strip()[-300:]}", file=sys.stderr)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report-cells", type=int, nargs="+", default=[10, 100, 1000])
    ap.add_argument("--rows-per-cell", type=int, default=2, help="report: rows per cell")
    ap.add_argument("--compare-mb", type=int, nargs="+", default=[100, 400])
    ap.add_argument("--compare-rows-per-cell", type=int, default=10)
    args = ap.parse_args()
    py = [sys.executable, "-m", "inferclock"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        header, row = real_row(work)
        row_bytes = len(json.dumps(row)) + 1
        results = []
        for cells in args.report_cells:
            f = work / f"report{cells}.jsonl"
            n = synthetic(f, header, row, cells, args.rows_per_cell, seed=cells)
            cmd = [*py, "report", str(f), "-o", str(work / f"rep{cells}")]
            results.append(("report", n, cells, f.stat().st_size / 2**20, *measure(cmd)))
        for mb in args.compare_mb:
            rows = mb * 2**20 // row_bytes
            cells = max(1, rows // args.compare_rows_per_cell)
            fa, fb = work / f"a{mb}.jsonl", work / f"b{mb}.jsonl"
            synthetic(fa, header, row, cells, args.compare_rows_per_cell, seed=1)
            n = synthetic(fb, header, row, cells, args.compare_rows_per_cell, seed=2)
            size = (fa.stat().st_size + fb.stat().st_size) / 2**20
            results.append(
                ("compare", 2 * n, cells, size, *measure([*py, "compare", str(fa), str(fb)]))
            )
            fa.unlink()
            fb.unlink()
    print(f"\n{platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
    print("| command | rows | cells | input MiB | seconds | CPU s | peak RSS MiB | exit |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for cmd, n, cells, size, wall, cpu, rss, code in results:
        print(
            f"| {cmd} | {n} | {cells} | {size:.0f} | {wall:.1f} | {cpu:.1f} | {rss:.0f} | {code} |"
        )


if __name__ == "__main__":
    main()
