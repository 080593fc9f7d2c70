"""Latency (batch 1) and throughput (batch 32) of the built-in models per precision.

Run: python benchmarks/precisions.py [--models ...] [--b32-models resnet50 mobilenet_v2]
       [--max-time 6] [--b32-time 15] [--target-ci 0.02]
Precisions: f32, bf16 (only where the CPU has avx512_bf16 or amx_bf16) and int8 (NNCF
post-training quantization on seeded random inputs, quantized once at batch 1 and cached; the
quantized IR keeps its dynamic batch, so batch 32 reuses it). Each figure comes with the
precision the runtime model executed (``RunResult.precision_executed``, MAC-weighted) and its
mix. With int8 the ops NNCF left in floating point run in the device's default precision.

Expected (issue 5, 2-core Zen 4 with avx512_bf16): on ResNet-50, bf16 about 2x faster than f32
and int8 about 1.7x faster than bf16.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import openvino as ov
from _common import loadavg, machine, table, today

import inferclock as ic
from inferclock._timing import int8 as _int8


def cpu_flags() -> set[str]:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def executed(r: ic.RunResult) -> str:
    """'bf16' or e.g. 'i8 (91% MACs), f32 (9%)' when the compute ops ran in more than one."""
    mix = (r.precision_mix or {}).get("mix", {})
    if len(mix) <= 1:
        return str(r.precision_executed)
    parts = []
    for p, e in sorted(mix.items(), key=lambda kv: -(kv[1].get("mac_share") or 0)):
        share = e.get("mac_share")
        parts.append(f"{p} {share:.0%}" if share is not None else f"{p} ({e['ops']} ops)")
    return f"{r.precision_executed} [" + ", ".join(parts) + " of MACs]"


def per_second(r: ic.RunResult) -> float:
    return 1e9 / r.latency.median_ns


def samples_per_second(r: ic.RunResult) -> float:
    return r.throughput


def ci_pct(r: ic.RunResult) -> float:
    lo, hi = r.latency.ci_ns
    return (hi - lo) / 2 / r.latency.median_ns * 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=ic.models.list(), help="batch-1 latency models")
    ap.add_argument(
        "--b32-models",
        nargs="+",
        default=["resnet50", "mobilenet_v2"],
        help="batch-32 throughput models",
    )
    ap.add_argument("--target-ci", type=float, default=0.02)
    ap.add_argument("--max-time", type=float, default=6.0, help="cap per batch-1 latency run (s)")
    ap.add_argument("--b32-time", type=float, default=15.0, help="timed seconds per batch-32 run")
    args = ap.parse_args()

    t_start = time.perf_counter()
    load0 = loadavg()
    flags = cpu_flags()
    precisions = ["f32"]
    if flags & {"avx512_bf16", "amx_bf16"}:
        precisions.append("bf16")
    precisions.append("int8")
    shown = sorted(f for f in flags if "bf16" in f or "amx" in f or "fp16" in f)
    print(
        f"# precisions ({today()})\n\nMachine: {machine()}\n"
        f"OpenVINO {ov.get_version()}, inferclock {ic.__version__}; CPU flags: "
        f"{', '.join(shown) or 'none'}"
        f" -> precisions {', '.join(precisions)}\n",
        flush=True,
    )

    names = list(dict.fromkeys(args.models + args.b32_models))
    paths: dict[tuple[str, str], str] = {}
    for name in names:
        src = ic.models.path(name)
        for p in precisions:
            paths[(name, p)] = str(src)
        if "int8" in precisions:
            t0 = time.perf_counter()
            before = _int8.quantization_count()
            paths[(name, "int8")] = str(_int8.quantize(src, batch_size=1))
            how = "quantized" if _int8.quantization_count() > before else "cache hit"
            print(f"  int8 {name}: {how} in {time.perf_counter() - t0:.1f} s", flush=True)

    lat: dict[tuple[str, str], ic.RunResult] = {}
    rows = []
    for name in args.models:
        for p in precisions:
            r = ic.run(
                paths[(name, p)], precision=p, target_ci=args.target_ci, max_time=args.max_time
            )
            lat[(name, p)] = r
            base = lat.get((name, "f32"))
            speed = base.latency.median_ns / r.latency.median_ns if base else math.nan
            gmacs = (r.macs or 0) / r.latency.median_ns
            rows.append(
                [
                    name,
                    p,
                    f"{r.latency.median_ms:.2f}",
                    f"+/-{ci_pct(r):.1f}%",
                    str(r.n),
                    r.stop_reason,
                    f"{gmacs:.1f}" if r.macs else "",
                    f"{speed:.2f}x",
                    executed(r),
                ]
            )
            print(f"  b1 {name} {p}: {r.latency.median_ms:.2f} ms, {executed(r)}", flush=True)
    lat_table = table(
        [
            "model",
            "precision",
            "median ms",
            "CI95",
            "n",
            "stop",
            "GMAC/s",
            "vs f32",
            "executed (compute ops)",
        ],
        rows,
    )

    tput: dict[tuple[str, str], ic.RunResult] = {}
    rows = []
    for name in args.b32_models:
        for p in precisions:
            r = ic.run(
                paths[(name, p)],
                precision=p,
                batch_size=32,
                mode="throughput",
                duration=args.b32_time,
            )
            tput[(name, p)] = r
            base = tput.get((name, "f32"))
            speed = r.throughput / base.throughput if base else math.nan
            rows.append(
                [
                    name,
                    p,
                    f"{r.throughput:.1f}",
                    str(r.n),
                    f"{r.streams}/{r.requests}",
                    f"{r.latency.median_ms:.0f}",
                    f"{speed:.2f}x",
                    executed(r),
                ]
            )
            print(f"  b32 {name} {p}: {r.throughput:.1f} samples/s, {executed(r)}", flush=True)
    tput_table = table(
        [
            "model",
            "precision",
            "samples/s",
            "inferences",
            "streams/requests",
            "median ms per batch",
            "vs f32",
            "executed (compute ops)",
        ],
        rows,
    )

    print(f"\nBatch 1, latency mode (target_ci={args.target_ci}, max_time={args.max_time:g} s):\n")
    print(lat_table)
    print(f"\nBatch 32, throughput mode ({args.b32_time:g} s timed each):\n")
    print(tput_table)

    checks = []
    runs: tuple[
        tuple[str, dict[tuple[str, str], ic.RunResult], Callable[[ic.RunResult], float]], ...
    ]
    runs = (("b1 latency", lat, per_second), ("b32 throughput", tput, samples_per_second))
    for label, d, get in runs:
        if ("resnet50", "bf16") in d:
            got = get(d[("resnet50", "bf16")]) / get(d[("resnet50", "f32")])
            checks.append([f"ResNet-50 {label}: bf16 / f32 speed", "about 2x", f"{got:.2f}x"])
            if ("resnet50", "int8") in d:
                got = get(d[("resnet50", "int8")]) / get(d[("resnet50", "bf16")])
                checks.append(
                    [f"ResNet-50 {label}: int8 / bf16 speed", "about 1.7x", f"{got:.2f}x"]
                )
        elif ("resnet50", "int8") in d:
            got = get(d[("resnet50", "int8")]) / get(d[("resnet50", "f32")])
            checks.append([f"ResNet-50 {label}: int8 / f32 speed", "(no bf16 here)", f"{got:.2f}x"])
    if checks:
        print()
        print(table(["what", "expected", "measured"], checks))
    print(
        f"\nLoad average before: {load0}; after: {loadavg()}; "
        f"script runtime {time.perf_counter() - t_start:.0f} s"
    )


if __name__ == "__main__":
    main()
