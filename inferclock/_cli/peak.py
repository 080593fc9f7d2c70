"""The ``inferclock peak`` command: ``ic.find_peak_qps`` from the command line, with the run
options of ``inferclock run`` (built from the same declaration)."""

from __future__ import annotations

import argparse
from typing import Any

from inferclock._cli.options import add_options, given, parsed_type
from inferclock._common.checks import parse_fraction, parse_int, parse_seconds
from inferclock._common.errors import ConfigError
from inferclock._timing.load_checks import parse_rate

EPILOG = """\
Each step is a server run of at least --queries queries (default: twice what LoadGen's early
stopping needs with no query over the bound: 918 at p99) and --min-duration seconds, in a
fresh worker process, kept as a row of the results file. Run the same command again to
resume the search from those rows.

examples:
  inferclock peak model.xml --latency-bound 15ms
  inferclock peak resnet50 --latency-bound 50ms --percentile 99.9 -b 1 -o peak.jsonl
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "peak",
        help="the highest request rate whose server run keeps a latency bound",
        description="Find the highest offered rate (queries per second) at which a server run "
        "(queries arriving on a Poisson schedule, MLPerf LoadGen's Server scenario) is VALID: "
        "the chosen percentile of latency from each query's due time within --latency-bound, "
        "and LoadGen's early stopping passed. Brackets the rate, then binary search.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "model", metavar="MODEL", help=f"model file OpenVINO reads or built-in name ({models})"
    )
    p.add_argument(
        "-o", "--output", default="peak.jsonl", metavar="FILE",
        help="results file, JSON Lines: one row per step (default peak.jsonl)",
    )  # fmt: skip
    p.add_argument(
        "--start-qps", type=parsed_type(parse_rate, "--start-qps"), metavar="Q",
        help="the first rate tried (default: 0.8 x the capacity a short throughput run "
        "measures)",
    )  # fmt: skip
    p.add_argument(
        "--tolerance", type=parsed_type(parse_fraction, "--tolerance"), default=0.02, metavar="F",
        help="stop when the bracket is within F of its lower end (default 2%%)",
    )  # fmt: skip
    p.add_argument(
        "--max-steps", type=parsed_type(parse_int, "--max-steps"), default=24, metavar="N",
        help="at most N server runs (default 24)",
    )  # fmt: skip
    p.add_argument(
        "--min-duration", type=parsed_type(parse_seconds, "--min-duration"), default=2.0,
        metavar="S", help="each step's schedule lasts at least S seconds (default 2)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress display")
    add_options(p)


def run(args: argparse.Namespace) -> int:
    """Search the peak rate, print its summary; 1 when no rate kept the bound."""
    from inferclock._search.peak import find_peak_qps

    kw = given(args)
    bound = kw.pop("latency_bound_ms", None)
    if bound is None:
        raise ConfigError("peak needs --latency-bound (15ms, 0.015s): the bound the rate keeps")
    result = find_peak_qps(
        args.model, bound, kw.pop("percentile", 99.0), out=args.output,
        queries=kw.pop("queries", None), min_duration=args.min_duration,
        start_qps=args.start_qps, tolerance=args.tolerance,
        max_steps=args.max_steps, quiet=True if args.quiet else None, **kw,
    )  # fmt: skip
    print(result.summary())
    return 0 if result.qps is not None else 1
