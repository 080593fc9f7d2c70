"""The ``inferclock profile`` command: ``ic.profile`` from the command line (its flags built from
the profile's declaration and the run options', like ``run``'s: ``_profiling.options``), and
``--diff`` of two saved profiles."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from inferclock._cli.options import add_options, given, parsed_type
from inferclock._common.declare import declared
from inferclock._common.errors import ConfigError
from inferclock._common.parsing import parse_int
from inferclock._profiling.options import ProfileOptions, own_options, run_options

_N = declared(ProfileOptions, "iterations").default
EPILOG = f"""\
A profile runs with OpenVINO's performance counters on, apart from any timed run: its
end-to-end time is not the model's latency (`inferclock run` times that). After the warm-up,
--iterations (default {_N}) inferences run in --rounds rounds, each on a freshly compiled
copy (the CPU plugin reports each layer's running mean since compile); a layer's time is the
median over rounds with its 95% interval. The layers' sum is printed beside the end-to-end
time of the same iterations, and the difference (time in no layer) named.

--diff A.json B.json compares two saved profiles: layers with the same name and type are
matched one to one, the rest pooled by layer type; speedup = A / B, change = (B - A) as a
share of A's layers' total.

examples:
  inferclock profile resnet50 -p bf16 --json r50-bf16.json
  inferclock profile model.xml --iterations 200 --top 20 --save-graph exec.xml
  inferclock profile --diff r50-f32.json r50-bf16.json
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "profile",
        help="per-layer time (performance counters) beside end-to-end; --diff two profiles",
        description="Profile one model: per layer its type, kernel, executed precision and "
        "median time with a 95% interval; totals by layer type and by kernel; the layers' sum "
        "beside the end-to-end time. Or compare two saved profiles with --diff.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "model", nargs="?", metavar="MODEL",
        help=f"model file OpenVINO reads or built-in name ({models}); not with --diff",
    )  # fmt: skip
    p.add_argument(
        "--diff", nargs=2, metavar=("A.json", "B.json"),
        help="compare two profiles saved with --json (A is the baseline)",
    )  # fmt: skip
    add_options(p, own_options())
    p.add_argument(
        "--top", type=parsed_type(parse_int, "--top"), metavar="N",
        help="layers (or, with --diff, rows) listed (default 10; --diff 15)",
    )  # fmt: skip
    p.add_argument("--json", metavar="OUT", help="write the profile (or the diff) as JSON")
    p.add_argument("--markdown", metavar="OUT", help="write it as markdown too")
    add_options(p, run_options())


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {path!r}: {e}") from e


def run(args: argparse.Namespace) -> int:
    """Profile a model, or diff two saved profiles; print the summary."""
    if args.top is not None and args.top < 1:
        raise ConfigError(f"--top must be >= 1, got {args.top}")
    if args.diff:
        if args.model is not None:
            raise ConfigError("give a MODEL to profile or --diff A.json B.json, not both")
        return _cmd_diff(args)
    if args.model is None:
        raise ConfigError("profile needs a MODEL (or --diff A.json B.json)")
    from inferclock._profiling.profile import profile

    result = profile(args.model, **given(args, own_options()), **given(args, run_options()))
    top = args.top or 10
    print(result.summary(top))
    if args.json:
        result.save(args.json)
    if args.markdown:
        _write(args.markdown, result.to_markdown(top))
    if result.graph_path:
        print(f"\nexecuted graph: {result.graph_path}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    from inferclock._profiling.profile import profile_diff

    flags = [*given(args, own_options()), *sorted(given(args, run_options()))]
    if flags:
        raise ConfigError(f"--diff compares saved profiles; it takes no run options ({flags[0]})")
    top = args.top or 15
    d = profile_diff(*args.diff)
    print(d.summary(top))
    if args.json:
        _write(args.json, json.dumps(d.to_dict(), indent=1) + "\n")
    if args.markdown:
        _write(args.markdown, d.to_markdown(top))
    return 0
