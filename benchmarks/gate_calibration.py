"""The gate's error rates, measured: how often it fails an A/A pair (a false alarm) and how often
it catches a known slow-down, for ``inferclock compare --fail-above`` and the pytest plugin, at
the default settings.

Run: python benchmarks/gate_calibration.py [--rounds 20] [--out FILE.md]   (alone on the machine)

The model is a chain of ``LAYERS`` MatMuls (512 x 512, batch 1, about a millisecond here); the
known changes are the same chain with 5% and 10% more layers and with twice as many (so the work
changes, not the files' numbers). All four are saved as ``mm.xml`` in their own folders, so their
cells share one key. Each round runs, in fresh processes, A, +5%, +10%, 2x, A' (reversed every
other round, so a speed mode of the machine that lasts minutes hits both sides of a pair
alike):

* compare: ``inferclock sweep MODEL`` at its defaults (3 worker processes), then per pair
  ``ic.compare(A, B).gate(T)`` for T = 0% and 5% (the function ``inferclock compare
  --fail-above`` calls); A/A pairs are (A, A') of a round.
* plugin: ``pytest`` sessions of one test ``inferclock.run(MODEL)`` (``ic.run``'s defaults:
  one process), each judged against the baseline the first A session saved with
  ``--inferclock-fail-above 5%`` (its exit status: the plugin's own verdict), and saved, so the
  0% verdict is the same states judged on the saved rows by ``ic.compare(...).gate(0)``.

A pair "fails" when the gate exits 1 (any state but same, faster, or not worse than T). Goal
(issue 22): false alarms at most 5% at T = 5%, detection of a 10% change at least 95%. The
achieved change (the median over pairs of B/A's median latency) is printed beside each case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import loadavg, machine, table, today

LAYERS = 40
CASES = {"A": LAYERS, "+5%": LAYERS * 21 // 20, "+10%": LAYERS * 11 // 10, "2x": LAYERS * 2}
THRESHOLDS = (0.0, 0.05)
TEST = """\
import os


def test_model(inferclock):
    inferclock.run(os.environ["GATE_MODEL"])
"""


def build(root: Path) -> dict[str, Path]:
    import openvino as ov
    import openvino.opset13 as ops

    w = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32) * 0.04
    out = {}
    for case, layers in CASES.items():
        x = ops.parameter([1, 512], np.float32, name="x")
        h = x
        for _ in range(layers):
            h = ops.relu(ops.matmul(h, ops.constant(w), False, False))
        d = root / case.replace("%", "pct").replace("+", "plus")
        d.mkdir()
        ov.save_model(ov.Model([h], [x], "mm"), str(d / "mm.xml"), compress_to_fp16=False)
        out[case] = d / "mm.xml"
    return out


def sweep(model: Path, out: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "inferclock", "sweep", str(model), "-o", str(out)],
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    if r.returncode != 0:
        raise SystemExit(f"sweep of {model} failed ({r.returncode}): {r.stderr[-2000:]}")


def session(root: Path, model: Path, name: str, compare: bool) -> int:
    """A pytest session of the one test, saved as ``name``; judged at 5% when ``compare``."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_speed.py",
            "--inferclock-storage", str(root / "store"), "--inferclock-save", name]  # fmt: skip
    if compare:
        argv += ["--inferclock-compare", "base", "--inferclock-fail-above", "5%"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=root,
                       env={**os.environ, "GATE_MODEL": str(model)})  # fmt: skip
    if r.returncode not in (0, 1):
        raise SystemExit(f"pytest session failed ({r.returncode}): {r.stdout[-2000:]}")
    return r.returncode


def saved(root: Path, name: str) -> Path:
    (path,) = (root / "store").glob(f"*/{name}.jsonl")
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    import inferclock as ic

    root = Path(tempfile.mkdtemp(prefix="gate-cal-"))
    models = build(root)
    (root / "test_speed.py").write_text(TEST)
    print(f"# gate calibration, {today()}\n\n{machine()}; load {loadavg()}\n", flush=True)
    session(root, models["A"], "base", compare=False)
    # results[(side, case)] = list of (failed at 0%, failed at 5%, failed at 5% allowing
    # inconclusive (compare only), B/A median ratio)
    results: dict[tuple[str, str], list[tuple[bool, bool, bool | None, float]]] = {}
    base = saved(root, "base")
    for i in range(args.rounds):
        order = ["A", "+5%", "+10%", "2x", "A'"]
        if i % 2:
            order.reverse()
        files: dict[str, Path] = {}
        plugin_rc: dict[str, int] = {}
        for case in order:
            m = models[case.rstrip("'")]
            files[case] = root / f"r{i}-{case}.jsonl"
            sweep(m, files[case])
            plugin_rc[case] = session(root, m, f"r{i}-{case}", compare=True)
        for case in ("A'", "+5%", "+10%", "2x"):
            c = ic.compare(files["A"], files[case])
            ratio = c.cells[0].median_b_ns / c.cells[0].median_a_ns if c.cells else float("nan")
            fails = [not c.gate(t).passed for t in THRESHOLDS]
            lax = not c.gate(0.05, allow_inconclusive=True).passed
            results.setdefault(("compare", case), []).append((fails[0], fails[1], lax, ratio))
            p = ic.compare(base, saved(root, f"r{i}-{case}"))
            pr = p.cells[0].median_b_ns / p.cells[0].median_a_ns if p.cells else float("nan")
            p0 = not p.gate(0.0).passed
            results.setdefault(("plugin", case), []).append((p0, plugin_rc[case] == 1, None, pr))
        print(f"round {i + 1}/{args.rounds} done (load {loadavg()})", file=sys.stderr, flush=True)
    rows = []
    for (side, case), rs in results.items():
        n = len(rs)
        label = "A/A" if case == "A'" else case
        rate = [f"{sum(r[k] for r in rs)}/{n} ({sum(r[k] for r in rs) / n:.0%})" for k in (0, 1)]
        lax = "-" if side == "plugin" else f"{sum(bool(r[2]) for r in rs)}/{n}"
        achieved = statistics.median(r[3] for r in rs)
        rows.append([side, label, f"{achieved:.3f}", rate[0], rate[1], lax])
    head = ["gate", "pair", "B/A median (achieved)", "failed at 0%", "failed at 5%",
            "failed at 5%, --allow-inconclusive"]  # fmt: skip
    text = table(head, rows)
    print(text)
    print("\n(A/A rows: false alarms; the others: detections.)")
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
