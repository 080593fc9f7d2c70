"""Open-loop serving (MLPerf LoadGen's Server scenario) on a built-in model, and the issuer's
own limit.

Run: python benchmarks/server.py [--model mobilenet_v2] [--seconds 20] [--skip bc] [--quick]
(about 12 minutes on 2 cores; run it alone on the machine)
(a) the throughput-mode capacity, then server runs at offered loads of 0.1 .. 1.2 x capacity:
    due-time and issue-time latency p50/p99, achieved rate, queue depth;
(b) the peak rate with due-time p99 <= 2 x the sync (latency-mode) median, by
    ``ic.find_peak_qps``, under the THROUGHPUT hint the server runs by default and under the
    LATENCY hint;
(c) ``ic.tune``'s best configuration against the THROUGHPUT hint (skipped without
    ``inferclock._search.tune``);
(d) the issuer's own limit: on an ~8 us MatMul (x[1,64] @ W[64,64] -> relu, built here), the
    highest rate (constant arrivals) whose server run keeps the median issue delay under 5 us
    and completes its schedule at the offered rate, as a fraction of the throughput-mode
    capacity (goal >= 0.9), searched upward from 0.5x.
Tables go to stdout; the figure, the results files and an ``ic.report`` of each of (a) and
(b) go to benchmarks/out/server/ (its .jsonl files are rewritten each run). ``--quick``: a
1-2 minute smoke run of every part with short runs (its figures are not measurements).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import numpy as np
import openvino as ov
from _common import loadavg, machine, table, today

import inferclock as ic
from inferclock._analysis.rates import rate_curves

OUT = Path(__file__).resolve().parent / "out" / "server"
LOADS = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)
ISSUER_FRACTIONS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.3, 1.4, 1.5)
DELAY_LIMIT_NS = 5_000.0  # (d): median issue delay under this
SUSTAINED = 0.97  # (d): achieved >= this x offered (taken-up) rate


def rnd(q: float) -> float:
    """A rate to 3 significant digits (readable cell keys, as find_peak_qps rounds)."""
    return float(f"{q:.3g}")


def dig(row: Any, *path: str) -> float:
    """``row[path[0]][path[1]]...`` as a float."""
    for k in path:
        row = row[k]
    return float(row)


def ms(ns: Any) -> str:
    return "-" if not isinstance(ns, (int, float)) or not math.isfinite(ns) else f"{ns / 1e6:.2f}"


def us(ns: Any) -> str:
    return "-" if not isinstance(ns, (int, float)) or not math.isfinite(ns) else f"{ns / 1e3:.1f}"


def part_a(args: argparse.Namespace, cap: float, bound_ms: float) -> tuple[Path, list[Any]]:
    """Server runs at each offered load; returns the results file and its rows by rate."""
    out = OUT / "load_sweep.jsonl"
    rates = [rnd(f * cap) for f in args.loads]
    t = ic.sweep(
        args.model, modes=["server"], qps=rates, duration=args.seconds, out=out, quiet=True
    )
    rows = sorted((r for r in t.ok() if r.get("mode") == "server"), key=lambda r: r["qps"])
    lines = []
    for r in rows:
        s = r["server"]
        due_p99 = r["latency_percentiles"]["p99"]["value_ns"]
        lines.append(
            [
                f"{r['qps'] / cap:.2f}",
                f"{r['qps']:g}",
                f"{s['offered_qps']:.1f}",
                f"{s['achieved_qps']:.1f}",
                ms(r["latency_percentiles"]["p50"]["value_ns"]),
                ms(due_p99),
                ms(s["issue_latency_ns"]["p50"]),
                ms(s["issue_latency_ns"]["p99"]),
                us(s["issue_delay_ns"]["p50"]),
                str(s["max_queue_depth"]),
                "yes" if due_p99 <= bound_ms * 1e6 else "no",
            ]
        )
    for r in t.errors():
        print(f"  (a) {r['key']}: {r.get('error')}", flush=True)
    head = ["load", "qps asked", "taken up", "achieved", "due p50 ms", "due p99 ms",
            "issue p50 ms", "issue p99 ms", "delay p50 us", "max queue",
            f"p99 <= {bound_ms:.1f} ms"]  # fmt: skip
    curves = rate_curves(t)
    knee = curves[0].knee_qps if curves else None
    print(f"\n(a) Server runs, Poisson arrivals, {args.seconds:g} s each; capacity {cap:.1f} qps")
    print(
        "(due: from each query's due time; issue: from its start on a request; delay: how late "
        "the issuer took it up)\n"
    )
    print(table(head, lines))
    print(
        "\nKnee (due-time p99 above 2x its lowest-load value): "
        + ("none" if knee is None else f"{knee:g} qps = {knee / cap:.2f} x capacity")
    )
    return out, rows


def part_b(args: argparse.Namespace, cap: float, bound_ms: float) -> list[Path]:
    """find_peak_qps under each hint; returns its results files."""
    lines, files = [], []
    for hint in args.peak_hints:
        out = OUT / f"peak_{hint}.jsonl"
        files.append(out)
        t0 = time.perf_counter()
        opts: dict[str, Any] = {} if hint == "auto" else {"hint": hint}
        # The full-verdict rule: its halving from the capacity and tolerance are this part's
        # design (find_peak_qps's default is LoadGen's rule, which takes no tolerance).
        opts.update(out=out, start_qps=rnd(cap), quiet=True, tolerance=args.peak_tolerance,
                    queries=args.peak_queries, rule="verdict")  # fmt: skip
        try:
            # Halving stops at 1/8 of capacity (4 steps; --quick 1/2): lower, a step of 918
            # queries would take minutes. A second call on the same file resumes the search.
            p = ic.find_peak_qps(args.model, bound_ms, 99, max_steps=args.peak_floor, **opts)
            if p.qps is not None:
                p = ic.find_peak_qps(args.model, bound_ms, 99, max_steps=args.peak_steps, **opts)
        except ic.InferclockError as e:
            print(f"  (b) {hint}: {e}", flush=True)
            continue
        print(f"\n{p.summary()}", flush=True)
        lines.append(
            [
                "THROUGHPUT (server default)" if hint == "auto" else hint.upper(),
                "-" if p.qps is None else f"{p.qps:g}",
                "-" if p.qps is None else f"{p.qps / cap:.2f}",
                "-" if p.lowest_invalid is None else f"{p.lowest_invalid:g}",
                str(len(p.steps)),
                f"{time.perf_counter() - t0:.0f}",
            ]
        )
    print(f"\n(b) Peak rate with due-time p99 <= {bound_ms:.2f} ms (2 x the sync median)\n")
    head = ["hint", "peak qps", "x capacity", "lowest INVALID", "steps", "seconds"]
    print(table(head, lines))
    return files


def part_c(args: argparse.Namespace) -> None:
    """ic.tune over its default space (--quick: two points), against the THROUGHPUT hint."""
    try:
        from inferclock._search.tune import tune
    except ImportError as e:
        print(f"\n(c) skipped: inferclock._search.tune is not available ({e})")
        return
    space = {"streams": [1, 2], "requests": [2]} if args.quick else None
    r = tune(
        args.model, objective="throughput", space=space, out=OUT / "tune.jsonl", quiet=True,
        processes=1 if args.quick else 3, max_time=args.tune_time,
    )  # fmt: skip
    print(f"\n(c) ic.tune's best configuration vs the THROUGHPUT hint\n\n{r.summary()}\n")
    g = "-" if r.gain is None else f"{r.gain:.3f} [{r.gain_low:.3f}, {r.gain_high:.3f}]"
    base = r.baseline.value
    print(table(
        ["configuration", "samples/s", "vs hint"],
        [["best: " + " ".join(f"{k}={v}" for k, v in (r.best or {}).items()),
          "-" if r.value is None else f"{r.value:.1f}", g],
         ["THROUGHPUT hint", "-" if base is None else f"{base:.1f}", "1"]],
    ))  # fmt: skip


def matmul_model(path: Path) -> Path:
    """x[N,64] @ W[64,64] -> relu: a few microseconds."""
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    model = ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "matmul64")
    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


def part_d(args: argparse.Namespace) -> list[tuple[float, dict[str, Any], bool, str]]:
    """Server runs on the MatMul upward from 0.5 x capacity until two in a row fail."""
    model = str(matmul_model(OUT / "matmul64.xml"))
    cap_run = ic.run(model, mode="throughput", max_time=args.capacity_time, isolate=True)
    cap = cap_run.throughput
    print(
        f"\n(d) The issuer's limit: MatMul 64x64, median service "
        f"{cap_run.latency.median_ns / 1e3:.1f} us, throughput-mode capacity {cap:,.0f} qps "
        f"({cap_run.streams} streams, {cap_run.requests} requests); constant arrivals, "
        f"{args.issuer_seconds:g} s per rate\n",
        flush=True,
    )
    found: list[tuple[float, dict[str, Any], bool, str]] = []
    fails = 0
    for f in args.issuer_fractions:
        r = ic.run(model, mode="server", qps=rnd(f * cap), duration=args.issuer_seconds,
                   arrival="constant", isolate=True)  # fmt: skip
        s = r.server
        assert s is not None
        why = [
            label
            for label, failed in (
                ("issuer late", s.issue_delay_ns["p50"] >= DELAY_LIMIT_NS),
                ("not all completed", s.completed < s.scheduled),
                ("backlog", s.achieved_qps < SUSTAINED * s.offered_qps),
            )
            if failed
        ]
        ok = not why
        found.append((f, s.to_dict(), ok, ", ".join(why)))
        fails = 0 if ok else fails + 1
        if fails == 2:
            break
    lines = [
        [f"{f:.2f}", f"{s['qps']:,.0f}", f"{s['offered_qps']:,.0f}", f"{s['achieved_qps']:,.0f}",
         us(s["issue_delay_ns"]["p50"]), us(s["issue_delay_ns"]["p99"]),
         us(s["queue_wait_ns"]["p50"]), str(s["max_queue_depth"]),
         "yes" if ok else f"no: {why}"]
        for f, s, ok, why in found
    ]  # fmt: skip
    head = ["x capacity", "qps asked", "taken up", "achieved", "delay p50 us", "delay p99 us",
            "queue wait p50 us", "max queue", "pass"]  # fmt: skip
    print(table(head, lines))
    best = max((f for f, _, ok, _ in found if ok), default=None)
    print(
        f"\nPass: issue delay p50 < {DELAY_LIMIT_NS / 1e3:g} us, every query completed, achieved "
        f">= {SUSTAINED:g} x taken-up rate. Highest passing: "
        + ("none" if best is None else f"{best:.2f} x capacity")
        + " (goal >= 0.9)"
    )
    return found


def plot(a_rows: list[Any], cap: float, bound_ms: float, d: list[Any], path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    ax, bx = fig.subplots(1, 2)
    x = [r["qps"] / cap for r in a_rows]
    series = (
        ("due p50", ("latency_percentiles", "p50", "value_ns"), "-", "#1f77b4"),
        ("due p99", ("latency_percentiles", "p99", "value_ns"), "-", "#d62728"),
        ("issue p50", ("server", "issue_latency_ns", "p50"), "--", "#7fa7cf"),
        ("issue p99", ("server", "issue_latency_ns", "p99"), "--", "#e89a9a"),
    )
    for label, fields, ls, color in series:
        y = [dig(r, *fields) / 1e6 for r in a_rows]
        ax.plot(x, y, ls=ls, marker="o", ms=4, color=color, label=label)
    ax.axhline(bound_ms, color="gray", ls=":", label=f"2 x sync median ({bound_ms:.1f} ms)")
    ax.set_yscale("log")
    ax.set_xlabel("offered load (x throughput-mode capacity)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(f"(a) server latency vs offered load, capacity {cap:.0f} qps", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    if d:
        fx = [f for f, *_ in d]
        for key, color in (("p50", "#1f77b4"), ("p99", "#d62728")):
            bx.plot(fx, [s["issue_delay_ns"][key] / 1e3 for _, s, *_ in d], marker="o", ms=4,
                    color=color, label=f"issue delay {key}")  # fmt: skip
        bx.plot([f for f, _, ok, _ in d if not ok], [s["issue_delay_ns"]["p50"] / 1e3
                for _, s, ok, _ in d if not ok], ls="none", marker="x", ms=9, color="black",
                label="fails")  # fmt: skip
        bx.axhline(DELAY_LIMIT_NS / 1e3, color="gray", ls=":", label="5 us")
        bx.set_yscale("log")
        bx.set_xlabel("offered rate (x throughput-mode capacity)")
        bx.set_ylabel("issue delay (us)")
        bx.set_title("(d) issuer delay on an ~8 us MatMul, constant arrivals", fontsize=10)
        bx.grid(True, alpha=0.3)
        bx.legend(fontsize=8)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="mobilenet_v2", help="a built-in model of ~1-10 ms")
    ap.add_argument("--seconds", type=float, default=20.0, help="(a) seconds per server run")
    ap.add_argument("--capacity-time", type=float, default=6.0, help="throughput-mode cap (s)")
    ap.add_argument("--issuer-seconds", type=float, default=5.0, help="(d) seconds per rate")
    ap.add_argument("--tune-time", type=float, default=3.0, help="(c) seconds per tune run")
    ap.add_argument("--skip", default="", help="parts to skip, e.g. bc")
    ap.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run")
    args = ap.parse_args()
    args.loads, args.issuer_fractions, args.peak_floor = LOADS, ISSUER_FRACTIONS, 4
    args.peak_hints, args.peak_queries, args.peak_tolerance, args.peak_steps = (
        ["auto", "latency"], None, 0.02, 14,
    )  # fmt: skip
    if args.quick:
        args.seconds, args.capacity_time, args.issuer_seconds, args.tune_time = 2, 1.5, 1, 1
        args.loads, args.issuer_fractions = (0.3, 0.8, 1.1), (0.5, 0.9, 1.0, 1.2)
        args.peak_floor = 2
        args.peak_hints, args.peak_queries, args.peak_tolerance, args.peak_steps = (
            ["auto", "latency"], 500, 0.25, 5,
        )  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.jsonl"):  # the searches would resume from an earlier run's rows
        old.unlink()
    t_start, load0 = time.perf_counter(), loadavg()
    print(
        f"# server ({today()}{', --quick' if args.quick else ''})\n\nMachine: {machine()}\n"
        f"OpenVINO {ov.get_version()}, inferclock {ic.__version__}, model {args.model}\n",
        flush=True,
    )
    sync = ic.run(args.model, mode="latency", max_time=args.capacity_time, isolate=True)
    tput = ic.run(args.model, mode="throughput", max_time=args.capacity_time, isolate=True)
    cap = tput.throughput / tput.batch_size
    bound_ms = 2 * sync.latency.median_ms
    print(
        f"sync (latency mode) median {sync.latency.median_ms:.2f} ms -> bound {bound_ms:.2f} ms; "
        f"capacity (throughput mode, {tput.streams} streams, {tput.requests} requests) "
        f"{cap:.1f} qps",
        flush=True,
    )
    a_rows: list[Any] = []
    files: list[Path] = []
    if "a" not in args.skip:
        a_file, a_rows = part_a(args, cap, bound_ms)
        files.append(a_file)
    if "b" not in args.skip:
        files += part_b(args, cap, bound_ms)
    if "c" not in args.skip:
        part_c(args)
    d = part_d(args) if "d" not in args.skip else []
    png = OUT / "server.png"
    plot(a_rows, cap, bound_ms, d, png)
    print(f"\nFigure: {png}")
    for f in files:  # one report each: a rate in two files would be pooled into one cell
        if f.exists() and f.stat().st_size:
            md = ic.report(f, OUT / f"report_{f.stem}", title=f"server benchmark: {f.stem}")
            print(f"Report: {md}")
    print(
        f"\nLoad average before: {load0}; after: {loadavg()}; "
        f"script runtime {time.perf_counter() - t_start:.0f} s"
    )


if __name__ == "__main__":
    main()
