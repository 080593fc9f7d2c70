"""`inferclock timeit` beside `python -m timeit` and `pyperf timeit` on one statement (and
timeit's CPU time, a control): the figure each prints, the median per execution each gives,
and the time to result (wall seconds of the whole command, start-up included), in
interleaved rounds (the order rotates each round).

Run: python benchmarks/timeit_compare.py [--rounds 3]   (needs `pip install pyperf`; ~2 min)
Prints a markdown table per round and a summary; note the load average beside the figures.

What each tool's figures are:
- python -m timeit: "best of 5" (the fastest of 5 repeats, each the mean of N loops); with -v
  it also prints the 5 raw repeat times, whose median per loop is given too.
- pyperf timeit: 20 processes x 3 values (each the mean of its loops), "Mean +- std dev"; the
  median of its 60 values is read from its JSON.
- inferclock timeit: 3 processes, the median per execution with its 95% interval (within and
  between processes), p99 beside it.
- python -m timeit -p: the control, timeit in process (CPU) time: what the statement costs
  when it has the CPU, which waits for the CPU on a busy machine do not enter.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

SETUP = "x = list(range(1000))"
STMT = "sorted(x)"
UNITS = {"nsec": 1.0, "usec": 1e3, "msec": 1e6, "sec": 1e9, "ns": 1.0, "us": 1e3, "ms": 1e6}


def _run(argv: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p, wall


def python_timeit(cpu: bool = False) -> dict[str, object]:
    flags = ["-p"] if cpu else []
    p, wall = _run([sys.executable, "-m", "timeit", "-v", *flags, "-s", SETUP, STMT])
    out = p.stdout
    best = re.search(r"(\d+) loops?, best of (\d+): ([\d.]+) (\w+) per loop", out)
    raw = re.search(r"raw times: (.*)", out)
    assert best and raw, out
    loops = int(best.group(1))
    raws = [float(v.split()[0]) * UNITS[v.split()[1]] for v in raw.group(1).split(", ")]
    median = statistics.median(raws) / loops
    return {
        "tool": "python -m timeit -p (CPU time)" if cpu else "python -m timeit",
        "printed": f"best of {best.group(2)}: {best.group(3)} {best.group(4)} ({loops} loops)",
        "median_ns": median,
        "wall_s": wall,
    }


def python_timeit_cpu() -> dict[str, object]:
    """The control: timeit's figure in process (CPU) time, which a busy machine's waits for the
    CPU do not enter."""
    return python_timeit(cpu=True)


def pyperf_timeit(tmp: Path) -> dict[str, object]:
    import pyperf

    out = tmp / "pyperf.json"
    out.unlink(missing_ok=True)
    p, wall = _run([sys.executable, "-m", "pyperf", "timeit", "--quiet", "-s", SETUP, STMT,
                    "-o", str(out)])  # fmt: skip
    bench = pyperf.Benchmark.load(str(out))
    return {
        "tool": "pyperf timeit",
        "printed": p.stdout.strip().splitlines()[-1],
        "median_ns": bench.median() * 1e9,
        "wall_s": wall,
    }


def inferclock_timeit() -> dict[str, object]:
    p, wall = _run([sys.executable, "-m", "inferclock", "timeit", "-s", SETUP, STMT, "--json"])
    r = json.loads(p.stdout)
    us = 1e3
    p99 = r["percentiles"]["p99"]["value_ns"]
    return {
        "tool": "inferclock timeit",
        "printed": f"median {r['median_ns'] / us:.3f} us [{r['ci_low_ns'] / us:.3f}, "
        f"{r['ci_high_ns'] / us:.3f}], p99 {p99 / us:.2f} us ({r['processes']} processes, "
        f"number {r['number']}, {r['n']} samples)",
        "median_ns": r["median_ns"],
        "wall_s": wall,
        "unstable": "; ".join(r["instability"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    tools = [python_timeit, pyperf_timeit, inferclock_timeit, python_timeit_cpu]
    results: dict[str, list[dict[str, object]]] = {}
    print(f"# timeit_compare ({today()})\n\nMachine: {machine()}\n")
    print(f"Statement: `{STMT}` with setup `{SETUP}`\n")
    with tempfile.TemporaryDirectory() as d:
        for i in range(args.rounds):
            order = tools[i % 4 :] + tools[: i % 4]  # rotate: each tool goes first in turn
            before = loadavg()
            rows = []
            for tool in order:
                r = tool(Path(d)) if tool is pyperf_timeit else tool()  # type: ignore[call-arg]
                results.setdefault(str(r["tool"]), []).append(r)
                rows.append([r["tool"], r["printed"], f"{float(r['median_ns']) / 1e3:.3f}",
                             f"{float(r['wall_s']):.1f}"])  # fmt: skip
            print(f"## round {i + 1} (load average before {before}, after {loadavg()})\n")
            print(table(["tool", "prints", "median per execution (us)", "wall s"], rows))
            unstable = [r.get("unstable") for r in results["inferclock timeit"][-1:]]
            if unstable and unstable[0]:
                print(f"\ninferclock's instability warning: {unstable[0]}")
            print()
    print("## summary (median over the rounds)\n")
    summary = [
        [name, f"{statistics.median(float(r['median_ns']) for r in rs) / 1e3:.3f}",
         f"{statistics.median(float(r['wall_s']) for r in rs):.1f}",
         ", ".join(f"{float(r['wall_s']):.1f}" for r in rs)]
        for name, rs in results.items()
    ]  # fmt: skip
    print(table(["tool", "median per execution (us)", "wall s (median)", "wall s each"], summary))


if __name__ == "__main__":
    main()
