"""The ``inferclock`` command line (also ``python -m inferclock``).

Subcommands, each in a ``cmd_*`` function: ``info``, ``run``, ``sweep``, ``report``,
``demo``; ``compare``, ``peak`` and ``tune`` live in ``_cli_compare``, ``_cli_peak`` and
``_cli_tune``.
inferclock's own errors (bad arguments, missing model, unknown device) print
``error: <message>`` and exit with status 2; ``compare --fail-above`` exits 1 on a
regression; Ctrl-C exits 130 (a run prints its partial result first), SIGTERM 143 (a sweep
keeps every finished row).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from inferclock._cli import (
    compare as _cli_compare,
    history as _cli_history,
    peak as _cli_peak,
    profile as _cli_profile,
    publish as _cli_publish,
    tune as _cli_tune,
)
from inferclock._cli.options import add_options, given
from inferclock._common.checks import parse_key_value
from inferclock._common.errors import InferclockError, Terminated
from inferclock._common.util import package_version
from inferclock._platform.plugins import register_plugin
from inferclock._timing.options import SweepOptions
from inferclock._workers.run import run

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


def builtin_models() -> list[str]:
    from inferclock.models import list as listed

    return listed()


def _register_plugins(values: Sequence[str] | None) -> None:
    for text in values or []:
        name, path = parse_key_value(text)
        register_plugin(path, name)


def _add_plugin_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin", action="append", metavar="NAME=PATH",
        help="register an external OpenVINO plugin library under a device name, e.g. "
        "FPGA=/opt/fpga/libopenvino_fpga_plugin.so, then use -d HETERO:FPGA,CPU (repeatable)",
    )  # fmt: skip


# ---------------------------------------------------------------- commands


def cmd_info(args: argparse.Namespace) -> int:
    """Print the clock calibration, topology, OpenVINO devices and a noise check."""
    from inferclock._platform.info import collect_info, format_info

    info = collect_info()
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Time one model and print a summary (and its JSON with --json)."""
    _register_plugins(args.plugin)
    if args.json:
        from inferclock._analysis.table import check_output_path

        check_output_path(args.json, "--json file")
    result = run(args.model, **given(args))
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
    from inferclock._sweeps.sweep import SweepInterrupted, sweep

    _register_plugins(args.plugin)
    try:
        table = sweep(args.models, **given(args, SweepOptions), **given(args, sweep=True))
    except SweepInterrupted as e:
        print(f"\n{e.hint}", file=sys.stderr)
        print(f"to resume: {_resume_command()}", file=sys.stderr)
        return 143 if e.terminated else 130
    print(table.to_markdown())
    if args.report:
        from inferclock._render.report import report

        print(f"report: {report(table, args.report)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Plots (PNG + SVG) and report.md from one or more results files."""
    from inferclock._analysis.table import ResultTable
    from inferclock._render.report import report

    table = ResultTable.load(*args.files, allow_mixed=args.allow_mixed)
    path = report(table, args.output, title=args.title)
    print(f"report written to {path} ({len(table)} rows, {len(table.keys())} cells)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Sweep built-in models on this machine, write results.jsonl and report/, print the table."""
    from inferclock._cli.demo import run_demo

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
    p.add_argument("--version", action="version", version=f"inferclock {package_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    models = ", ".join(builtin_models())

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
        "  inferclock run ssd.onnx --shape image[1,3,320,320] --socket 0\n"
        "  inferclock run model.xml --env OMP_WAIT_POLICY=PASSIVE --inputs batch.npz",
        formatter_class=_Formatter,
    )
    run.add_argument(
        "model",
        metavar="MODEL",
        help=f"model file OpenVINO reads (IR .xml, .onnx, .tflite, ...) or built-in name "
        f"({models})",
    )
    run.add_argument(
        "--json",
        metavar="OUT",
        help="also write the result (flat row + environment) as JSON to OUT",
    )
    _add_plugin_flag(run)
    add_options(run)
    run.set_defaults(func=cmd_run)
    _cli_peak.add_parser(sub, _Formatter, models)
    _cli_tune.add_parser(sub, _Formatter, models)
    _cli_profile.add_parser(sub, _Formatter, models)
    _cli_history.add_parser(sub, _Formatter)
    _cli_publish.add_parser(sub, _Formatter)

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
        "  inferclock sweep model.xml -b 1,4 --processes 3 --max-time 2 --save-raw\n"
        "  inferclock sweep resnet50 -p f32,int8 --cluster tcp://sched:8786 --every-host",
        formatter_class=_Formatter,
    )
    sw.add_argument(
        "models", nargs="+", metavar="MODEL", help=f"model files or built-in names ({models})"
    )
    sw.add_argument(
        "--report", metavar="DIR", help="also write the report (plots + report.md) to DIR"
    )
    _add_plugin_flag(sw)
    add_options(sw, SweepOptions)
    sw.add_argument(
        "--every-host", dest="placement", action="store_const", const="every_host",
        default=argparse.SUPPRESS, help="the same as --placement every_host",
    )  # fmt: skip
    add_options(sw, sweep=True)
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
    rep.add_argument(
        "--allow-mixed",
        action="store_true",
        help="accept files from several hosts (each host's cells kept apart)",
    )
    rep.set_defaults(func=cmd_report)

    _cli_compare.add_parser(sub, _Formatter)

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
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        rc: int = args.func(args)
    except (
        InferclockError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ImportError,  # an optional extra missing: the message says what to install
    ) as e:
        # Typed errors carry a message meant for the user: no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Terminated as e:  # SIGTERM: the worker stopped, temporary files removed
        print(f"terminated: {e}", file=sys.stderr)
        return 143
    except KeyboardInterrupt as e:  # Ctrl-C before a partial result could be made
        print(f"interrupted{f': {e}' if str(e) else ''}", file=sys.stderr)
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
