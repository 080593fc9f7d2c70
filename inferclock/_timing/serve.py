"""Open-loop runs on the C++ engine: MLPerf LoadGen's Server scenario (queries due on a seeded
schedule, queued FIFO while every infer request is busy) and what it measured: every query's
four ticks turned into latencies, the queue over time, the verdict (``ServerStats``, which
MultiStream, in ``_timing.multistream``, fills too).

Latency *from the due time* (completed - due) is what a user of the service sees: the
queueing delay is in it. Latency *from the issue* (completed - started, from ``start_async``
on a free request) is what a closed-loop tool would report: it stays near the service time
however far behind the schedule the server falls (coordinated omission).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _core, stats
from inferclock._common import intervals as _intervals
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._platform.clock import clock
from inferclock._timing import loadgen as _loadgen
from inferclock._timing.load_checks import SERVER_DURATION, schedule_queries
from inferclock._timing.options import RunOptions

#: Bins of the queue-depth series a result keeps.
DEPTH_BINS = 100
#: The issuer sleeps until this long before each due time, then spins on the clock.
SPIN_NS = 50e3


@dataclass(frozen=True)
class ServerStats:
    """What an open-loop run measured beyond its due-time latencies (``RunResult.latency``)."""

    scenario: str  # "server" or "multistream"
    qps: float  # asked
    arrival: str
    seed: int
    scheduled: int  # queries in the schedule
    taken: int  # taken up by the issuer at their due time
    completed: int
    skipped: int  # queries due while every request was busy and dropped (skip policy; 0 now)
    schedule_s: float  # the schedule's span: first to last due time
    elapsed_s: float  # start to the last completion
    offered_qps: float  # queries taken up per second of the schedule, on the calibrated clock
    achieved_qps: float  # completions per second from the start to the last completion
    issue_latency: stats.Stats  # completed - started
    issue_delay_ns: dict[str, float]  # issued - due: the issuer's own lateness (p50, p99, max)
    queue_wait_ns: dict[str, float]  # started - issued: waiting for a free request
    max_queue_depth: int  # queries taken up and not started, at most
    max_outstanding: int  # taken up and not completed, at most
    queue_depth: tuple[tuple[float, int], ...]  # (seconds since start, deepest queue in bin)
    outstanding_limit: int  # max_async_queries (LoadGen's server_max_async_queries; 0: none)
    runaway: bool  # max_async_queries cut the schedule: `taken` of `scheduled` ran
    issuer_nice: int  # the issuer thread's nice value, read back while it ran
    latency_bound_ms: float | None
    percentile: float
    percentile_latency_ns: float | None  # due-time latency at `percentile` (LoadGen's order)
    overlatency: int | None  # queries over the bound (skipped ones count)
    early_stopping_needed: int | None  # queries early stopping needs with that many over
    verdict: str | None  # "VALID", "INVALID", or None without a bound
    verdict_reason: str
    samples_per_query: int | None = None  # multistream
    capped: bool = False  # multistream: max_samples / samples_per_query queries came first

    @property
    def prefix_note(self) -> str | None:
        """What a run cut by max_async_queries covers (None when it was not cut)."""
        if not self.runaway:
            return None
        return (
            f"max_async_queries: more than {self.outstanding_limit} queries outstanding; the "
            f"issuer stopped taking queries up, so the latencies and percentiles cover only the "
            f"first {self.taken} of {self.scheduled} scheduled queries"
        )

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "issue_latency"}
        il = self.issue_latency
        d["issue_latency_ns"] = {"p50": il.median_ns, "p99": il.p99_ns, "max": il.max_ns}
        d["queue_depth"] = [list(x) for x in self.queue_depth]
        return d


def _quantiles(ns: npt.NDArray[np.float64]) -> dict[str, float]:
    if ns.size == 0:
        return {"p50": math.nan, "p99": math.nan, "max": math.nan}
    p50, p99 = np.percentile(ns, [50, 99])
    return {"p50": float(p50), "p99": float(p99), "max": float(ns.max())}


def _depth_series(
    taken: npt.NDArray[np.int64], later: npt.NDArray[np.int64], span: int
) -> tuple[int, tuple[tuple[float, int], ...]]:
    """Queries taken up and not yet `later` (started), seen at each take-up (ticks since the
    start): the maximum and a binned series (seconds, deepest in bin)."""
    if taken.size == 0:
        return 0, ()
    ends = np.sort(later[later > 0])
    # Those taken up before it (itself not counted) that had not started when it came.
    depth = np.arange(taken.size) - np.searchsorted(ends, taken, side="right")
    bins = np.minimum((taken * DEPTH_BINS) // max(span, 1), DEPTH_BINS - 1)
    deepest = np.zeros(DEPTH_BINS, np.int64)
    np.maximum.at(deepest, bins, depth)
    hz = clock().frequency_hz
    series = tuple((float(b * span / DEPTH_BINS / hz), int(deepest[b])) for b in np.unique(bins))
    return int(depth.max()), series


#: Bytes a query takes: its due offset and its four ticks, plus the schedule's draw.
QUERY_BYTES = 48


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_queue(o: RunOptions) -> int:
    """The number of queries the schedule holds, about; refused before anything is allocated
    when their queue would not fit in the memory available now."""
    n = schedule_queries(o)
    avail = _available_bytes()
    if avail is not None and n * QUERY_BYTES > avail // 2:
        what = "queries" if o.queries is not None else "qps x duration"
        raise ConfigError(
            f"{what} asks for {n} queries: their queue needs {n * QUERY_BYTES / 2**30:.1f} GiB "
            f"and {avail / 2**30:.1f} GiB of memory is available (at most half is used); "
            "lower them"
        )
    return n


def _allocate(n: int) -> list[npt.NDArray[np.uint64]]:
    try:
        return [np.zeros(n, np.uint64) for _ in range(4)]
    except MemoryError:
        raise InferclockError(
            f"could not allocate the query queue: {n} queries of 32 bytes; lower qps, "
            "duration or queries"
        ) from None


def serve(engine: _core.Engine, o: RunOptions) -> tuple[ServerStats, npt.NDArray[np.int64], bool]:
    """Run the schedule of ``o`` on ``engine``; returns the stats, the due-time latencies (ns)
    of the completed queries in due order, and whether Ctrl-C cut it short."""
    assert o.qps is not None
    check_queue(o)
    arrival = o.arrival or ("poisson" if o.mode == "server" else "constant")
    duration = o.duration
    if duration is None and o.queries is None:
        duration = SERVER_DURATION
    offsets = _loadgen.schedule(o.qps, arrival, o.seed, duration=duration, queries=o.queries)
    if offsets.size == 0:
        raise ConfigError(
            f"the schedule holds no query: none of the Poisson arrivals at {o.qps:g} qps (seed "
            f"{o.seed}) came due within {duration:g} s; give a longer duration or queries"
        )
    due, issued, started, completed = _allocate(offsets.size)
    limit = o.max_async_queries
    try:
        r = engine.serve(
            offsets, due, issued, started, completed, "queue", limit, SPIN_NS, o.issuer_nice
        )
    except InferclockError as e:
        e.partial_ticks = np.empty(0, np.int64)  # type: ignore[attr-defined]
        raise
    done = completed > 0  # in due order: what a user of the service saw, query by query
    due_lat = clock().to_ns((completed[done] - due[done]).astype(np.int64))
    server = _stats(o, arrival, r, limit, due_lat, due, issued, started, completed)
    return server, due_lat, bool(r["interrupted"])


def _stats(
    o: RunOptions,
    arrival: str,
    r: dict[str, Any],
    limit: int,
    due_lat: npt.NDArray[np.int64],
    due_u: npt.NDArray[np.uint64],
    issued_u: npt.NDArray[np.uint64],
    started_u: npt.NDArray[np.uint64],
    completed_u: npt.NDArray[np.uint64],
) -> ServerStats:
    clk = clock()
    t0 = int(r["start_tick"])
    rel = [np.where(a > 0, a.astype(np.int64) - t0, 0) for a in (due_u, issued_u, started_u)]
    due, issued, started = rel
    completed = np.where(completed_u > 0, completed_u.astype(np.int64) - t0, 0)
    took = issued_u > 0
    ran = started_u > 0
    done = completed_u > 0
    last = int(completed.max()) if done.any() else 0
    span = int(due[-1] - due[0]) if due.size > 1 else 0
    taken_at = issued[took]
    max_q, series = _depth_series(taken_at, np.where(ran, started, 0)[took], max(last, 1))
    max_out = int(r["max_outstanding"])
    issue_lat = clk.to_ns(completed[done] - started[done])
    s = ServerStats(
        scenario=o.mode, qps=float(o.qps or 0), arrival=arrival, seed=o.seed,
        scheduled=int(due_u.size), taken=int(r["taken"]), completed=int(done.sum()),
        skipped=int(r["skipped"]), schedule_s=clk.to_ns(span) / 1e9,
        elapsed_s=clk.to_ns(last) / 1e9,
        offered_qps=_rate(taken_at.size - 1, int(np.ptp(taken_at)) if taken_at.size else 0),
        achieved_qps=_rate(int(done.sum()), last),
        issue_latency=stats.summarize(issue_lat) if issue_lat.size else stats.empty(),
        issue_delay_ns=_quantiles(clk.to_ns(issued[took] - due[took]).astype(np.float64)),
        queue_wait_ns=_quantiles(clk.to_ns(started[ran] - issued[ran]).astype(np.float64)),
        max_queue_depth=max_q, max_outstanding=max_out, queue_depth=series,
        outstanding_limit=limit, runaway=bool(r["runaway"]), issuer_nice=int(r["nice"]),
        latency_bound_ms=o.latency_bound_ms, percentile=o.percentile,
        percentile_latency_ns=None, overlatency=None, early_stopping_needed=None,
        verdict=None, verdict_reason="",
    )  # fmt: skip
    return _judge(s, due_lat.astype(np.float64), stopped=bool(r["stopped"]))


def _rate(count: int, ticks: int) -> float:
    if count <= 0 or ticks <= 0:
        return math.nan
    return count / (clock().to_ns(ticks) / 1e9)


def _judge(s: ServerStats, due_lat: npt.NDArray[np.float64], *, stopped: bool) -> ServerStats:
    """LoadGen's verdict: the whole schedule ran, the percentile of due-time latency is within
    the bound, and early stopping passes (a skipped query counts as over the bound)."""
    from dataclasses import replace

    pct_ns = None
    if due_lat.size:  # a skipped query never completes: it counts as infinitely late
        ordered = np.sort(np.concatenate([due_lat, np.full(s.skipped, np.inf)]))
        pct_ns = float(ordered[_intervals.loadgen_index(ordered.size, s.percentile)])
    if s.latency_bound_ms is None:
        reason = "; ".join(x for x in ("no latency bound: no verdict", s.prefix_note) if x)
        return replace(s, percentile_latency_ns=pct_ns, verdict=None, verdict_reason=reason)
    bound_ns = s.latency_bound_ms * 1e6
    over = int((due_lat > bound_ns).sum()) + s.skipped
    queries = s.completed + s.skipped
    passed, need = _loadgen.early_stopping(queries, over, s.percentile)
    p = f"p{s.percentile:g}"
    reasons: list[str] = []
    if s.prefix_note:
        reasons.append(s.prefix_note)
    elif stopped or s.completed + s.skipped < s.scheduled:
        reasons.append(
            f"the run did not last its minimum duration: {s.completed + s.skipped} of "
            f"{s.scheduled} scheduled queries done"
        )
    if pct_ns is None:
        reasons.append("no query completed")
    elif pct_ns > bound_ns:
        reasons.append(
            f"{p} of due-time latency {pct_ns / 1e6:.3f} ms exceeds the bound "
            f"{s.latency_bound_ms:g} ms"
        )
    if not passed:
        reasons.append(
            f"early stopping: {queries} queries with {over} over the bound; it needs {need} "
            f"(confidence {_loadgen.CONFIDENCE:g})"
        )
    if reasons:
        return replace(s, percentile_latency_ns=pct_ns, overlatency=over,
                       early_stopping_needed=need, verdict="INVALID",
                       verdict_reason="; ".join(reasons))  # fmt: skip
    assert pct_ns is not None
    reason = (
        f"{p} of due-time latency {pct_ns / 1e6:.3f} ms <= {s.latency_bound_ms:g} ms; early "
        f"stopping passed ({queries} queries, {over} over the bound, {need} needed)"
    )
    return replace(s, percentile_latency_ns=pct_ns, overlatency=over,
                   early_stopping_needed=need, verdict="VALID", verdict_reason=reason)  # fmt: skip
