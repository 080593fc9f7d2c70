"""The declarations of a peak search's and a tune's own options (``ic.find_peak_qps``,
``ic.tune``): each option once, with its type, default, check, help text, unit and
command-line flag. The functions' keyword defaults are tested against these, their
arguments checked by them, and the ``peak`` and ``tune`` commands' flags and help built
from them (``_cli.options``). The run options both pass on are ``_timing.options.RunOptions``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferclock._common import checks as c, declare as _declare, parsing
from inferclock._common.declare import option
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real
from inferclock._search.peak_rules import DEFAULT_DECIMALS, DEFAULT_TOLERANCE, RULES
from inferclock._timing import load_checks as cl
from inferclock._timing.options import RunOptions

OBJECTIVES = ("throughput", "peak_qps")
#: The space is measured whole up to this many points (``max_points``).
DEFAULT_MAX_POINTS = 24
#: Worker processes per point (objective "throughput").
DEFAULT_PROCESSES = 3
#: Without ``start_qps``, a search by the verdict rule starts at this share of the measured
#: capacity.
START_SHARE = 0.8
#: ... and one by LoadGen's rule at this share: its start must keep the bound, and doubling
#: from it costs one step more at most.
LOADGEN_START_SHARE = 0.5
#: A peak search's total time (seconds): halving a rate doubles a step's length (at least
#: ``queries`` queries each), so an unreachable bound would otherwise run for days.
DEFAULT_TIME_BUDGET = 900.0
#: The longest step a peak search starts (seconds).
DEFAULT_MAX_STEP_TIME = 180.0


def results_file(name: str, value: Any) -> str:
    """A results file path (str or os.PathLike)."""
    if value is None:
        raise ConfigTypeError(f"{name} must be a results file path, got None")
    path = c.path_or_none(name, value)
    assert path is not None
    return path


def open_fraction(name: str, value: Any) -> float:
    """A fraction strictly inside (0, 1)."""
    if not is_real(value):
        raise ConfigTypeError(f"{name} must be a fraction in (0, 1) such as 0.02, got {value!r}")
    v = float(value)
    if not 0 < v < 1:
        raise ConfigError(f"{name} must be a fraction in (0, 1) such as 0.02, got {value!r}")
    return v


def rule(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in RULES:
        raise ConfigError(f"{name} must be one of {', '.join(RULES)}; got {value!r}")
    return value


def _tolerance_shown(value: float | None) -> str:
    return f"{_declare.percent(DEFAULT_TOLERANCE)} (rule verdict)" if value is None else str(value)


def _decimals_shown(value: int | None) -> str:
    return f"{DEFAULT_DECIMALS} (rule loadgen)" if value is None else str(value)


def objective(name: str, value: Any) -> str:
    if not isinstance(value, str) or value not in OBJECTIVES:
        raise ConfigError(f"{name} must be one of {', '.join(OBJECTIVES)}; got {value!r}")
    return value


_QUIET = "no progress display"


@dataclass(frozen=True)
class PeakOptions:
    """``ic.find_peak_qps``'s own options (the bound, percentile, queries and the rest are run
    options)."""

    rule: str = option(
        "loadgen", check=rule, group="", metavar="RULE",
        help="loadgen: MLPerf LoadGen's FindPeakPerformance (a start within the bound, x2 "
        "until a step is not, bisection to --qps-decimals; each step judged by its percentile "
        "alone); verdict: each step judged by its full verdict (early stopping included), "
        "bisection to --tolerance",
    )  # fmt: skip
    out: str = option(
        "peak.jsonl", check=results_file, group="", short="-o", flag="--output",
        metavar="FILE", help="results file, JSON Lines: one row per step",
    )  # fmt: skip
    start_qps: float | None = option(
        None, check=cl.rate, group="", metavar="Q", parse=cl.parse_rate, show_default=False,
        help=f"the first rate tried (default: {LOADGEN_START_SHARE:g} (rule loadgen) or "
        f"{START_SHARE:g} (rule verdict) x the capacity a short throughput run measures)",
    )  # fmt: skip
    qps_decimals: int | None = option(
        None, check=_declare.or_none(c.integer(0, 6)), group="", metavar="N",
        parse=parsing.parse_int, show=_decimals_shown,
        help="rule loadgen: stop when the bracket no longer splits at N decimal places of "
        f"qps (LoadGen's server_find_peak_qps_decimals_of_precision; default {DEFAULT_DECIMALS})",
    )  # fmt: skip
    tolerance: float | None = option(
        None, check=_declare.or_none(open_fraction), group="", metavar="F",
        parse=parsing.parse_fraction, show=_tolerance_shown,
        help="rule verdict: stop when the bracket is within F of its lower end (default "
        f"{_declare.percent(DEFAULT_TOLERANCE)})",
    )  # fmt: skip
    max_steps: int = option(
        24, check=c.integer(1, 1000), group="", metavar="N", parse=parsing.parse_int,
        help="at most N server runs",
    )  # fmt: skip
    min_duration: float = option(
        2.0, check=c.seconds(), group="", metavar="S", unit="s", parse=parsing.parse_seconds,
        show=_declare.number, help="each step's schedule lasts at least S seconds",
    )  # fmt: skip
    time_budget: float = option(
        DEFAULT_TIME_BUDGET, check=c.seconds(inf=True), group="", metavar="S", unit="s",
        parse=parsing.parse_seconds, show=_declare.number,
        help="the search starts no step that would end more than S seconds after it began "
        "(then it stops with the steps done; inf: no budget)",
    )  # fmt: skip
    max_step_time: float = option(
        DEFAULT_MAX_STEP_TIME, check=c.seconds(inf=True), group="", metavar="S", unit="s",
        parse=parsing.parse_seconds, show=_declare.number,
        help="the search starts no step whose schedule (--queries at its rate, at least "
        "--min-duration) lasts over S seconds",
    )  # fmt: skip
    quiet: bool | None = option(
        None, check=c.boolean(optional=True), group="", cli="true", show_default=False,
        help=_QUIET,
    )  # fmt: skip

    def __post_init__(self) -> None:
        _declare.check_fields(self)
        if self.rule == "loadgen" and self.tolerance is not None:
            raise ConfigError(
                "tolerance is the verdict rule's stop (rule='verdict'); rule 'loadgen' stops at "
                "qps_decimals"
            )
        if self.rule == "verdict" and self.qps_decimals is not None:
            raise ConfigError(
                "qps_decimals is the loadgen rule's stop (rule='loadgen'); rule 'verdict' stops "
                "at tolerance"
            )


def _passed_on(cls: type[Any], name: str, help: str) -> Any:
    """A tune option handed on as is (None: the receiver's default, named in the help)."""
    o = _declare.declared(cls, name)
    return option(
        None, check=_declare.or_none(o.meta.check), group="tune", metavar=o.meta.metavar,
        parse=o.meta.parse, show_default=False, help=f"{help} (default {_declare.shown(o)})",
    )  # fmt: skip


@dataclass(frozen=True)
class TuneOptions:
    """``ic.tune``'s own options (the space is checked by ``tune_space.check_space``; the bound
    and every other option are run options)."""

    objective: str = option(
        "throughput", check=objective, group="tune", metavar="NAME",
        help=f"what to maximize: {' or '.join(OBJECTIVES)}",
    )  # fmt: skip
    out: str = option(
        "tune.jsonl", check=results_file, group="tune", short="-o", flag="--output",
        metavar="FILE", help="results file, JSON Lines: one row per run",
    )  # fmt: skip
    max_points: int = option(
        DEFAULT_MAX_POINTS, check=c.integer(1, 10**6), group="tune", metavar="N",
        parse=parsing.parse_int,
        help="measure the whole space up to N points, else a local search of at most N",
    )  # fmt: skip
    processes: int | None = option(
        None, check=_declare.or_none(_declare.declared(RunOptions, "processes").meta.check),
        group="tune", metavar="N", parse=parsing.parse_int, show_default=False,
        help=f"fresh worker processes per point (throughput; default {DEFAULT_PROCESSES})",
    )  # fmt: skip
    tolerance: float | None = _passed_on(
        PeakOptions,
        "tolerance",
        "peak_qps: search by the full verdict (rule verdict, not LoadGen's), each search "
        "stopping when its bracket is within F",
    )
    max_steps: int | None = _passed_on(
        PeakOptions, "max_steps", "peak_qps: at most N server runs per search"
    )
    quiet: bool | None = option(
        None, check=c.boolean(optional=True), group="tune", cli="true", show_default=False,
        help=_QUIET,
    )  # fmt: skip

    def __post_init__(self) -> None:
        _declare.check_fields(self)
