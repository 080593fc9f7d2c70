"""Checks and parsers of the open-loop (server, multistream) options: the offered rate, the
latency bound and its percentile, and the checks that involve several options (a server run
needs a rate, takes no iteration count, and its query queue must fit in memory).

They are the pieces ``_timing.options`` declares those options with, as ``_common.checks`` is for
the rest.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real
from inferclock._timing.loadgen import ARRIVALS

if TYPE_CHECKING:
    from inferclock._timing.options import RunOptions

#: Modes whose queries follow a schedule (open loop), and what they need.
OPEN_LOOP = ("server", "multistream")
#: A server run's schedule spans this many seconds unless ``duration`` or ``queries`` says.
SERVER_DURATION = 10.0
#: LoadGen's multi_stream_samples_per_query default.
SAMPLES_PER_QUERY = 8
#: A multistream run keeps at most this many queries (their ticks; memory), unless
#: max_samples says fewer.
MULTISTREAM_MAX_QUERIES = 1 << 20
#: Highest offered rate accepted (queries per second): beyond it the number is a typo.
MAX_QPS = 1e8


def _positive(name: str, value: Any, unit: str, hi: float, hi_text: str) -> float | None:
    """A finite number of ``unit`` in (0, hi], or None."""
    if value is None:
        return None
    if not is_real(value):
        raise ConfigTypeError(f"{name} must be a number of {unit}, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0 < v <= hi):
        raise ConfigError(
            f"{name} must be a finite number of {unit} > 0 (at most {hi_text}), got {value!r}"
        )
    return v


def rate(name: str, value: Any) -> float | None:
    """Queries per second: a finite number > 0, or None."""
    return _positive(name, value, "queries per second", MAX_QPS, f"{MAX_QPS:g}")


def bound_ms(name: str, value: Any) -> float | None:
    """A latency bound in milliseconds: finite and > 0, or None."""
    return _positive(name, value, "milliseconds", 3.6e6, "an hour")


def arrival(name: str, value: Any) -> str | None:
    """How queries arrive: one of ``_timing.loadgen.ARRIVALS``, or None (the mode's own)."""
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in ARRIVALS:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(ARRIVALS)}")
    return value.lower()


def open_percentile(name: str, value: Any) -> float:
    """A percentile strictly inside (0, 100): the share of queries the bound must hold."""
    if not is_real(value):
        raise ConfigTypeError(f"{name} must be a percentile in (0, 100) such as 99, got {value!r}")
    v = float(value)
    if not 0 < v < 100:
        raise ConfigError(f"{name} must be a percentile in (0, 100) such as 99, got {value!r}")
    return v


def parse_ms(text: str) -> float:
    """'15ms', '15', '0.015s' -> milliseconds."""
    t = text.strip().lower()
    scale = 1.0
    if t.endswith("ms"):
        t = t[:-2]
    elif t.endswith("us"):
        t, scale = t[:-2], 1e-3
    elif t.endswith("s"):
        t, scale = t[:-1], 1e3
    try:
        return float(t) * scale
    except ValueError:
        raise ConfigError(f"expected a latency like 15ms, 0.015s or 15, got {text!r}") from None


def parse_percentile(text: str) -> float:
    """'99', 'p99', '99.9' -> a percentile."""
    try:
        return float(text.strip().lower().removeprefix("p"))
    except ValueError:
        raise ConfigError(f"expected a percentile like 99, got {text!r}") from None


def parse_rate(text: str) -> float:
    """'200', '200qps' -> queries per second."""
    t = text.strip().lower().removesuffix("qps").removesuffix("/s")
    try:
        return float(t)
    except ValueError:
        raise ConfigError(f"expected queries per second like 200, got {text!r}") from None


def check_scenario(o: RunOptions) -> None:
    """The checks of the open-loop options that involve several options."""
    if o.mode not in OPEN_LOOP:
        for name in ("qps", "queries", "arrival", "latency_bound_ms", "samples_per_query"):
            if getattr(o, name) is not None:
                raise ConfigError(
                    f"{name} applies to mode 'server' or 'multistream', not {o.mode!r}"
                )
        for name in ("max_async_queries", "issuer_nice"):
            if getattr(o, name) != 0:
                raise ConfigError(
                    f"{name} applies to mode 'server' or 'multistream', not {o.mode!r}"
                )
        return
    if o.mode == "multistream":
        _check_multistream(o)
        return
    if o.samples_per_query is not None:
        raise ConfigError("samples_per_query applies to mode 'multistream', not 'server'")
    if o.qps is None:
        raise ConfigError(f"mode {o.mode!r} needs qps: the offered rate, queries per second")
    if o.iterations is not None:
        raise ConfigError(
            f"iterations does not apply to mode {o.mode!r}: its queries follow a schedule; "
            "give queries (a count) or duration (seconds)"
        )
    if o.warmup != "auto":
        raise ConfigError(
            f"warmup does not apply to mode {o.mode!r}: every infer request runs once, untimed, "
            "before the schedule starts"
        )
    _check_one_process(o)
    if o.queries is None and o.qps * schedule_seconds(o) < 1:
        raise ConfigError(
            f"qps x duration is {o.qps * schedule_seconds(o):.3g}: the schedule would hold no "
            "query on average; give a longer duration, a higher qps or queries"
        )
    n = schedule_queries(o)
    if n > o.max_samples:
        what = "queries" if o.queries is not None else "qps x duration"
        raise ConfigError(
            f"{what} asks for {n} queries, more than max_samples ({o.max_samples}): the query "
            "queue (40 bytes a query) is bounded by it; lower them or raise max_samples"
        )


def _check_one_process(o: RunOptions) -> None:
    if o.processes > 1:
        raise ConfigError(
            f"processes must be 1 in mode {o.mode!r}: a verdict belongs to one schedule "
            "(run the rate again for another process)"
        )


def _check_multistream(o: RunOptions) -> None:
    """MultiStream as LoadGen 6.0: no rate (each query waits for the previous one), no
    outstanding limit (one query at a time)."""
    for name, why in (
        ("qps", "each query is issued when the previous one completes (LoadGen 6.0), at no rate"),
        ("arrival", "each query is issued when the previous one completes (LoadGen 6.0)"),
    ):
        if getattr(o, name) is not None:
            raise ConfigError(f"{name} does not apply to multistream: {why}")
    if o.max_async_queries != 0:
        raise ConfigError(
            "max_async_queries does not apply to multistream: one query is outstanding at a time"
        )
    if o.iterations is not None:
        raise ConfigError(
            "iterations does not apply to mode 'multistream': give queries (LoadGen's minimum "
            "query count) or duration (its minimum duration, seconds)"
        )
    if o.warmup != "auto":
        raise ConfigError(
            "warmup does not apply to mode 'multistream': every infer request runs once, "
            "untimed, before the first query"
        )
    _check_one_process(o)
    spq = o.samples_per_query or SAMPLES_PER_QUERY
    if (o.queries or 1) * spq > o.max_samples:
        raise ConfigError(
            f"queries x samples_per_query asks for {(o.queries or 1) * spq} samples, more than "
            f"max_samples ({o.max_samples}); lower them or raise max_samples"
        )


def multistream_max_queries(o: RunOptions) -> int:
    """The most queries a multistream run keeps (then it stops, capped)."""
    spq = o.samples_per_query or SAMPLES_PER_QUERY
    return max(o.queries or 1, min(MULTISTREAM_MAX_QUERIES, o.max_samples // spq))


def schedule_seconds(o: RunOptions) -> float:
    """How long the schedule of an open-loop run lasts, about (seconds): its duration, or
    longer when ``queries`` asks for more than arrive in it (multistream: its duration, the
    query count's time unknown in advance)."""
    if o.mode == "multistream":
        return o.duration if o.duration is not None else 0.0 if o.queries else SERVER_DURATION
    if o.duration is None and o.queries is not None and o.qps is not None:
        return o.queries / o.qps
    duration = o.duration if o.duration is not None else SERVER_DURATION
    return max(duration, (o.queries or 0) / (o.qps or math.inf))


def schedule_queries(o: RunOptions) -> int:
    """About how many queries the schedule holds."""
    return max(o.queries or 0, math.ceil((o.qps or 0) * schedule_seconds(o)))
