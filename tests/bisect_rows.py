"""A measuring command for the bisect tests whose figures are set by the checkout: it reads
``speed.txt`` of the current directory (``SCALE [SIGMA] [spread=S] [spread1=S] [fail|hang]``)
and writes a results file to ``sys.argv[1]`` with one cell's rows (3 processes) of lognormal
samples whose median is SCALE ms (process p's SCALE * (1 + S * (p - 1)) with ``spread=S``;
``spread1=S``: only in the search's first run) and spread SIGMA (default 0.02). ``fail``
exits 3 without a row; ``hang`` writes its pid to the file $BISECT_HANG_PID (the test's
event), then sleeps until killed. The seed comes from the commit measured
($INFERCLOCK_BISECT_COMMIT) and the run, so each commit's rows are its own (a history stores
identical rows once).

It stands in for the *environment* (a build and a benchmark at each commit), not for bisect:
the search, the git commands and the verdicts are the real ones.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import lognormal_ns, make_row

from inferclock._analysis.table import ResultWriter
from inferclock._common.jsonl import load_file

HEADER = {"inferclock_version": "0.1.0", "openvino_version": "2026.4.1"}


def main() -> int:
    out = Path(sys.argv[1])
    words = Path("speed.txt").read_text().split()
    if "fail" in words:
        print("build failed: speed.txt says so", file=sys.stderr)
        return 3
    if "hang" in words:
        Path(os.environ["BISECT_HANG_PID"]).write_text(str(os.getpid()))
        while True:
            time.sleep(1)
    scale = float(words[0])
    sigma = float(words[1]) if len(words) > 1 and "=" not in words[1] else 0.02
    spread = float(next((w[7:] for w in words if w.startswith("spread=")), "0"))
    commit = os.environ["INFERCLOCK_BISECT_COMMIT"]
    run = len(list(out.parent.parent.glob("run-*")))  # this one included
    if run == 1:
        spread = float(next((w[8:] for w in words if w.startswith("spread1=")), spread))
    seed = int(commit[:8], 16) + 1000 * run
    w = ResultWriter(out, HEADER)
    for proc in range(3):
        samples = lognormal_ns(
            scale * (1 + spread * (proc - 1)), n=400, sigma=sigma, seed=seed + proc
        )
        w.append(make_row("m", "f32", 1, samples, process=proc))
    assert load_file(out).rows
    return 0


if __name__ == "__main__":
    sys.exit(main())
