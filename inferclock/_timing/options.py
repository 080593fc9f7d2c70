"""The one declaration of a run's options.

Each option is a field of :class:`RunOptions` declared once with its type, default, check,
help text, unit, command-line flag and result-row field (a sweep's own options are declared
the same way in ``_sweeps.options``). From it come: the checks and defaults of
``ic.run``/``ic.prepare``/``ic.measure`` (their keyword parameters are tested against it),
the sweep's pass-through options and grid axes, the ``run`` and ``sweep`` command-line flags
and help (``_cli.options``), and the result-row schema (``rows``), so an error row carries
every field a success row does.

Adding an option: one ``option(...)`` line here, plus its use where the run happens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from inferclock._common import checks as c, declare as _declare, intervals as _intervals, parsing
from inferclock._common.declare import Meta, Option, make, option
from inferclock._common.errors import ConfigError, PinningError
from inferclock._timing import load_checks as cl
from inferclock._timing.precision import PRECISIONS

__all__ = ["Meta", "Option", "RunOptions", "make", "option", "options"]

#: latency / throughput: closed loops; server / multistream: queries on a schedule (open loop).
MODES = ("latency", "throughput", *cl.OPEN_LOOP)
#: How percentiles are read from the samples (see ``_common.intervals.percentile``).
PERCENTILE_METHODS = _intervals.METHODS
HINTS = ("auto", "none", "latency", "throughput", "cumulative_throughput")

#: An adaptive run (no iterations/duration) stops after this long if its CI target is not met;
#: a cell timed in several processes shares it between them.
DEFAULT_MAX_TIME = 6.0
#: An adaptive run lasts at least this long.
DEFAULT_MIN_TIME = 0.2
#: What an isolated run may take at least before its worker is killed (start-up included).
BASE_TIMEOUT = 600.0
#: Longest a count or time warm-up may take when no max_time is given.
WARMUP_LIMIT = 60.0
#: Timed samples a run keeps at most by default (80 MB of int64 ticks); then it stops.
MAX_SAMPLES = 10_000_000
#: The adaptive stop needs at least this many timed samples before its CI may end a run.
MIN_SAMPLES = 30
#: A default (adaptive, no max_time given) budget grows past DEFAULT_MAX_TIME to reach
#: min_samples, up to this many seconds (stop reason "time_cap" when it still falls short);
#: shared by a cell's processes as DEFAULT_MAX_TIME is.
TIME_CAP = 60.0

GROUPS = {
    "run": "what to run",
    "stop": "warm-up and stopping",
    "pin": "pinning (a pinned run runs in a fresh process)",
    "config": "OpenVINO configuration",
    "inputs": "inputs",
    "process": "worker process",
    "stats": "statistics",
    "sweep": "sweep",
    "cluster": "many machines (Dask distributed)",
    "serve": "open loop (server, multistream)",
}


def _count(value: Any) -> int | None:
    return None if value is None else len(value)


def _listed(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, dict):
        return {k: _listed(v) for k, v in value.items()}
    return value


def _cpus_text(value: tuple[int, ...] | None) -> str | None:
    from inferclock._platform.topology import format_cpulist

    return None if value is None else format_cpulist(value)


@dataclass(frozen=True, eq=False)
class RunOptions:
    """Validated options of one run (construction checks every field; see ``ic.run``)."""

    device: str = option(
        "CPU", check=c.device, group="run", short="-d", axis="devices", positional=True,
        split=parsing.split_devices,
        help="OpenVINO device: CPU, GPU, GPU.1, AUTO, HETERO:FPGA,CPU, ...",
    )  # fmt: skip
    batch_size: int = option(
        1, check=c.integer(1, 1 << 20), group="run", short="-b", axis="batch_sizes",
        metavar="N", parse=parsing.parse_int, positional=True, help="samples per inference",
    )  # fmt: skip
    precision: str = option(
        "f32", check=c.choice(PRECISIONS), group="run", short="-p", axis="precisions",
        row="precision_requested", positional=True,
        help=f"inference precision: {', '.join(PRECISIONS)} (int8: NNCF quantization, cached)",
    )  # fmt: skip
    mode: str = option(
        "latency", check=c.choice(MODES), group="run", axis="modes", positional=True,
        help="latency: one sync request in a loop; throughput: async requests in flight; "
        "server: queries arrive at qps (MLPerf LoadGen's Server); multistream: a query of "
        "samples_per_query samples issued when the previous one completes (LoadGen 6.0)",
    )  # fmt: skip
    warmup: str | int | float = option(
        "auto", check=c.warmup, group="stop", metavar="W", parse=parsing.parse_warmup,
        positional=True, help="'auto' (until two windows agree), a count (20) or seconds (0.5s)",
    )  # fmt: skip
    iterations: int | None = option(
        None, check=c.integer(1, 10**12, optional=True), group="stop", metavar="N",
        parse=parsing.parse_int, positional=True, help="time exactly N inferences",
    )  # fmt: skip
    duration: float | None = option(
        None, check=c.seconds(optional=True), group="stop", metavar="S", unit="s",
        parse=parsing.parse_seconds, positional=True, help="time for S seconds",
    )  # fmt: skip
    target_ci: float = option(
        0.01, check=c.fraction, group="stop", metavar="F", parse=parsing.parse_fraction,
        positional=True,
        help="adaptive stop: the 95% CI of the median within F of it ('2%' or 0.02)",
    )  # fmt: skip
    socket: int | None = option(
        None, check=c.socket, group="pin", axis="sockets", metavar="N", parse=parsing.parse_socket,
        positional=True, help="pin to the CPUs of socket N ('none': unpinned)",
    )  # fmt: skip
    cpus: tuple[int, ...] | None = option(
        None, check=c.cpu_list, group="pin", metavar="LIST", row="cpus_requested",
        to_row=_cpus_text, positional=True, help="pin to these CPUs, e.g. 0-3,8",
    )  # fmt: skip
    streams: int | None = option(
        None, check=c.integer(1, 4096, optional=True), group="config", metavar="N",
        parse=parsing.parse_int, row="streams_requested", positional=True, help="NUM_STREAMS",
    )  # fmt: skip
    threads: int | None = option(
        None, check=c.integer(1, 4096, optional=True), group="config", metavar="N",
        parse=parsing.parse_int, row="threads_requested", positional=True,
        help="INFERENCE_NUM_THREADS",
    )  # fmt: skip
    requests: int | None = option(
        None, check=c.integer(1, 4096, optional=True), group="config", metavar="N",
        parse=parsing.parse_int, row="requests_requested", positional=True,
        help="async requests in throughput mode (default: the compiled model's optimum)",
    )  # fmt: skip
    shapes: dict[str, tuple[int, ...]] | None = option(
        None, check=c.shape_map, group="config", flag="--shape", metavar="NAME[dims]",
        parse=parsing.parse_shapes, cli="append", to_row=_listed, positional=True,
        help="an input's full shape, like benchmark_app -shape: image[1,3,320,320] (repeatable)",
    )  # fmt: skip
    inputs: tuple[dict[str, Any], ...] | None = option(
        None, check=c.input_sets, group="inputs", metavar="FILE.npz", parse=parsing.load_npz,
        cli="append", row="user_inputs", to_row=_count, positional=True,
        help="your input arrays, {input name: array} per set, rotated (CLI: one .npz per set, "
        "repeatable); the row records how many sets",
    )  # fmt: skip
    seed: int = option(
        0, check=c.integer(0, (1 << 63) - 1), group="inputs", metavar="N", parse=parsing.parse_int,
        positional=True, help="seed of the random inputs, int8 calibration and sweep order",
    )  # fmt: skip
    min_time: float = option(
        DEFAULT_MIN_TIME, check=c.seconds(zero=True), group="stop", metavar="S", unit="s",
        parse=parsing.parse_seconds, help="adaptive stop: at least S seconds",
    )  # fmt: skip
    max_time: float | None = option(
        None, check=c.seconds(optional=True), group="stop", metavar="S", unit="s",
        parse=parsing.parse_seconds,
        help=f"at most S seconds of timing, and of warm-up (default: {DEFAULT_MAX_TIME:g} s "
        f"when adaptive, shared by a cell's processes; warm-up {WARMUP_LIMIT:g} s)",
    )  # fmt: skip
    max_samples: int = option(
        MAX_SAMPLES, check=c.integer(100, 10**9), group="stop", metavar="N",
        parse=parsing.parse_int,
        help="stop after N timed samples (stop reason 'max_samples'): bounds the memory of "
        "runs of very fast calls; the warm-up keeps at most as many",
    )  # fmt: skip
    min_samples: int = option(
        MIN_SAMPLES, check=c.integer(2, 10**9), group="stop", metavar="N", parse=parsing.parse_int,
        help="adaptive stop: at least N timed samples before the CI may end the run (the "
        f"default time budget grows for them, up to {TIME_CAP:g} s per cell)",
    )  # fmt: skip
    percentiles: tuple[float, ...] = option(
        (50.0, 90.0, 95.0, 99.0), check=c.percentile_list, group="stats", metavar="LIST",
        parse=parsing.parse_percentiles, to_row=list,
        help="latency percentiles to report, each with its distribution-free 95% interval",
    )  # fmt: skip
    percentile_method: str = option(
        "linear", check=c.choice(PERCENTILE_METHODS), group="stats", metavar="METHOD",
        help="linear: numpy's default (interpolated); loadgen: the order statistic MLPerf "
        "LoadGen reports",
    )  # fmt: skip
    processes: int = option(
        1, check=c.integer(1, 1000), group="process", metavar="N", parse=parsing.parse_int,
        show_default=False,
        help="fresh worker processes for the cell: their spread enters its interval, and a "
        "cell whose processes disagree is flagged multimodal (default: 1 for run, 3 for sweep)",
    )  # fmt: skip
    hint: str = option(
        "auto", check=c.choice(HINTS, lower=True), group="config",
        help=f"PERFORMANCE_HINT: {', '.join(HINTS)}; auto = LATENCY or THROUGHPUT by mode",
    )  # fmt: skip
    strict: bool = option(
        True, check=c.boolean(), group="config", flag="--no-strict", cli="false",
        help="accept an executed precision other than the requested one (default: error)",
    )  # fmt: skip
    properties: dict[str, str] | None = option(
        None, check=c.string_map(keys="property name"), group="config", flag="--property",
        metavar="KEY=VALUE", parse=parsing.parse_key_value, cli="append",
        help="any other compile property, passed to OpenVINO as is (repeatable)",
    )  # fmt: skip
    cache_dir: str | None = option(
        None, check=c.path_or_none, group="config", metavar="DIR", to_row=lambda v: v or None,
        help="OpenVINO's model cache directory (sweep default: <output stem>.ovcache/; "
        "'' turns it off)",
    )  # fmt: skip
    input_sets: int = option(
        4, check=c.integer(1, 1024), group="inputs", metavar="N", parse=parsing.parse_int,
        help="seeded random input sets rotated over the iterations",
    )  # fmt: skip
    calibration: tuple[Any, ...] | None = option(
        None, check=c.calibration, group="inputs", metavar="FILE.npz", parse=parsing.load_npz,
        cli="append", to_row=_count,
        help="int8 calibration inputs (CLI: one .npz per item, repeatable; default: seeded "
        "random); the row records how many",
    )  # fmt: skip
    isolate: bool | None = option(
        None, check=c.boolean(optional=True), group="process", cli="true", show_default=False,
        help="run in a fresh worker process (default: only when pinned or given env)",
    )  # fmt: skip
    timeout: float | None = option(
        None, check=c.seconds(optional=True, inf=True), group="process", metavar="S", unit="s",
        parse=parsing.parse_seconds,
        help=f"kill a worker run after S seconds, start-up included: an error (default "
        f"{BASE_TIMEOUT:g} s plus twice the planned timing; inf: no limit)",
    )  # fmt: skip
    env: dict[str, str] | None = option(
        None, check=c.string_map(keys="environment variable name", env=True), group="process",
        metavar="KEY=VALUE", parse=parsing.parse_key_value, cli="append", row="env_set",
        help="set an environment variable in the worker process (OMP_*, KMP_*, TBB_*, OV_*, "
        "MALLOC_*...; runs isolated; repeatable)",
    )  # fmt: skip

    qps: float | None = option(
        None, check=cl.rate, group="serve", axis="qps", metavar="Q", parse=cl.parse_rate,
        help="server: the offered rate, queries per second (sweep: a list)",
    )  # fmt: skip
    queries: int | None = option(
        None, check=c.integer(1, 10**12, optional=True), group="serve", metavar="N",
        parse=parsing.parse_int,
        help=f"server / multistream: schedule at least N queries (LoadGen's minimum query "
        f"count; with duration, whichever holds more; default: those due within duration, "
        f"{cl.SERVER_DURATION:g} s unless given)",
    )  # fmt: skip
    arrival: str | None = option(
        None, check=cl.arrival, group="serve",
        help="server: poisson (exponential gaps, the default) or constant",
    )  # fmt: skip
    latency_bound_ms: float | None = option(
        None, check=cl.bound_ms, group="serve", flag="--latency-bound", metavar="T",
        parse=cl.parse_ms,
        help="server / multistream: the latency bound (15ms, 0.015s); gives the run a verdict, "
        "VALID or INVALID, as LoadGen's",
    )  # fmt: skip
    percentile: float = option(
        99.0, check=cl.open_percentile, group="serve", metavar="P", parse=cl.parse_percentile,
        help="server / multistream: the percentile of due-time latency the bound holds",
    )  # fmt: skip
    samples_per_query: int | None = option(
        None, check=c.integer(1, 1 << 16, optional=True), group="serve", metavar="N",
        parse=parsing.parse_int,
        help=f"multistream: samples per query, one infer request each (default "
        f"{cl.SAMPLES_PER_QUERY}, LoadGen's)",
    )  # fmt: skip
    max_async_queries: int = option(
        0, check=c.integer(0, 10**12), group="serve", metavar="N", parse=parsing.parse_int,
        help="server: stop taking up queries once more than N are outstanding, as LoadGen's "
        "server_max_async_queries (the run is INVALID and covers a prefix); 0: no limit",
    )  # fmt: skip
    issuer_nice: int = option(
        0, check=c.integer(-20, 0), group="serve", metavar="N", parse=parsing.parse_int,
        help="server / multistream: the issuer thread asks for nice N (< 0, needs root or "
        "CAP_SYS_NICE); 0 leaves its priority as the process's",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for opt in options(type(self)):
            object.__setattr__(self, opt.name, opt.meta.check(opt.name, getattr(self, opt.name)))
        cl.check_scenario(self)
        check_stopping(
            iterations=self.iterations, duration=self.duration, min_time=self.min_time,
            max_time=self.max_time, max_samples=self.max_samples,
        )  # fmt: skip
        if self.socket is not None and self.cpus is not None:
            raise PinningError("give socket or cpus, not both")
        if self.isolate is False and self.needs_isolation:
            raise PinningError(
                "a pinned run, one with env= or one of several processes must run in a fresh "
                "process (OpenVINO reads the CPU mask and its environment once): leave isolate "
                "unset"
            )

    @property
    def pinned(self) -> bool:
        return self.socket is not None or self.cpus is not None

    @property
    def needs_isolation(self) -> bool:
        return self.pinned or bool(self.env) or self.processes > 1

    @property
    def isolated(self) -> bool:
        return bool(self.isolate) or self.needs_isolation

    def effective_timeout(self) -> float:
        """Seconds an isolated run may take before its worker is killed."""
        if self.timeout is not None:
            return self.timeout
        planned = self.duration or self.max_time or DEFAULT_MAX_TIME
        if self.mode in cl.OPEN_LOOP:
            planned = cl.schedule_seconds(self)
        if isinstance(self.warmup, float):
            planned += self.warmup
        return BASE_TIMEOUT + 2 * planned

    def to_row(self) -> dict[str, Any]:
        """The requested options as result-row fields (JSON-ready)."""
        return {o.row: o.row_value(getattr(self, o.name)) for o in options(type(self))}

    def replace(self, **changes: Any) -> RunOptions:
        return dataclasses.replace(self, **changes)


def check_stopping(
    *,
    iterations: int | None,
    duration: float | None,
    min_time: float,
    max_time: float | None,
    max_samples: int,
) -> None:
    """The stopping options' checks that involve two of them (``ic.measure`` shares them)."""
    if iterations is not None and duration is not None:
        raise ConfigError("give iterations or duration, not both")
    if max_time is not None and max_time < min_time:
        raise ConfigError(f"max_time ({max_time:g}) must be >= min_time ({min_time:g})")
    if iterations is not None and iterations > max_samples:
        raise ConfigError(
            f"iterations ({iterations}) exceeds max_samples ({max_samples}): raise max_samples "
            "to keep that many samples"
        )


def options(cls: type[Any] = RunOptions) -> Iterator[Option]:
    """The declared options of ``cls`` (default: the run options) in declaration order."""
    return _declare.options(cls)


def option_names(cls: type[Any] = RunOptions) -> tuple[str, ...]:
    return _declare.option_names(cls)


def axes() -> dict[str, Option]:
    """Sweep axis name -> its option ("batch_sizes" -> batch_size)."""
    return {o.meta.axis: o for o in options() if o.meta.axis}


def check_value(name: str, value: Any) -> Any:
    """One run option checked as its declaration says (for ``measure``'s subset)."""
    for o in options():
        if o.name == name:
            return o.meta.check(name, value)
    raise ConfigError(f"unknown option {name!r}")  # pragma: no cover - a programming error
