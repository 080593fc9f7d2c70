"""Cost of reading the clock, and the per-call overhead of ic.measure against timeit.

Run: python benchmarks/clock_overhead.py   (prints a markdown table; pairs interleaved)
Goals (2-core VM): the core's read <= 20 ns; measure <= 1.5x timeit's per-call cost while
recording every call.
"""

from __future__ import annotations

import statistics
import sys
import time
import timeit

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import machine, table, today

import inferclock as ic
from inferclock import _core

ROUNDS = 7
N_CORE = 1_000_000
N_PY = 200_000
N_CALLS = 1_000_000


def empty() -> None:
    pass


def per_read_python(fn: object, n: int) -> float:
    return timeit.Timer(fn).timeit(n) / n * 1e9  # type: ignore[arg-type]


def main() -> None:
    clk = ic.clock()
    ns_per_tick = 1e9 / clk.frequency_hz
    res: dict[str, list[float]] = {
        k: []
        for k in (
            "core_start",
            "core_stop",
            "py_now",
            "perf_counter_ns",
            "monotonic_ns",
            "measure_call",
            "timeit_call",
            "measure_median",
        )
    }
    for _ in range(ROUNDS):  # interleaved so drift hits every contender alike
        res["core_start"].append(_core.read_cost_loop(N_CORE, "start") * ns_per_tick / N_CORE)
        res["core_stop"].append(_core.read_cost_loop(N_CORE, "stop") * ns_per_tick / N_CORE)
        res["py_now"].append(per_read_python(clk.now, N_PY))
        res["perf_counter_ns"].append(per_read_python(time.perf_counter_ns, N_PY))
        res["monotonic_ns"].append(per_read_python(time.monotonic_ns, N_PY))
        m = ic.measure(empty, warmup=0, iterations=N_CALLS)
        # elapsed_s: wall time of the timed loop (chunks included), not of the statistics after.
        res["measure_call"].append(m.elapsed_s / N_CALLS * 1e9)
        res["measure_median"].append(m.stats.median_ns)
        res["timeit_call"].append(per_read_python(empty, N_CALLS))
    med = {k: statistics.median(v) for k, v in res.items()}
    ratio = med["measure_call"] / med["timeit_call"]
    print(f"# clock_overhead ({today()})\n\nMachine: {machine()}\n")
    print(f"Clock: {clk!r}\n")
    rows = [
        ["core read, start (lfence;rdtsc), C++ loop of 1e6", f"{med['core_start']:.1f}", "<= 20"],
        ["core read, stop (rdtscp), C++ loop of 1e6", f"{med['core_stop']:.1f}", "<= 20"],
        ["clk.now() from Python", f"{med['py_now']:.1f}", ""],
        ["time.perf_counter_ns()", f"{med['perf_counter_ns']:.1f}", ""],
        ["time.monotonic_ns()", f"{med['monotonic_ns']:.1f}", ""],
        ["ic.measure(empty): wall per call, every call recorded", f"{med['measure_call']:.1f}", ""],
        ["timeit(empty): wall per call, nothing recorded", f"{med['timeit_call']:.1f}", ""],
        ["ic.measure(empty): median recorded span", f"{med['measure_median']:.1f}", ""],
    ]
    print(table(["what", "ns (median of 7 rounds)", "goal"], rows))
    print(f"\nmeasure / timeit per-call ratio: {ratio:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
