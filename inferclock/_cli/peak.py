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
Rules (--rule): loadgen (default) is MLPerf LoadGen's FindPeakPerformance: the start rate must
keep the bound (else exit 1, saying so: give a lower --start-qps), the rate doubles until a
step does not, then the bracket's midpoint is tried until it no longer splits at
--qps-decimals places; a step passes when its percentile of due-time latency is within the
bound, nothing else (no early stopping, as LoadGen). verdict: a step passes when its full
verdict is VALID (early stopping included); it halves or doubles from any start, then bisects
to --tolerance.

Each step is a server run of at least --queries queries (default: twice what LoadGen's early
stopping needs with no query over the bound: 918 at p99) and --min-duration seconds, in a
fresh worker process, kept as a row of the results file. Run the same command again to
resume the search from those rows. The search starts no step longer than --max-step-time
and none that would end past --time-budget (then it stops with the steps done and says why);
Ctrl-C (exit 130) or SIGTERM (143) stops the running step at once, keeping the steps done.

examples:
  inferclock peak model.xml --latency-bound 15ms
  inferclock peak model.xml --latency-bound 15ms --start-qps 50 --qps-decimals 0
  inferclock peak resnet50 --latency-bound 50ms --percentile 99.9 --rule verdict -o peak.jsonl
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "peak",
        help="the highest request rate whose server run keeps a latency bound",
        description="Find the highest offered rate (queries per second) at which a server run "
        "(queries arriving on a Poisson schedule, MLPerf LoadGen's Server scenario) keeps the "
        "chosen percentile of latency from each query's due time within --latency-bound: by "
        "LoadGen's FindPeakPerformance (--rule loadgen, the default) or by the full verdict "
        "(--rule verdict). Brackets the rate, then binary search.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "model", metavar="MODEL", help=f"model file OpenVINO reads or built-in name ({models})"
    )
    add_options(p, PeakOptions)
    add_options(p)


def run(args: argparse.Namespace) -> int:
    """Search the peak rate, print its summary; 1 when no rate kept the bound (under rule
    loadgen: the start did not); 130 on Ctrl-C
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
