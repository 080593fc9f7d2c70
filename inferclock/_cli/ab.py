"""The ``inferclock ab`` command: ``ic.ab`` of two models, option sets, environments or
interpreters, in alternating fresh processes; its verdict, and compare's gate
(``--fail-above``, exit 1)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any, NoReturn

from inferclock._cli.common import add_plugin_flag, gate_thresholds, register_plugins
from inferclock._cli.options import add_options, given
from inferclock._common.errors import ConfigError

EPILOG = """\
examples:
  inferclock ab model.xml model.xml                      # A/A: the interval should hold 1.0
  inferclock ab model.xml model-v2.xml --fail-above 5%   # exit 1 when v2 is slower beyond 5%
  inferclock ab resnet50 --b-args="-p bf16"              # one model, two option sets
  inferclock ab model.xml --b-args="--env OMP_WAIT_POLICY=PASSIVE"   # two environments
  inferclock ab model.xml --a-python old-venv/bin/python # an older install against this one

how it runs: pair i runs A then B when i is even, B then A when odd (ABBA), each measurement
in its own fresh process (--duration 0.5 s of timing unless a stopping flag is given). The
interval is Student's t over the pairs' log ratios B/A, so drift and speed modes that last
longer than a pair cancel. By default it stops after at least 4 pairs, at an even count,
when the 95% interval is within +-2% (--target) of the ratio, or at --max-pairs (50) or
--max-total-time (120 s); --pairs N runs exactly N pairs. One line per pair goes to stderr.

exit status: 0; 1 when the --fail-above gate fails (slower beyond T, inconclusive past T
unless --allow-inconclusive, or no pair completed); 2 on bad input (checked before anything
runs); 130 when interrupted (the pairs completed are judged and printed first).
"""


def _side_parser(flag: str) -> argparse.ArgumentParser:
    """Parses one side's run flags (``--a-args``) as ``inferclock run`` does."""
    p = argparse.ArgumentParser(prog=f"inferclock ab {flag}", add_help=False)
    add_options(p)

    def refuse(message: str) -> NoReturn:
        raise ConfigError(f"{flag}: {message} (it takes `inferclock run`'s flags)")

    p.error = refuse  # type: ignore[method-assign]
    return p


def side_options(flag: str, text: str | None) -> dict[str, Any] | None:
    """The run options one side's ``--a-args`` / ``--b-args`` text gives."""
    if text is None:
        return None
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise ConfigError(f"{flag} {text!r}: {e}") from None
    return given(_side_parser(flag).parse_args(words))


def run(args: argparse.Namespace) -> int:
    """Run the A/B and print its verdict; exit 1 when the --fail-above gate fails."""
    from inferclock._analysis.table import check_output_path
    from inferclock._common.parsing import parse_fraction
    from inferclock._workers.ab import ab

    # Every argument is checked before anything runs.
    fail_above, threshold = gate_thresholds(args)
    if args.allow_inconclusive and fail_above is None:
        raise ConfigError("--allow-inconclusive only applies to the gate: give --fail-above too")
    target = None
    if args.target is not None:
        try:
            target = parse_fraction(args.target)
        except ConfigError:
            raise ConfigError(
                f"--target must be a percentage like 2% or a fraction like 0.02, got "
                f"{args.target!r}"
            ) from None
    out = check_output_path(args.json, "--json file") if args.json else None
    register_plugins(args.plugin)
    result = ab(
        args.a, args.b, args.pairs, target=target, max_pairs=args.max_pairs,
        max_total_time=args.max_total_time, threshold=threshold, metric=args.metric,
        allow_inconclusive=args.allow_inconclusive,
        a_options=side_options("--a-args", args.a_args),
        b_options=side_options("--b-args", args.b_args),
        a_python=args.a_python, b_python=args.b_python, progress=True, **given(args),
    )  # fmt: skip
    print(result.summary())
    if out is not None:
        try:
            out.write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--json file {args.json!r}: cannot write it: {e}") from None
    if result.interrupted:
        return 130
    if fail_above is None:
        return 0
    print(
        f"{'OK' if result.passed else 'FAIL'}: {result.state} ({result.outcome})", file=sys.stderr
    )
    return result.exit_code


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _seconds(text: str) -> float:
    from inferclock._common.parsing import parse_seconds

    try:
        return parse_seconds(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "ab",
        help="is B faster than A? both in alternating fresh processes (ABBA), a paired ratio",
        description="Time A and B in alternating fresh processes and give the ratio B/A of "
        "the metric (the median latency, or throughput in throughput mode) with a 95% interval "
        "from the pairs, and compare's state: slower / faster (the whole interval beyond the "
        "threshold), same (within it) or inconclusive. A and B may be two models, one model "
        'with two option sets (--a-args/--b-args), two environments (--b-args="--env K=V") '
        "or two Python interpreters (--a-python/--b-python: virtual environments holding two "
        "versions of inferclock or OpenVINO). The run flags below apply to both sides.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "a", metavar="A", help=f"model of side A: a file OpenVINO reads or a built-in ({models})"
    )
    p.add_argument("b", metavar="B", nargs="?", help="model of side B (default: A's)")
    ab_ = p.add_argument_group("the comparison")
    ab_.add_argument("--pairs", type=_count, metavar="N", help="run exactly N pairs (>= 2)")
    ab_.add_argument(
        "--target", metavar="T",
        help="adaptive stop: the 95%% interval within +-T of the ratio, '2%%' or 0.02 "
        "(default 2%%)",
    )  # fmt: skip
    ab_.add_argument(
        "--max-pairs", type=_count, metavar="N", help="adaptive stop: at most N pairs (default 50)"
    )
    ab_.add_argument(
        "--max-total-time", type=_seconds, metavar="S",
        help="seconds for the whole comparison (default 120 with the adaptive stop); a pair "
        "that would end past it is not started. (--max-time is each run's own.)",
    )  # fmt: skip
    ab_.add_argument("--threshold", metavar="T", help="the verdict's threshold (default 5%%)")
    ab_.add_argument(
        "--fail-above", metavar="T",
        help="gate: exit 1 unless B is same, faster or not worse than T >= 0 ('5%%')",
    )  # fmt: skip
    ab_.add_argument(
        "--allow-inconclusive", action="store_true",
        help="with --fail-above: an interval reaching past T does not fail the gate",
    )  # fmt: skip
    ab_.add_argument(
        "--metric", default="auto", metavar="M",
        help="auto (throughput in throughput mode, else the median), median, throughput, or a "
        "reported percentile such as p99",
    )  # fmt: skip
    for side in ("a", "b"):
        ab_.add_argument(
            f"--{side}-args", metavar="FLAGS",
            help=f"run flags for side {side.upper()} only, over the common ones, as one string "
            f"joined with '=' (it starts with a dash): --{side}-args=\"-p bf16 --threads 1\"",
        )  # fmt: skip
        ab_.add_argument(
            f"--{side}-python", metavar="PYTHON",
            help=f"run side {side.upper()} with this interpreter (inferclock installed there)",
        )  # fmt: skip
    ab_.add_argument("--json", metavar="OUT", help="also write the result (every pair) as JSON")
    add_plugin_flag(p)
    add_options(p, skip=("processes",))
    usage_error = p.error

    def explained(message: str) -> NoReturn:
        # argparse reads `--b-args "-p bf16"` or `--fail-above -5%` as two options.
        for flag in ("--a-args", "--b-args", "--fail-above", "--threshold", "--target"):
            if message == f"argument {flag}: expected one argument":
                message += f" (a value that starts with a dash needs '=': {flag}=VALUE)"
        usage_error(message)

    p.error = explained  # type: ignore[method-assign]
