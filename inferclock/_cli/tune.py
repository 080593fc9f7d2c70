"""The ``inferclock tune`` command: ``ic.tune`` from the command line. The space's axes take
comma-separated lists (``--streams 1,2 -b 1,8``), each value parsed as ``inferclock run``'s
flag of that option; tune's own flags are built from its declaration
(``_search.options.TuneOptions``), every other option is ``inferclock run``'s, built from the
run options' (``_cli.options``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from inferclock._cli.options import add_options, given, parsed_type
from inferclock._common.declare import declared, option_names
from inferclock._common.errors import ConfigError
from inferclock._search.options import DEFAULT_PROCESSES, TuneOptions
from inferclock._search.tune_space import AXES
from inferclock._timing.options import RunOptions

_PROCS, _MOST = DEFAULT_PROCESSES, declared(TuneOptions, "max_points").default
EPILOG = f"""\
Each point runs in fresh worker processes (--processes, default {_PROCS}), and so does the
baseline, OpenVINO's own THROUGHPUT hint, before the first point and after the last. A
space of at most --max-points points (default {_MOST}) is measured whole; a larger one by
coordinate descent from the hint's own choice. Every run is a row of the results file; run
the same command again to measure only what is missing.

exit status: 0; 1 when no point could be measured; 2 on bad input (checked before any run).

examples:
  inferclock tune model.xml --streams 1,2,4 --requests 2,4,8 --max-time 2
  inferclock tune model.xml --streams 1,2 --threads 1,2 -b 1,8 -o tune.jsonl
  inferclock tune model.xml --objective peak_qps --latency-bound 15ms --streams 1,2
"""

#: Run options tune sets itself: their flags are refused with a reason, not listed.
_REFUSED = {
    "mode": "tune runs throughput mode (objective throughput) or server runs (peak_qps)",
    "hint": "tune sets the hint: THROUGHPUT for the baseline, none when a point sets "
    "streams or threads",
    "qps": "the peak_qps objective searches the rate itself",
}

#: The space's flags (one per axis, named as ``run``'s option).
_SPACE_HELP = {
    "streams": "NUM_STREAMS values to try (sets the hint to none)",
    "requests": "numbers of async infer requests to try",
    "threads": "INFERENCE_NUM_THREADS values to try (sets the hint to none)",
    "batch_size": "batch sizes to try (throughput is in samples/s)",
}


class _Refused(argparse.Action):
    def __init__(self, *args: Any, reason: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason = reason

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        raise ConfigError(f"tune takes no {option_string}: {self.reason}")


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
    )
    p.add_argument(
        "model", metavar="MODEL", help=f"model file OpenVINO reads or built-in name ({models})"
    )
    # run's flags, but the space's axes, tune's own options and those it sets itself
    add_options(p, skip={*AXES, *option_names(TuneOptions), *_REFUSED})
    for name, reason in _REFUSED.items():
        p.add_argument(
            declared(RunOptions, name).flag, action=_Refused, reason=reason,
            default=argparse.SUPPRESS, help=argparse.SUPPRESS,
        )  # fmt: skip
    space = p.add_argument_group(
        "the space (comma-separated values, repeatable; default: streams 1, 2, 4, ... up to "
        "the CPUs, requests up to twice that)"
    )
    for axis in AXES:
        opt, text = declared(RunOptions, axis), _SPACE_HELP[axis]
        flags = [f for f in (opt.meta.short, opt.flag) if f]
        parse = parsed_type(lambda t, o=opt: [o.meta.parse(v) for v in o.meta.split(t)], flags[-1])
        space.add_argument(
            *flags, dest=f"space_{axis}", action="extend", type=parse, metavar="LIST",
            default=argparse.SUPPRESS, help=text,
        )  # fmt: skip
    add_options(p, TuneOptions)


def run(args: argparse.Namespace) -> int:
    """Run the tune, print its summary; 1 when no point was measured."""
    from inferclock._search.tune import tune
    from inferclock._sweeps.sweep import SweepInterrupted

    run_options = given(args, skip=option_names(TuneOptions))  # --processes is tune's own
    space = {a: getattr(args, f"space_{a}") for a in AXES if hasattr(args, f"space_{a}")}
    try:
        result = tune(args.model, space=space or None, **given(args, TuneOptions), **run_options)
    except SweepInterrupted as e:
        print(f"\n{e.hint}", file=sys.stderr)
        return 143 if e.terminated else 130
    print(result.summary())
    return 0 if result.best is not None else 1
