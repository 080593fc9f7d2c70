"""The ``inferclock`` command line (also ``python -m inferclock``).

Subcommands, each in a ``cmd_*`` function: ``info``, ``run``, ``sweep``, ``report``,
``compare``, ``demo``. inferclock's own errors (bad arguments, missing model, unknown device)
print ``error: <message>`` and exit with status 2; ``compare --fail-above`` exits 1 on a
regression; an interrupted sweep exits 130.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import inferclock as ic

EPILOG_RUN_OPTIONS = """\
stopping: by default a run warms up until timings are steady, then stops when the 95%
confidence interval of the median is within --target-ci of it (at least --min-time, at most
--max-time seconds); --iterations N or --duration S fix the length instead.
"""


class _Formatter(argparse.HelpFormatter):
    """Wraps the description like the default; keeps the epilog's lines (examples) as written."""

    def add_text(self, text: str | None) -> None:
        if text and "\n" in text:
            self._add_item(lambda t: t + "\n", [text])  # verbatim
        else:
            super().add_text(text)


# ---------------------------------------------------------------- argument types


def _warmup(text: str) -> str | int | float:
    """'auto', a count ('20') or seconds ('0.5' or '0.5s')."""
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    try:
        if t.endswith("s"):
            return float(t[:-1])
        return float(t) if "." in t else int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--warmup takes 'auto', a count (20) or seconds (0.5s), got {text!r}"
        ) from None


def _fraction(text: str) -> float:
    """'5%' or '0.05' -> 0.05."""
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a percentage (5%) or a fraction (0.05), got {text!r}"
        ) from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative value, got {text!r}")
    return v


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, got {text!r}"
            ) from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return v

    parse.__name__ = kind.__name__
    return parse


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected integers separated by commas, got {text!r}"
        ) from None


def _str_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _socket_list(text: str) -> list[int | None]:
    out: list[int | None] = []
    for x in _str_list(text):
        if x.lower() in ("none", "-"):
            out.append(None)
            continue
        try:
            out.append(int(x))
        except ValueError:
            raise argparse.ArgumentTypeError(
                "--socket takes socket numbers (and 'none' for unpinned) separated by "
                f"commas, got {text!r}"
            ) from None
    return out


def _devices(values: Sequence[str] | None) -> list[str]:
    """-d values: comma lists (CPU,GPU), except a value with ':' (HETERO:FPGA,CPU) stays whole."""
    out: list[str] = []
    for v in values or ["CPU"]:
        out.extend([v.strip()] if ":" in v else _str_list(v))
    return out


_SHAPE = re.compile(r"([^\[\],]+)\[([^\]]*)\]")


def _shapes(values: Sequence[str] | None) -> dict[str, list[int]] | None:
    """--shape values like 'image[1,3,320,320]' (several per value, or the option repeated)."""
    if not values:
        return None
    shapes: dict[str, list[int]] = {}
    for v in values:
        found = _SHAPE.findall(v)
        rest = _SHAPE.sub("", v).replace(",", "").strip()
        if not found or rest:
            raise ic.ConfigError(
                f"--shape {v!r}: expected NAME[dims], e.g. image[1,3,320,320] (several: "
                "a[1,2],b[1,8] or the option repeated)"
            )
        for name, dims in found:
            try:
                shapes[name.strip()] = [int(d) for d in dims.split(",") if d.strip()]
            except ValueError:
                raise ic.ConfigError(f"--shape {v!r}: dimensions must be integers") from None
    return shapes


def _key_values(values: Sequence[str] | None, option: str) -> list[tuple[str, str]]:
    out = []
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ic.ConfigError(f"{option} {v!r}: expected KEY=VALUE")
        out.append((key.strip(), value.strip()))
    return out


def _register_plugins(values: Sequence[str] | None) -> None:
    for name, path in _key_values(values, "--plugin"):
        ic.register_plugin(path, name)


def _run_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """ic.run keyword arguments shared by `run` and `sweep`."""
    kw: dict[str, Any] = {
        "warmup": args.warmup,
        "target_ci": args.target_ci,
        "min_time": args.min_time,
        "max_time": args.max_time,
        "streams": args.streams,
        "threads": args.threads,
        "requests": args.requests,
        "hint": args.hint,
        "strict": not args.no_strict,
    }
    if args.iterations is not None:
        kw["iterations"] = args.iterations
    if args.duration is not None:
        kw["duration"] = args.duration
    shapes = _shapes(args.shape)
    if shapes:
        kw["shapes"] = shapes
    props = dict(_key_values(args.property, "--property"))
    if props:
        kw["properties"] = props
    return kw


def _add_run_options(p: argparse.ArgumentParser) -> None:
    stop = p.add_argument_group("warm-up and stopping")
    exclusive = stop.add_mutually_exclusive_group()
    exclusive.add_argument(
        "--iterations", type=_positive(int), metavar="N", help="time exactly N inferences"
    )
    exclusive.add_argument(
        "--duration", type=_positive(float), metavar="S", help="time for S seconds"
    )
    stop.add_argument(
        "--target-ci", type=_fraction, default=0.01, metavar="F",
        help="adaptive stop: 95%% CI of the median within F of it (default 1%%; '2%%' or 0.02)",
    )  # fmt: skip
    stop.add_argument(
        "--min-time",
        type=float,
        default=0.2,
        metavar="S",
        help="adaptive stop: at least S seconds (default 0.2)",
    )
    stop.add_argument(
        "--max-time",
        type=_positive(float),
        metavar="S",
        help="adaptive stop: at most S seconds (default 10)",
    )
    stop.add_argument(
        "--warmup", type=_warmup, default="auto", metavar="W",
        help="'auto' (until steady, default), a count (20) or seconds (0.5s)",
    )  # fmt: skip
    cfg = p.add_argument_group("OpenVINO configuration")
    cfg.add_argument("--streams", type=_positive(int), metavar="N", help="NUM_STREAMS")
    cfg.add_argument("--threads", type=_positive(int), metavar="N", help="INFERENCE_NUM_THREADS")
    cfg.add_argument(
        "--requests", type=_positive(int), metavar="N",
        help="async requests in throughput mode (default: the compiled model's optimum)",
    )  # fmt: skip
    cfg.add_argument(
        "--hint", default="auto",
        choices=("auto", "none", "latency", "throughput", "cumulative_throughput"),
        help="PERFORMANCE_HINT: auto = LATENCY or THROUGHPUT by --mode (default)",
    )  # fmt: skip
    cfg.add_argument(
        "--shape", action="append", metavar="NAME[dims]",
        help="fix an input's shape, like benchmark_app -shape: image[1,3,320,320] (repeatable)",
    )  # fmt: skip
    cfg.add_argument(
        "--property", action="append", metavar="KEY=VALUE",
        help="any other compile property, passed to OpenVINO as is (repeatable)",
    )  # fmt: skip
    cfg.add_argument(
        "--plugin", action="append", metavar="NAME=PATH",
        help="register an external OpenVINO plugin library under a device name, e.g. "
        "FPGA=/opt/fpga/libopenvino_fpga_plugin.so, then use -d HETERO:FPGA,CPU (repeatable)",
    )  # fmt: skip
    cfg.add_argument(
        "--no-strict", action="store_true",
        help="accept an executed precision other than the requested one (default: error)",
    )  # fmt: skip
    cfg.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


# ---------------------------------------------------------------- commands


def cmd_info(args: argparse.Namespace) -> int:
    """Print the clock calibration, topology, OpenVINO devices and a noise check."""
    from inferclock._info import collect_info, format_info

    info = collect_info()
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Time one model and print a summary (and its JSON with --json)."""
    _register_plugins(args.plugin)
    if args.json:
        from inferclock.results import check_output_path

        check_output_path(args.json, "--json file")
    result = ic.run(
        args.model,
        device=args.device,
        batch_size=args.batch_size,
        precision=args.precision,
        mode=args.mode,
        socket=args.socket,
        cpus=args.cpus,
        seed=args.seed,
        timeout=args.timeout,
        **_run_kwargs(args),
    )
    print(result.summary())
    if args.json:
        Path(args.json).write_text(result.to_json() + "\n", encoding="utf-8")
        print(f"result written to {args.json}")
    return 130 if result.interrupted else 0


def _resume_command() -> str:
    argv = [a for a in sys.argv[1:] if a != "--no-resume"]
    return shlex.join(["inferclock", *argv])


def cmd_sweep(args: argparse.Namespace) -> int:
    """Sweep models x precisions x batch sizes x devices x modes; print the table."""
    from inferclock.sweep import SweepInterrupted, sweep

    _register_plugins(args.plugin)
    try:
        table = sweep(
            args.models,
            precisions=args.precision,
            batch_sizes=args.batch_size,
            devices=_devices(args.device),
            modes=args.mode,
            sockets=args.socket if args.socket is not None else [None],
            repeats=args.repeats,
            processes=args.processes,
            shuffle=not args.no_shuffle,
            out=args.output,
            resume=args.resume,
            cell_timeout=args.timeout,
            quiet=True if args.quiet else None,
            save_raw=args.save_raw,
            seed=args.seed,
            **({"cpus": args.cpus} if args.cpus else {}),
            **({"cache_dir": args.cache_dir or None} if args.cache_dir is not None else {}),
            **_run_kwargs(args),
        )
    except SweepInterrupted as e:
        print(f"\n{e.hint}", file=sys.stderr)
        print(f"to resume: {_resume_command()}", file=sys.stderr)
        return 130
    print(table.to_markdown())
    if args.report:
        from inferclock.report import report

        print(f"report: {report(table, args.report)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Plots (PNG + SVG) and report.md from one or more results files."""
    from inferclock.report import report
    from inferclock.results import ResultTable

    table = ResultTable.load(*args.files)
    path = report(table, args.output, title=args.title)
    print(f"report written to {path} ({len(table)} rows, {len(table.keys())} cells)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare B against A cell by cell; exit 1 on a regression beyond --fail-above."""
    from inferclock.compare import compare

    result = compare(args.a, args.b, threshold=args.threshold)
    print(result.to_markdown())
    if args.json:
        Path(args.json).write_text(json.dumps(result.to_dict(), indent=1, default=str) + "\n")
    if args.fail_above is None:
        return 0
    gate = (
        result
        if args.fail_above == args.threshold
        else compare(args.a, args.b, threshold=args.fail_above)
    )
    if gate.regressions:
        names = ", ".join(f"{c.key} ({c.ratio:.3f}x)" for c in gate.regressions)
        print(
            f"FAIL: {len(gate.regressions)} cell(s) slower by more than {args.fail_above:.1%} "
            f"(whole CI above): {names}",
            file=sys.stderr,
        )
        return 1
    print(f"OK: no cell slower by more than {args.fail_above:.1%}", file=sys.stderr)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Sweep built-in models on this machine, write results.jsonl and report/, print the table."""
    from inferclock._demo import run_demo

    return run_demo(args.output, quick=args.quick)


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inferclock",
        description="Precise neural-network inference timing (OpenVINO): latency, throughput, "
        "start-up cost, pinned to sockets/cores, with confidence intervals.",
        epilog="Start with `inferclock demo` (about 5 minutes; --quick: about 1) or "
        "`inferclock run resnet50`. `inferclock COMMAND --help` explains each command.",
    )
    p.add_argument("--version", action="version", version=f"inferclock {ic.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    models = ", ".join(ic.models.list())
    precisions = ", ".join(ic.PRECISIONS)

    info = sub.add_parser(
        "info",
        help="clock calibration, CPU topology, OpenVINO devices and noise check",
        description="Show how inferclock sees this machine: the calibrated clock, CPU topology, "
        "OpenVINO version and devices, and settings that may add noise (changes nothing).",
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=cmd_info)

    run = sub.add_parser(
        "run",
        help="time one model on one device, precision, batch size and mode",
        description="Time inference of one model: read, compile and first inference timed "
        "apart, then warm-up and the timed loop (C++, GIL released). Prints the median latency "
        "with its 95% CI, p90, p99, throughput, start-up times and the configuration OpenVINO "
        "chose.",
        epilog=EPILOG_RUN_OPTIONS + "\nexamples:\n  inferclock run resnet50 -p bf16 -b 8\n"
        "  inferclock run model.xml --mode throughput --max-time 5 --json r.json\n"
        "  inferclock run ssd.onnx --shape image[1,3,320,320] --socket 0",
        formatter_class=_Formatter,
    )
    run.add_argument(
        "model",
        metavar="MODEL",
        help=f"model file OpenVINO reads (IR .xml, .onnx, .tflite, ...) or built-in name "
        f"({models})",
    )
    run.add_argument(
        "-d",
        "--device",
        default="CPU",
        help="OpenVINO device: CPU, GPU, AUTO, HETERO:FPGA,CPU, ... (default CPU)",
    )
    run.add_argument(
        "-b",
        "--batch-size",
        type=_positive(int),
        default=1,
        metavar="N",
        help="batch size (default 1)",
    )
    run.add_argument(
        "-p", "--precision", default="f32", help=f"inference precision: {precisions} (default f32)"
    )
    run.add_argument(
        "--mode",
        default="latency",
        choices=ic.MODES,
        help="latency: one sync request; throughput: async requests in flight (default latency)",
    )
    pin = run.add_mutually_exclusive_group()
    pin.add_argument(
        "--socket",
        type=int,
        metavar="N",
        help="pin the run to the CPUs of socket N (runs in a fresh process)",
    )
    pin.add_argument(
        "--cpus",
        metavar="LIST",
        help="pin the run to these CPUs, e.g. 0-3,8 (runs in a fresh process)",
    )
    run.add_argument(
        "--json",
        metavar="OUT",
        help="also write the result (flat row + environment) as JSON to OUT",
    )
    run.add_argument(
        "--timeout",
        type=_positive(float),
        metavar="S",
        help="kill a pinned (worker) run after S seconds",
    )
    _add_run_options(run)
    run.set_defaults(func=cmd_run)

    sw = sub.add_parser(
        "sweep",
        help="measure a grid of models x precisions x batch sizes x devices x modes",
        description="Run every cell of the grid in a fresh worker process, append one row per "
        "run to a JSON Lines file as it finishes (a crash or timeout becomes an error row), and "
        "print the table. Ctrl-C stops after the current cell (twice: at once); run the same "
        "command again to resume (the default): finished runs are skipped, failed ones retried.",
        epilog=EPILOG_RUN_OPTIONS
        + "\nexamples:\n  inferclock sweep resnet50 mobilenet_v2 -p f32,bf16,int8 -b 1,8,32 "
        "--mode latency,throughput -o results.jsonl\n"
        "  inferclock sweep model.xml -b 1,4 --processes 3 --max-time 2 --save-raw",
        formatter_class=_Formatter,
    )
    sw.add_argument(
        "models", nargs="+", metavar="MODEL", help=f"model files or built-in names ({models})"
    )
    sw.add_argument(
        "-p",
        "--precision",
        type=_str_list,
        default=["f32"],
        metavar="LIST",
        help=f"precisions, comma-separated, from {precisions} (default f32)",
    )
    sw.add_argument(
        "-b",
        "--batch-size",
        type=_int_list,
        default=[1],
        metavar="LIST",
        help="batch sizes, comma-separated (default 1)",
    )
    sw.add_argument(
        "-d", "--device", action="append", metavar="DEVICES",
        help="devices, comma-separated (CPU,GPU); a value with ':' is one device "
        "(HETERO:FPGA,CPU); repeatable (default CPU)",
    )  # fmt: skip
    sw.add_argument(
        "--mode",
        type=_str_list,
        default=["latency"],
        metavar="LIST",
        help="latency,throughput (default latency)",
    )
    sw.add_argument(
        "--socket",
        type=_socket_list,
        metavar="LIST",
        help="sockets to pin to, comma-separated; 'none' = unpinned (default unpinned)",
    )
    sw.add_argument(
        "--cpus", metavar="LIST", help="pin every cell to these CPUs, e.g. 0-3 (not with --socket)"
    )
    sw.add_argument(
        "-o",
        "--output",
        default="results.jsonl",
        metavar="FILE",
        help="results file, JSON Lines (default results.jsonl)",
    )
    sw.add_argument(
        "--resume", action=argparse.BooleanOptionalAction, default=True,
        help="continue an existing results file, skipping finished runs (default); "
        "--no-resume refuses an existing file",
    )  # fmt: skip
    sw.add_argument(
        "--processes",
        type=_positive(int),
        default=1,
        metavar="N",
        help="fresh worker processes per cell; shows process-to-process spread (default 1)",
    )
    sw.add_argument(
        "--repeats",
        type=_positive(int),
        default=1,
        metavar="N",
        help="runs per worker process (default 1)",
    )
    sw.add_argument(
        "--no-shuffle",
        action="store_true",
        help="run cells in grid order (default: seeded random order)",
    )
    sw.add_argument(
        "--timeout",
        type=_positive(float),
        default=600.0,
        metavar="S",
        help="kill a run's worker after S seconds: an error row (default 600)",
    )
    sw.add_argument(
        "--save-raw",
        action="store_true",
        help="save per-inference latencies as .npy beside the results",
    )
    sw.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="OpenVINO model cache (default: <output stem>.ovcache/; '' turns it off)",
    )
    sw.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar (default: none when stderr is not a terminal)",
    )
    sw.add_argument(
        "--report", metavar="DIR", help="also write the report (plots + report.md) to DIR"
    )
    _add_run_options(sw)
    sw.set_defaults(func=cmd_sweep)

    rep = sub.add_parser(
        "report",
        help="plots (PNG + SVG) and report.md from results files",
        description="Write latency, throughput, latency-CDF and start-up plots (PNG and SVG) "
        "and report.md (tables, executed precisions, environment) for one or more results "
        "files. Needs matplotlib.",
    )
    rep.add_argument("files", nargs="+", metavar="RESULTS", help="results files (.jsonl)")
    rep.add_argument(
        "-o", "--output", default="report", metavar="DIR", help="output directory (default report/)"
    )
    rep.add_argument("--title", default="inferclock report", help="title of report.md")
    rep.set_defaults(func=cmd_report)

    cmp_ = sub.add_parser(
        "compare",
        help="compare two results files cell by cell (CI gate with --fail-above)",
        description="Match cells of A and B by key and give, per cell, the ratio of medians "
        "B/A with a bootstrap 95% CI and a verdict: slower / faster (whole CI beyond the "
        "threshold), same (whole CI within it) or inconclusive.",
        epilog="exit status: 0, or 1 with --fail-above when a cell is slower by more than it "
        "(for CI jobs); 2 on bad input.",
    )
    cmp_.add_argument("a", metavar="A", help="baseline results file")
    cmp_.add_argument("b", metavar="B", help="results file to compare against A")
    cmp_.add_argument(
        "--threshold",
        type=_fraction,
        default=0.05,
        metavar="T",
        help="verdict threshold, '5%%' or 0.05 (default 5%%)",
    )
    cmp_.add_argument(
        "--fail-above",
        type=_fraction,
        metavar="T",
        help="exit 1 if any cell is slower by more than T ('5%%')",
    )
    cmp_.add_argument("--json", metavar="OUT", help="also write the comparison as JSON")
    cmp_.set_defaults(func=cmd_compare)

    demo = sub.add_parser(
        "demo",
        help="sweep built-in models on this machine and write a report "
        "(about 5 min; --quick 1 min)",
        description="Sweep built-in models (ResNet-50 and the SSDLite detector) over f32, bf16 "
        "(where the CPU runs it) and int8, batch 1, 8 and 32, latency and throughput modes, "
        "with the adaptive stop; write results.jsonl and report/ into the output directory and "
        "print the table. No downloads: the models are built locally with random weights. "
        "--quick: MobileNetV2 and the detector, f32 and int8, batch 1 and 8. Run it again to "
        "resume an interrupted demo.",
    )
    demo.add_argument("--quick", action="store_true", help="the small version (about 1 minute)")
    demo.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="output directory (default ./inferclock-demo, --quick: ./inferclock-demo-quick)",
    )
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc: int = args.func(args)
    except (
        ic.InferclockError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ImportError,  # an optional extra missing: the message says what to install
    ) as e:
        # Typed errors carry a message meant for the user: no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    return rc


if __name__ == "__main__":
    sys.exit(main())
