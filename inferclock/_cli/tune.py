"""The ``inferclock tune`` command: ``ic.tune`` from the command line. The space's axes take
comma-separated lists (``--streams 1,2 -b 1,8``); every other option is ``inferclock run``'s,
built from the same declaration (``_cli_options``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from inferclock._cli.options import add_options, given, parsed_type
from inferclock._common.checks import parse_fraction, parse_int
from inferclock._common.errors import ConfigError
from inferclock._search.tune_space import AXES, OBJECTIVES
from inferclock._timing import options as _options

EPILOG = """\
Each point runs in fresh worker processes (--processes, default 3), and so does the
baseline, OpenVINO's own THROUGHPUT hint, before the first point and after the last. A
space of at most --max-points points (default 24) is measured whole; a larger one by
coordinate descent from the hint's own choice. Every run is a row of the results file; run
the same command again to measure only what is missing.

exit status: 0; 1 when no point could be measured; 2 on bad input (checked before any run).

examples:
  inferclock tune model.xml --streams 1,2,4 --requests 2,4,8 --max-time 2
  inferclock tune model.xml --streams 1,2 --threads 1,2 -b 1,8 -o tune.jsonl
  inferclock tune model.xml --objective peak_qps --latency-bound 15ms --streams 1,2
"""

#: Flags of ``inferclock run`` that tune sets itself: refused with a reason, not listed.
_REFUSED = {
    "--mode": "tune runs throughput mode (objective throughput) or server runs (peak_qps)",
    "--hint": "tune sets the hint: THROUGHPUT for the baseline, none when a point sets "
    "streams or threads",
    "--qps": "the peak_qps objective searches the rate itself",
}


#: The space's flags (one per axis, named as ``run``'s option).
_SPACE_HELP = {
    "streams": "NUM_STREAMS values to try (sets the hint to none)",
    "requests": "numbers of async infer requests to try",
    "threads": "INFERENCE_NUM_THREADS values to try (sets the hint to none)",
    "batch_size": "batch sizes to try (throughput is in samples/s)",
}


class _Refused(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        raise ConfigError(f"tune takes no {option_string}: {_REFUSED[str(option_string)]}")


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    """Add ``tune`` to the subcommands ``sub`` (``models``: the built-in names, for the help)."""
    p = sub.add_parser(
        "tune",
        help="search streams x requests x threads x batch size against the THROUGHPUT hint",
        description="Find the CPU configuration (NUM_STREAMS, infer requests, "
        "INFERENCE_NUM_THREADS, batch size) that gives the model the most throughput "
        "(samples/s), or with --objective peak_qps the highest rate whose server run keeps "
        "--latency-bound, and its gain over OpenVINO's own THROUGHPUT hint with a 95% "
        "interval.",
        epilog=EPILOG,
        formatter_class=formatter,
        conflict_handler="resolve",  # the space's flags replace run's single-value ones
    )
    p.add_argument(
        "model", metavar="MODEL",
        help=f"model file OpenVINO reads or built-in name ({models})",
    )  # fmt: skip
    add_options(p)
    for flag in _REFUSED:
        p.add_argument(flag, action=_Refused, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    space = p.add_argument_group(
        "the space (comma-separated values, repeatable; default: streams 1, 2, 4, ... up to "
        "the CPUs, requests up to twice that)"
    )
    decl = {o.name: o for o in _options.options()}
    for axis in AXES:
        opt, text = decl[axis], _SPACE_HELP[axis]
        flags = [f for f in (opt.meta.short, opt.flag) if f]
        parse = parsed_type(lambda t, o=opt: [o.meta.parse(v) for v in o.meta.split(t)], flags[-1])
        space.add_argument(
            *flags, dest=f"space_{axis}", action="extend", type=parse, metavar="LIST",
            default=argparse.SUPPRESS, help=text,
        )  # fmt: skip
    own = p.add_argument_group("tune")
    own.add_argument(
        "--objective", default="throughput", metavar="NAME",
        help=f"what to maximize: {' or '.join(OBJECTIVES)} (default throughput)",
    )  # fmt: skip
    own.add_argument(
        "-o", "--output", default="tune.jsonl", metavar="FILE",
        help="results file, JSON Lines: one row per run (default tune.jsonl)",
    )  # fmt: skip
    own.add_argument(
        "--max-points", type=parsed_type(parse_int, "--max-points"), metavar="N",
        help="measure the whole space up to N points, else a local search of at most N "
        "(default 24)",
    )  # fmt: skip
    own.add_argument(
        "--processes", dest="tune_processes", type=parsed_type(parse_int, "--processes"),
        metavar="N", help="fresh worker processes per point (throughput; default 3)",
    )  # fmt: skip
    own.add_argument(
        "--tolerance", type=parsed_type(parse_fraction, "--tolerance"), metavar="F",
        help="peak_qps: stop each search when its bracket is within F (default 2%%)",
    )  # fmt: skip
    own.add_argument(
        "--max-steps", type=parsed_type(parse_int, "--max-steps"), metavar="N",
        help="peak_qps: at most N server runs per search (default 24)",
    )  # fmt: skip
    own.add_argument("--quiet", action="store_true", help="no progress display")


def run(args: argparse.Namespace) -> int:
    """Run the tune, print its summary; 1 when no point was measured."""
    from inferclock._search.tune import tune
    from inferclock._sweeps.sweep import SweepInterrupted

    kw = given(args)
    kw.pop("processes", None)  # replaced by tune's own --processes (dest tune_processes)
    space = {a: getattr(args, f"space_{a}") for a in AXES if hasattr(args, f"space_{a}")}
    try:
        result = tune(
            args.model, args.objective, kw.pop("latency_bound_ms", None), space or None,
            out=args.output, processes=args.tune_processes, max_points=args.max_points,
            quiet=True if args.quiet else None, tolerance=args.tolerance,
            max_steps=args.max_steps, **kw,
        )  # fmt: skip
    except SweepInterrupted as e:
        print(f"\n{e.hint}", file=sys.stderr)
        return 143 if e.terminated else 130
    print(result.summary())
    return 0 if result.best is not None else 1
