"""What importing inferclock costs, for two installs side by side: ``import inferclock``, and
what a worker process imports before it can time a cell.

Run: python benchmarks/import_time.py --a /path/to/old/venv/bin/python [--b python] [--pairs 15]
Each case runs in a fresh interpreter under A and B, alternating which goes first (ABBA), from
a neutral directory so no source tree shadows the installs. The table gives each side's
median wall time (interpreter start included; ``python -c pass`` is shown for scale), the
number of modules loaded (all, and inferclock's own), and B/A of the medians.

The worker case imports the module a worker process boots into (``inferclock._workers.worker``,
or ``inferclock._worker`` before the package had subpackages) and the engine it runs
(``inferclock._timing.engine``, or ``inferclock._engine``): what a sweep pays per cell before
OpenVINO compiles anything.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

CODE = {
    "python -c pass": "pass",
    "import inferclock": "import inferclock",
    "a worker's imports": """
import importlib
for names in (("inferclock._workers.worker", "inferclock._worker"),
              ("inferclock._timing.engine", "inferclock._engine")):
    for name in names:
        try:
            importlib.import_module(name)
            break
        except ModuleNotFoundError as e:
            if e.name is None or not name.startswith(e.name):
                raise
    else:
        raise SystemExit(f"none of {names} found")
""",
}
COUNT = """
import json, sys
{code}
print(json.dumps([len(sys.modules), sum(m.split(".")[0] == "inferclock" for m in sys.modules)]))
"""


def once(python: str, code: str) -> tuple[float, list[int]]:
    t0 = time.perf_counter()
    p = subprocess.run(
        [python, "-c", COUNT.format(code=code)],
        capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(),
    )  # fmt: skip
    wall = time.perf_counter() - t0
    counts: list[int] = json.loads(p.stdout.strip().splitlines()[-1])
    return wall, counts


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--a", required=True, help="python of install A (the baseline)")
    ap.add_argument("--b", default=sys.executable, help="python of install B (default: this)")
    ap.add_argument("--pairs", type=int, default=15, help="ABBA pairs per case (default 15)")
    args = ap.parse_args()
    rows = []
    for case, code in CODE.items():
        walls: dict[str, list[float]] = {"a": [], "b": []}
        counts: dict[str, list[int]] = {}
        for i in range(args.pairs):
            order = ("a", "b") if i % 2 == 0 else ("b", "a")
            for side in order:
                wall, n = once(getattr(args, side), code)
                walls[side].append(wall)
                counts[side] = n
        a, b = (statistics.median(walls[s]) * 1e3 for s in ("a", "b"))
        rows.append([
            case, f"{a:.1f}", f"{b:.1f}", f"{b / a:.3f}",
            f"{counts['a'][0]} / {counts['a'][1]}", f"{counts['b'][0]} / {counts['b'][1]}",
        ])  # fmt: skip
    print(f"{machine()}, {today()}, load {loadavg()}, {args.pairs} ABBA pairs per case\n")
    print(table(
        ["case", "A ms", "B ms", "B/A", "A modules (all / inferclock)", "B modules"], rows
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
