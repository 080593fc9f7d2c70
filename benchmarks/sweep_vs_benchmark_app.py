"""A sweep with ic.sweep against benchmark_app run once per cell with its default duration.

Run: python benchmarks/sweep_vs_benchmark_app.py [--sweep-only] [--default-grid]
2 built-in models x 2 precisions x 3 batch sizes, latency mode (``--default-grid``: the four
built-in models on the sweep's default axes, f32, batch 1, latency) (PERFORMANCE_HINT=LATENCY on
both sides, explicit inference precision, f32 inputs), ic.sweep with its defaults (3 fresh
processes per cell, the adaptive stop). Goals: the sweep's wall time well under 0.2x
benchmark_app's, and medians within 2% of benchmark_app's per cell.
benchmark_app's default duration on CPU is 60 s per run (DEVICE_DURATION_IN_SECS in its
source), so its side takes about 12 minutes. ``--sweep-only`` skips it and compares the
sweep's wall time with 60 s per cell, a lower bound of benchmark_app's (which also starts
and compiles): the ratio printed is then an upper bound of the real one.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _ba_tools import run_ba
from _common import loadavg, machine, table, today

import inferclock as ic

DEFAULT_GRID = "--default-grid" in sys.argv[1:]
MODELS: tuple[str, ...] = ("mobilenet_v2", "ssdlite_mobilenet_v2")
BATCHES: tuple[int, ...] = (1, 8, 32)
if DEFAULT_GRID:
    MODELS = ("mobilenet_v2", "ssdlite_mobilenet_v2", "resnet50", "inception_v3")
    BATCHES = (1,)


def precisions() -> tuple[str, ...]:
    if DEFAULT_GRID:
        return ("f32",)
    flags = set(Path("/proc/cpuinfo").read_text().split())
    return ("f32", "bf16") if {"avx512_bf16", "amx_bf16"} & flags else ("f32", "default")


def main() -> None:
    sweep_only = "--sweep-only" in sys.argv[1:]
    precs = precisions()
    print(
        f"# sweep_vs_benchmark_app ({today()})\n\nMachine: {machine()}\nLoad before: {loadavg()}\n"
        f"Grid: {', '.join(MODELS)} x {'/'.join(precs)} x batch {'/'.join(map(str, BATCHES))}\n"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for m in MODELS:  # build the IRs outside both timings
            ic.models.path(m)
        t0 = time.perf_counter()
        table_ = ic.sweep(
            list(MODELS),
            precisions=precs,
            batch_sizes=BATCHES,
            modes=("latency",),
            out=str(tmp / "sweep.jsonl"),
            target_ci=0.01,
            quiet=True,
            cache_dir=None,
        )
        sweep_s = time.perf_counter() - t0
        summary = table_.summary()
        ours = {(s.model, s.precision_requested, s.batch_size): s for s in summary}
        modal = [s.key for s in summary if s.multimodal]
        print(
            f"ic.sweep: {len(table_.rows)} runs ({len(summary)} cells, 3 processes each) in "
            f"{sweep_s:.1f} s; multimodal cells: {len(modal)} {modal}"
        )
        if sweep_only:
            floor = 60.0 * len(MODELS) * len(precs) * len(BATCHES)
            print(
                f"\nWall time: ic.sweep {sweep_s:.1f} s vs benchmark_app's default >= {floor:.0f}"
                f" s (60 s per cell, start-up not counted) -> <= {sweep_s / floor:.3f}x "
                "(goal well under 0.2x)"
            )
            print(f"Load after: {loadavg()}")
            return
        rows, ba_total, ratios = [], 0.0, []
        for m in MODELS:
            for p in precs:
                for b in BATCHES:
                    ba = run_ba(ic.models.path(m), b, "latency", None, None, tmp, precision=p)
                    ba_total += ba.wall_s
                    c = ours.get((m, p, b))
                    if c is None:
                        rows.append([m, p, b, "error", f"{ba.median_ns / 1e6:.3f}", "-", "-"])
                        continue
                    ratio = c.median_ns / ba.median_ns
                    ratios.append(ratio)
                    timed = sum(
                        float(r["duration_s"] or 0) for r in table_.ok().rows if r["key"] == c.key
                    )
                    rows.append(
                        [
                            m,
                            p,
                            b,
                            f"{c.median_ns / 1e6:.3f} (n={c.n}"
                            + (", multimodal)" if c.multimodal else ")"),
                            f"{ba.median_ns / 1e6:.3f} (n={ba.count})",
                            f"{ratio:.3f}",
                            f"{timed:.1f} / {ba.wall_s:.1f}",
                        ]
                    )
    print(
        table(
            [
                "model",
                "precision",
                "batch",
                "ic.sweep median ms",
                "benchmark_app median ms",
                "ratio",
                "timed s: ic / benchmark_app",
            ],
            rows,
        )
    )
    worst = max(abs(x - 1) for x in ratios) if ratios else float("nan")
    within = sum(abs(x - 1) <= 0.02 for x in ratios)
    print(
        f"\nWall time: ic.sweep {sweep_s:.1f} s (fresh worker per cell, compile included) vs "
        f"benchmark_app {ba_total:.1f} s -> {sweep_s / ba_total:.3f}x (goal <= 0.2x)"
    )
    print(f"Medians within 2%: {within}/{len(ratios)} cells; worst deviation {worst:.1%}")
    print(f"Load after: {loadavg()}")


if __name__ == "__main__":
    main()
