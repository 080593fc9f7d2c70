"""Does OpenVINO follow a pin? Pin fresh processes to the first k CPUs and read back the
INFERENCE_NUM_THREADS the compiled model chose (it should equal k), with the latency.

Run: python benchmarks/pinning_threads.py [k ...]   (default: 1, 2, 4, 8, ... up to the CPUs here)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _common import machine, table, today

import inferclock as ic


def main() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    sizes = [int(a) for a in sys.argv[1:]] or [
        k for k in (1, 2, 4, 8, 16, 32, 64) if k <= len(allowed)
    ]
    rows = []
    for k in sizes:
        cpus = allowed[:k]
        r = ic.run("mobilenet_v2", cpus=cpus, target_ci=0.02, max_time=5.0)
        threads = r.config.get("INFERENCE_NUM_THREADS")
        rows.append(
            [
                ic.format_cpulist(cpus),
                k,
                ic.format_cpulist(r.cpus or []),
                threads,
                "yes" if threads == str(k) else "NO",
                f"{r.latency.median_ms:.3f}",
            ]
        )
    print(f"# pinning_threads ({today()})\n\nMachine: {machine()}\n")
    headers = [
        "pinned to",
        "mask size",
        "mask in worker",
        "INFERENCE_NUM_THREADS",
        "equal",
        "mobilenet_v2 median ms",
    ]
    print(table(headers, rows))


if __name__ == "__main__":
    main()
