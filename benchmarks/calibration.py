"""Do the intervals hold on real runs? A/A pairs of ``ic.run`` at its defaults and of
``inferclock ab``, on three models, counting how often the ratio's interval holds 1.0.

Run: python benchmarks/calibration.py [--pairs 20] [--ab 20] [--out FILE.md]   (alone)

Models: MatMul chains built here of about 20 us, 3 ms and 20 ms on this 2-vCPU machine (the
achieved medians are printed). ``ic.run``: each run is a fresh ``python -c`` process calling
``ic.run(model)`` with every default (one process, the adaptive stop); a pair is two such
runs back to back, and its ratio interval is ``compare``'s (``_analysis.cell.combine_rows``,
``_common.intervals.ratio``) on their rows. ``inferclock ab``: ``ic.ab(model, model)`` at its
defaults (alternating fresh processes, stop at +-2% or its budget), in this process. Goal
(issue 23): at least 93% of A/A intervals hold 1.0. The largest and smallest per-run medians
seen are printed beside each model, as the speed modes the machine went through.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import loadavg, machine, table, today

#: name -> (width, layers) of a batch-1 chain sharing one weight: about 20 us, 3 ms, 20 ms here.
MODELS = {"20us": (128, 3), "3ms": (1024, 30), "20ms": (1024, 200)}
RUN = (
    "import json, sys, warnings; warnings.simplefilter('ignore'); import inferclock as ic; "
    "from inferclock._timing.rows import result_row; "
    "print(json.dumps(result_row(ic.run(sys.argv[1])), default=str))"
)


def build(root: Path) -> dict[str, Path]:
    import openvino as ov
    import openvino.opset13 as ops

    out = {}
    for name, (width, layers) in MODELS.items():
        rng = np.random.default_rng(0)
        w = ops.constant((rng.standard_normal((width, width)) / width**0.5).astype(np.float32))
        x = ops.parameter([-1, width], np.float32, name="x")
        h = x
        for _ in range(layers):
            h = ops.relu(ops.matmul(h, w, False, False))
        path = root / f"mm_{name}.xml"
        ov.save_model(ov.Model([h], [x], name), str(path), compress_to_fp16=False)
        out[name] = path
    return out


def run_row(model: Path) -> dict[str, object]:
    r = subprocess.run([sys.executable, "-c", RUN, str(model)], capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"ic.run of {model} failed: {r.stderr[-2000:]}")
    row: dict[str, object] = json.loads(r.stdout.strip().splitlines()[-1])
    return row


def run_pair(model: Path) -> tuple[bool, float, float]:
    from inferclock._analysis.cell import combine_rows
    from inferclock._common.intervals import ratio

    a, b = run_row(model), run_row(model)
    ca, cb = combine_rows([a], "median"), combine_rows([b], "median")
    assert ca is not None and cb is not None
    _, lo, hi = ratio(ca, cb)
    holds = lo is not None and hi is not None and lo <= 1.0 <= hi
    return holds, ca.estimate, cb.estimate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=20, help="A/A pairs of ic.run per model")
    ap.add_argument("--ab", type=int, default=20, help="A/A inferclock ab runs per model")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import inferclock as ic

    models = build(Path(tempfile.mkdtemp(prefix="calibration-")))
    print(f"# calibration, {today()}\n\n{machine()}; load {loadavg()}\n", flush=True)
    rows = []
    for name, model in models.items():
        held, meds = 0, []
        for i in range(args.pairs):
            ok, ma, mb = run_pair(model)
            held += ok
            meds += [ma, mb]
            print(f"{name} ic.run pair {i + 1}: {'holds' if ok else 'MISSES'} 1.0 "
                  f"({ma / 1e6:.4f} / {mb / 1e6:.4f} ms)", file=sys.stderr, flush=True)  # fmt: skip
        modes = f"{min(meds) / 1e6:.4g}-{max(meds) / 1e6:.4g} ms" if meds else "-"
        rows.append([name, "ic.run (defaults)", f"{held}/{args.pairs}",
                     f"{held / max(args.pairs, 1):.0%}", modes, "-"])  # fmt: skip
        held, secs, widths = 0, [], []
        for i in range(args.ab):
            r = ic.ab(model, model, progress=False)
            ok = r.ci_low <= 1.0 <= r.ci_high
            held += ok
            secs.append(r.elapsed_s)
            widths.append(r.half_width)
            print(f"{name} ab {i + 1}: {r.ratio:.4f} [{r.ci_low:.4f}, {r.ci_high:.4f}], "
                  f"{len(r.pairs)} pairs, {r.elapsed_s:.0f} s, {r.stop_reason}",
                  file=sys.stderr, flush=True)  # fmt: skip
        if args.ab:
            took = f"median {np.median(secs):.0f} s, +-{np.median(widths):.1%}"
            rows.append([name, "inferclock ab (defaults)", f"{held}/{args.ab}",
                         f"{held / args.ab:.0%}", "-", took])  # fmt: skip
    head = ["model", "how", "A/A intervals holding 1.0", "share", "per-run medians seen",
            "time, half-width"]  # fmt: skip
    text = table(head, rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
