"""MLPerf LoadGen 6.0's MultiStream scenario on the C++ engine: each query of
``samples_per_query`` samples (one infer request each, started together) is issued when the
previous query completed; a query's latency runs from its issue to its last sample's
completion. Issuing ends after the query that meets both the minimum query count
(``queries``) and the minimum duration (``duration``), as LoadGen's issue loop. The figures
land in a ``ServerStats`` (``scenario="multistream"``) judged as a server run is.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock import _core, stats
from inferclock._common.errors import InferclockError
from inferclock._platform.clock import clock
from inferclock._timing import load_checks as _checks, serve as _serve
from inferclock._timing.options import RunOptions
from inferclock._timing.serve import ServerStats

SAMPLES_PER_QUERY = _checks.SAMPLES_PER_QUERY
#: ServerStats.arrival of a multistream run: each query waits for the previous one.
ARRIVAL = "after-completion"


def minimums(o: RunOptions) -> tuple[int, float]:
    """(minimum query count, minimum duration in seconds) of a multistream run: those given;
    with neither, the server's default duration."""
    if o.duration is None and o.queries is None:
        return 1, _checks.SERVER_DURATION
    return o.queries or 1, o.duration or 0.0


def serve(engine: _core.Engine, o: RunOptions) -> tuple[ServerStats, npt.NDArray[np.int64], bool]:
    """Run ``o``'s MultiStream test on ``engine``: the stats, each query's latency (ns, issue
    to its last sample's completion) in issue order, and whether Ctrl-C cut it short."""
    spq = o.samples_per_query or _checks.SAMPLES_PER_QUERY
    min_queries, min_s = minimums(o)
    try:
        ran = engine.multistream(
            spq, min_queries, min_s * 1e9, _checks.multistream_max_queries(o), o.issuer_nice
        )
    except InferclockError as e:
        e.partial_ticks = np.empty(0, np.int64)  # type: ignore[attr-defined]
        raise
    issued = np.asarray(ran["issued"], np.uint64)
    started = np.asarray(ran["started"], np.uint64).reshape(-1, spq)
    completed = np.asarray(ran["completed"], np.uint64).reshape(-1, spq)
    done = completed.max(axis=1) if issued.size else np.empty(0, np.uint64)
    lat = clock().to_ns(done.astype(np.int64) - issued.astype(np.int64))
    s = _stats(o, spq, ran, issued, started, done, min_s, engine.num_requests)
    return s, lat, bool(ran["interrupted"])


def _stats(
    o: RunOptions,
    spq: int,
    ran: dict[str, Any],
    issued_u: npt.NDArray[np.uint64],
    started_u: npt.NDArray[np.uint64],
    done_u: npt.NDArray[np.uint64],
    min_s: float,
    requests: int,
) -> ServerStats:
    clk = clock()
    t0 = int(ran["start_tick"])
    issued = issued_u.astype(np.int64) - t0
    started = started_u.astype(np.int64) - t0
    done = done_u.astype(np.int64) - t0
    n = int(issued.size)
    last = int(done.max()) if n else 0
    # The issuer's own lateness: from the previous query's last completion to this issue
    # (LoadGen keeps it out of every latency, as this does).
    gap = issued[1:] - done[:-1] if n > 1 else np.empty(0, np.int64)
    first = started.min(axis=1) if n else np.empty(0, np.int64)
    s = ServerStats(
        scenario="multistream", qps=0.0, arrival=ARRIVAL, seed=o.seed, scheduled=n, taken=n,
        completed=n, skipped=0,
        schedule_s=clk.to_ns(int(issued[-1] - issued[0])) / 1e9 if n > 1 else 0.0,
        elapsed_s=clk.to_ns(last) / 1e9,
        offered_qps=_serve._rate(n - 1, int(issued[-1] - issued[0]) if n else 0),
        achieved_qps=_serve._rate(n, last),
        issue_latency=(stats.summarize(clk.to_ns(done - first)) if n else stats.empty()),
        issue_delay_ns=_serve._quantiles(clk.to_ns(gap).astype(np.float64)),
        queue_wait_ns=_serve._quantiles(
            clk.to_ns((started - issued[:, None]).ravel()).astype(np.float64)
        ),
        max_queue_depth=max(0, spq - requests), max_outstanding=min(n, 1), queue_depth=(),
        outstanding_limit=0, runaway=False, issuer_nice=int(ran["nice"]),
        latency_bound_ms=o.latency_bound_ms, percentile=o.percentile,
        percentile_latency_ns=None, overlatency=None, early_stopping_needed=None,
        verdict=None, verdict_reason="", samples_per_query=spq,
    )  # fmt: skip
    lat = clk.to_ns(done - issued).astype(np.float64)
    judged = _serve._judge(s, lat, stopped=False)
    cut = _cut_reason(ran, n, min_s)
    if cut is None:
        return judged
    reason = "; ".join(x for x in (cut, judged.verdict_reason) if x)
    verdict = None if judged.verdict is None else "INVALID"
    return replace(judged, verdict=verdict, verdict_reason=reason, capped=bool(ran["capped"]))


def _cut_reason(ran: dict[str, Any], n: int, min_s: float) -> str | None:
    if ran["stopped"] or ran["interrupted"]:
        return (
            f"the run did not last its minimum duration: stopped after {n} whole queries "
            f"(the one in flight dropped)"
        )
    if ran["capped"]:
        return (
            f"the run did not last its minimum duration ({min_s:g} s): it reached the most "
            f"queries kept ({n}, max_samples / samples_per_query) first"
        )
    return None
