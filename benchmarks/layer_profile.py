"""Per-layer profiles of ResNet-50 (built-in, random weights) in f32, bf16 and int8 with
``ic.profile``, and benchmark_app's ``-pc`` counters for the same model and settings.

Run: python benchmarks/layer_profile.py [--iterations 100] [--rounds 10] [--pairs 5]
     [--model resnet50]

For each precision: the top 10 layers and the time by layer type (inferclock: medians over
rounds, each round on a fresh compile, with 95% intervals); then benchmark_app on the very IR
ic.profile ran (the int8 one NNCF made), batch 1, ``-hint latency``, the same precision hint,
``-ip f32``, ``-niter`` = the same iteration count, ``-pc -report_type detailed_counters``:
its per-layer CSV summed by layer type. One input set (``input_sets=1``), as benchmark_app
feeds its one request one input: with inferclock's default 4 sets rotated, the first layer
reads an input that is not in cache, and takes longer (MobileNetV2 int8's input Subgraph:
about 75 us against 50 us). The two tools alternate ``--pairs`` times; each inferclock run is
compared with the benchmark_app run just before it (the machine's drift cancels), and the
median of those paired ratios is reported with their range, and benchmark_app's own spread
between its runs as the noise floor. Agreement is judged on the types that hold at least 2%
of the layers' time (the goal: within 5%); smaller types are printed too. The end-to-end
median of ``ic.run`` (counters off) is printed beside the profiled one.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# This file is named like the standard library's ``profile``: keep its folder behind the
# standard library on sys.path (siblings such as _common still import).
sys.path.append(sys.path.pop(0))
from _common import loadavg, machine, table, today

import inferclock as ic
from inferclock._profiling.profile import Median, Profile

PRECISIONS = ("f32", "bf16", "int8")
MAJOR = 0.02  # types holding at least this share of the layers' time are judged


def ba_by_type(model_path: str, precision: str, iterations: int, folder: Path) -> dict[str, float]:
    """benchmark_app's per-layer counters (ms), summed by layer type over executed layers."""
    folder.mkdir(parents=True, exist_ok=True)
    cmd = ["benchmark_app", "-m", model_path, "-d", "CPU", "-hint", "latency", "-ip", "f32"]
    cmd += ["-shape", "[1,3,224,224]", "-niter", str(iterations), "-pc"]
    cmd += ["-report_type", "detailed_counters", "-report_folder", str(folder)]
    if precision != "int8":  # int8: the device's default for the rest, as ic.profile does
        cmd += ["-infer_precision", precision]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"benchmark_app failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    totals: dict[str, float] = {}
    blocks = 0
    with open(folder / "benchmark_detailed_counters_report.csv", newline="") as f:
        for row in csv.DictReader(f, delimiter=";"):
            name = row.get("layerName") or ""
            if name == "layerName":  # the header of another request's block
                continue
            if name == "Total":
                blocks += 1
                continue
            if row.get("execStatus") == "Status.EXECUTED":
                t = row["layerType"]
                totals[t] = totals.get(t, 0.0) + float(row["realTime (ms)"])
    return {t: v / max(1, blocks) for t, v in totals.items()}


def top_table(p: Profile) -> str:
    whole = p.layers_total.ns
    rows = [
        [x.name, x.type, x.kernel, x.precision, _ci(x.real), f"{x.real.ns / whole:.1%}"]
        for x in p.top(10)
    ]
    return table(["layer", "type", "kernel", "prec", "ms [95% CI]", "share"], rows)


def _ci(m: Median) -> str:
    return f"{m.ns / 1e6:.3f} [{m.low_ns / 1e6:.3f}, {m.high_ns / 1e6:.3f}]"


def type_table(
    profiles: list[Profile], bas: list[dict[str, float]]
) -> tuple[str, list[float], float]:
    """Type totals over the alternations: inferclock's and benchmark_app's medians, and the
    median of the paired ratios (each inferclock run against the benchmark_app run just
    before it: the machine's drift cancels). Returns the table, the paired differences of
    the judged types, and benchmark_app's own spread on them ((max - min) / median)."""
    ours = [{t.key: t for t in p.by_type()} for p in profiles]
    rows, diffs, spread = [], [], 0.0
    for key in dict.fromkeys(k for d in [*ours, *bas] for k in d):
        ic_ms = [d[key].time.ns / 1e6 if key in d else 0.0 for d in ours]
        ba_ms = [b.get(key, 0.0) for b in bas]
        pairs = [i / b - 1 for i, b in zip(ic_ms, ba_ms, strict=True) if b > 0]
        paired = statistics.median(pairs) if pairs else float("nan")
        share = statistics.median(d[key].share if key in d else 0.0 for d in ours)
        major = share >= MAJOR
        if major:
            diffs.append(paired)
            spread = max(spread, (max(ba_ms) - min(ba_ms)) / statistics.median(ba_ms))
        rows.append([
            key, f"{share:.1%}", f"{statistics.median(ic_ms):.3f}", _span(ic_ms),
            f"{statistics.median(ba_ms):.3f}", _span(ba_ms),
            f"{paired:+.1%}" + (f" ({min(pairs):+.0%}..{max(pairs):+.0%})" if pairs else ""),
            "yes" if major else "",
        ])  # fmt: skip
    head = ["type", "share", "ic ms", "ic min..max", "ba ms", "ba min..max", "ic vs ba (paired)"]
    return table([*head, "judged"], rows), diffs, spread


def _span(values: list[float]) -> str:
    return f"{min(values):.3f}..{max(values):.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=5, help="benchmark_app / ic.profile alternations")
    args = ap.parse_args()
    print(f"# benchmarks/profile.py ({today()})\n")
    print(f"Machine: {machine()}; OpenVINO {ic._core.openvino_version()}")
    print(f"Load average before: {loadavg()}")
    print(
        f"Settings: {args.model}, batch 1, latency hint, {args.iterations} iterations per run; "
        f"{args.pairs} alternations of benchmark_app (-niter {args.iterations} -pc) and "
        f"ic.profile ({args.rounds} rounds, warm-up auto, 1 input set)\n"
    )
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        for prec in PRECISIONS:
            ba_path = str(ic.profile(args.model, precision=prec, iterations=1, warmup=0).model_path)
            profiles, bas = [], []
            for i in range(args.pairs):
                bas.append(ba_by_type(ba_path, prec, args.iterations, Path(tmp) / f"{prec}{i}"))
                profiles.append(
                    ic.profile(
                        args.model,
                        precision=prec,
                        iterations=args.iterations,
                        rounds=args.rounds,
                        input_sets=1,
                    )
                )
            run = ic.run(args.model, precision=prec, iterations=args.iterations, input_sets=1)
            # The tables of one profile: the one whose layers' total is the median.
            p = sorted(profiles, key=lambda q: q.layers_total.ns)[len(profiles) // 2]
            print(f"## {prec} (executed {p.precision_executed})\n")
            print(
                f"The median profile of {args.pairs}: end to end, profiled, median "
                f"{_ci(p.end_to_end)} ms; layers' sum {_ci(p.layers_total)} ms beside an "
                f"end-to-end mean of {_ci(p.end_to_end_rounds)} ms: {_ci(p.unaccounted)} ms in "
                f"no layer. ic.run right after (counters off, 1 input set): median "
                f"{run.latency.median_ms:.3f} ms.\n"
            )
            print("Top 10 layers:\n")
            print(top_table(p) + "\n")
            text, diffs, spread = type_table(profiles, bas)
            print(f"By layer type over the {args.pairs} alternations (ms per inference):\n")
            print(text + "\n")
            worst = max((abs(d) for d in diffs), default=float("nan"))
            verdicts.append([prec, len(diffs), f"{worst:.1%}", f"{spread:.1%}",
                             "yes" if worst <= 0.05 else "no"])  # fmt: skip
    print("## Agreement of the type totals (types with >= 2% of the layers' time)\n")
    head = ["precision", "types judged", "largest paired |ic / ba - 1|", "ba's own spread"]
    print(table([*head, "within 5%"], verdicts))
    print(f"\nLoad average after: {loadavg()}")


if __name__ == "__main__":
    main()
