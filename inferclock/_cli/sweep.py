"""The ``inferclock sweep`` command: ``ic.sweep`` of a grid, its flags built from the run options'
and the sweep's own declarations (``_cli.options``); grid axes take comma-separated lists."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from inferclock._cli.common import EPILOG_RUN_OPTIONS, add_plugin_flag, register_plugins
from inferclock._cli.options import add_options, given
from inferclock._sweeps.options import SweepOptions

EPILOG = f"""{EPILOG_RUN_OPTIONS}
examples:
  inferclock sweep resnet50 mobilenet_v2 -p f32,bf16,int8 -b 1,8,32 --mode latency,throughput -o results.jsonl
  inferclock sweep model.xml -b 1,4 --processes 3 --max-time 2 --save-raw
  inferclock sweep resnet50 -p f32,int8 --cluster tcp://sched:8786 --every-host"""  # noqa: E501


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "sweep",
        help="measure a grid of models x precisions x batch sizes x devices x modes",
        description="Run every cell of the grid in a fresh worker process, append one row per "
        "run to a JSON Lines file as it finishes (a crash or timeout becomes an error row), and "
        "print the table. Ctrl-C stops after the current cell (twice: at once); run the same "
        "command again to resume (the default): finished runs are skipped, failed ones retried.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "models", nargs="+", metavar="MODEL", help=f"model files or built-in names ({models})"
    )
    p.add_argument(
        "--report", metavar="DIR", help="also write the report (plots + report.md) to DIR"
    )
    add_plugin_flag(p)
    add_options(p, SweepOptions)
    p.add_argument(
        "--every-host", dest="placement", action="store_const", const="every_host",
        default=argparse.SUPPRESS, help="the same as --placement every_host",
    )  # fmt: skip
    add_options(p, sweep=True)


def _resume_command() -> str:
    argv = [a for a in sys.argv[1:] if a != "--no-resume"]
    return shlex.join(["inferclock", *argv])


def run(args: argparse.Namespace) -> int:
    """Sweep models x precisions x batch sizes x devices x modes; print the table (130 on
    Ctrl-C, 143 on SIGTERM, with the command that resumes)."""
    from inferclock._sweeps.sweep import SweepInterrupted, sweep

    register_plugins(args.plugin)
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
