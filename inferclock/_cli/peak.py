"""The ``inferclock peak`` command: ``ic.find_peak_qps`` from the command line. Its own flags are
built from the search's declaration (``_search.options.PeakOptions``), the run options from
``inferclock run``'s (``_cli.options``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from inferclock._cli.options import add_options, given
from inferclock._common.errors import ConfigError
from inferclock._search.options import PeakOptions

EPILOG = """\
Each step is a server run of at least --queries queries (default: twice what LoadGen's early
stopping needs with no query over the bound: 918 at p99) and --min-duration seconds, in a
fresh worker process, kept as a row of the results file. Run the same command again to
resume the search from those rows. The search starts no step longer than --max-step-time
and none that would end past --time-budget (then it stops with the steps done and says why);
Ctrl-C (exit 130) or SIGTERM (143) stops the running step at once, keeping the steps done.

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
    add_options(p, PeakOptions)
    add_options(p)


def run(args: argparse.Namespace) -> int:
    """Search the peak rate, print its summary; 1 when no rate kept the bound; 130 on Ctrl-C
    and 143 on SIGTERM, after the summary of the steps done."""
    from inferclock._search.peak import PeakInterrupted, find_peak_qps

    kw = given(args)
    bound = kw.pop("latency_bound_ms", None)
    if bound is None:
        raise ConfigError("peak needs --latency-bound (15ms, 0.015s): the bound the rate keeps")
    try:
        result = find_peak_qps(args.model, bound, **given(args, PeakOptions), **kw)
    except PeakInterrupted as e:
        print(e.result.summary())
        print(e.hint, file=sys.stderr)
        return 143 if e.terminated else 130
    print(result.summary())
    return 0 if result.qps is not None else 1
