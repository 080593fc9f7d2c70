"""What the subcommand modules share: the help formatter, the ``--plugin`` flag, the built-in
model names listed in each command's help, and the stopping text of ``run`` and ``sweep``.

Every subcommand module has the same two entry points: ``add_parser(sub, formatter, models)``
adds its parser to the subparsers ``sub`` (``formatter``: the help formatter; ``models``: the
built-in model names, for the help), and ``run(args)`` does its work and returns the exit
status. ``inferclock.__main__`` only assembles them.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from inferclock._common.parsing import parse_key_value

EPILOG_RUN_OPTIONS = """\
stopping: by default a run warms up until timings are steady, then stops when the 95%
confidence interval of the median is within --target-ci of it (at least --min-time, at most
--max-time seconds); --iterations N or --duration S fix the length instead.
"""


class Formatter(argparse.HelpFormatter):
    """Wraps the description like the default; keeps the epilog's lines (examples) as written."""

    def add_text(self, text: str | None) -> None:
        if text and "\n" in text:
            self._add_item(lambda t: t + "\n", [text])  # verbatim
        else:
            super().add_text(text)


def builtin_models() -> list[str]:
    """The built-in model names (listed in the help of the commands that take a MODEL)."""
    from inferclock.models import list as listed

    return listed()


def register_plugins(values: Sequence[str] | None) -> None:
    """Register each ``--plugin NAME=PATH`` with OpenVINO."""
    from inferclock._platform.plugins import register_plugin

    for text in values or []:
        name, path = parse_key_value(text)
        register_plugin(path, name)


def add_plugin_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--plugin", action="append", metavar="NAME=PATH",
        help="register an external OpenVINO plugin library under a device name, e.g. "
        "FPGA=/opt/fpga/libopenvino_fpga_plugin.so, then use -d HETERO:FPGA,CPU (repeatable)",
    )  # fmt: skip


def gate_thresholds(args: argparse.Namespace) -> tuple[float | None, float]:
    """``--fail-above`` and ``--threshold`` of ``compare`` and ``ab``, checked: (the gate's T,
    or None without a gate; the verdict threshold: ``--threshold``, else T, else 5%), so the
    table's states are the gate's unless ``--threshold`` asks for others."""
    from inferclock._analysis.gate import parse_threshold

    fail_above = (
        None if args.fail_above is None else parse_threshold("--fail-above", args.fail_above)
    )
    if args.threshold is not None:
        return fail_above, parse_threshold("--threshold", args.threshold)
    return fail_above, 0.05 if fail_above is None else fail_above
