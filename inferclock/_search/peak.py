"""``ic.find_peak_qps``: the highest offered rate whose server run is VALID under a latency
bound, found as MLPerf LoadGen's FindPeakPerformance does: bracket the rate by doubling or
halving, then binary search between the highest VALID and the lowest INVALID rate.

Each step is a server run in a fresh worker process, written as a row of a results file by
``ic.sweep`` (cell key ``...|server@<qps>qps|...``). The file is the search's memory: run again
on it, the search takes the verdicts already there as its bracket and goes on from them, so
an interrupted search resumes and a finished one returns at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._sweeps.grid import SERVE_OPTIONS
from inferclock._timing import loadgen as _loadgen, options as _options
from inferclock._timing.load_checks import bound_ms, open_percentile, rate

#: Rates are rounded to this many significant digits: readable keys, and a search that stops
#: once its bracket cannot be split at that resolution.
DIGITS = 3


@dataclass(frozen=True)
class PeakStep:
    """One server run of the search."""

    qps: float
    verdict: str | None
    reason: str | None
    percentile_latency_ms: float | None  # due-time latency at the percentile
    achieved_qps: float | None
    key: str
    resumed: bool  # the row was already in the results file


@dataclass(frozen=True)
class PeakResult:
    """What ``find_peak_qps`` found; ``steps`` in the order they ran (resumed ones first)."""

    qps: float | None  # the highest VALID rate (None: even the lowest rate tried failed)
    lowest_invalid: float | None
    latency_bound_ms: float
    percentile: float
    capacity_qps: float | None  # the throughput-mode estimate the bracket started from
    out: str
    steps: tuple[PeakStep, ...] = field(default_factory=tuple)

    def table(self) -> ResultTable:
        return ResultTable.load(self.out)

    def summary(self) -> str:
        p = f"p{self.percentile:g}"
        head = (
            f"peak {self.qps:g} qps with {p} of due-time latency <= {self.latency_bound_ms:g} ms"
            if self.qps is not None
            else f"no rate tried kept {p} of due-time latency <= {self.latency_bound_ms:g} ms"
        )
        if self.lowest_invalid is not None:
            head += f" (lowest INVALID rate {self.lowest_invalid:g} qps)"
        lines = [head]
        if self.capacity_qps is not None:
            lines.append(f"  bracket from the throughput-mode capacity {self.capacity_qps:.1f} qps")
        for s in self.steps:
            lat = "-" if s.percentile_latency_ms is None else f"{s.percentile_latency_ms:.3f} ms"
            lines.append(
                f"  {s.qps:>10g} qps  {s.verdict or '-':<7}  {p} {lat}"
                + ("  (from the file)" if s.resumed else "")
                + (f"  {s.reason}" if s.verdict == "INVALID" and s.reason else "")
            )
        lines.append(f"  rows: {self.out}")
        return "\n".join(lines)


def _round(q: float) -> float:
    return float(f"{q:.{DIGITS}g}")


def _step_of(row: Mapping[str, Any], resumed: bool) -> PeakStep:
    server = row.get("server") or {}
    pct = server.get("percentile_latency_ns")
    return PeakStep(
        qps=float(row["qps"]),
        verdict=row.get("verdict"),
        reason=row.get("verdict_reason") or row.get("error"),
        percentile_latency_ms=None if pct is None else pct / 1e6,
        achieved_qps=server.get("achieved_qps"),
        key=str(row["key"]),
        resumed=resumed,
    )


def find_peak_qps(
    model: Any,
    latency_bound_ms: float,
    percentile: float = 99.0,
    *,
    out: str | os.PathLike[str] = "peak.jsonl",
    queries: int | None = None,
    min_duration: float = 2.0,
    start_qps: float | None = None,
    tolerance: float = 0.02,
    max_steps: int = 24,
    quiet: bool | None = None,
    **run_options: Any,
) -> PeakResult:
    """The highest offered rate (queries per second) whose server run is VALID: the
    ``percentile`` of due-time latency within ``latency_bound_ms`` and LoadGen's early stopping
    passed.

    Each step runs at least ``queries`` queries (default: twice what early stopping needs
    with no query over the bound, 918 at p99) and lasts at least ``min_duration`` seconds
    (LoadGen's minimum query count and minimum duration): every rate gets the same
    statistical power, and a rate beyond the capacity runs long enough for its backlog to
    show. The
    bracket starts at ``start_qps``, or at the capacity a short throughput-mode run measures;
    it doubles or halves until one VALID and one INVALID rate enclose the peak, then halves
    the gap until it is within ``tolerance`` of the lower end (or ``max_steps`` runs).
    Rates are rounded to 3 significant digits. Every step is a row in ``out`` (JSON Lines, as
    ``ic.sweep`` writes); run again on the same file, the search resumes from its rows.
    ``run_options``: device, precision, batch_size, streams, requests, arrival, seed, ... as
    ``ic.run`` takes them.
    """
    bound = bound_ms("latency_bound_ms", latency_bound_ms)
    if bound is None:
        raise ConfigError("latency_bound_ms is required: the peak is the rate that keeps it")
    pct = open_percentile("percentile", percentile)
    if start_qps is not None:
        start_qps = rate("start_qps", start_qps)
    if not (isinstance(tolerance, (int, float)) and 0 < tolerance < 1):
        raise ConfigError(f"tolerance must be a fraction in (0, 1) such as 0.02, got {tolerance!r}")
    if not (isinstance(max_steps, int) and 1 <= max_steps <= 1000):
        raise ConfigError(f"max_steps must be an integer in 1..1000, got {max_steps!r}")
    from inferclock._common.checks import seconds

    min_duration = float(seconds()("min_duration", min_duration))
    for name in ("mode", "modes", "qps", "rates", "duration", "iterations", "processes"):
        if name in run_options:
            raise ConfigError(
                f"find_peak_qps sets {name} itself (server runs of `queries` queries, one "
                "process each); leave it out"
            )
    n = queries if queries is not None else 2 * _loadgen.min_passing(0, pct)
    # Every step's options checked once, before the capacity run or any step.
    _options.make(
        _options.RunOptions,
        {**run_options, "mode": "server", "qps": start_qps or 1.0, "queries": n,
         "duration": min_duration, "latency_bound_ms": bound, "percentile": pct},
        "find_peak_qps",
    )  # fmt: skip
    search = _Search(model, str(out), bound, pct, n, min_duration, quiet, run_options)
    lo, hi = search.bracket_from_file()
    capacity = None
    if lo is None and hi is None:
        capacity = start_qps or search.capacity()
        q = _round(start_qps or 0.8 * capacity)
        if search.valid(q):
            lo = q
        else:
            hi = q
    while lo is None and hi is not None and len(search.steps) < max_steps:
        q = _round(hi / 2)  # halve until VALID
        if q <= 0 or q == hi:
            break
        lo, hi = (q, hi) if search.valid(q) else (None, q)
    while hi is None and lo is not None and len(search.steps) < max_steps:
        q = _round(lo * 2)  # double until INVALID
        lo, hi = (q, None) if search.valid(q) else (lo, q)
    while lo is not None and hi is not None and len(search.steps) < max_steps:
        if (hi - lo) / lo <= tolerance:
            break
        q = _round((lo + hi) / 2)
        if q in (lo, hi):
            break
        lo, hi = (q, hi) if search.valid(q) else (lo, q)
    return PeakResult(
        qps=lo, lowest_invalid=hi, latency_bound_ms=bound, percentile=pct,
        capacity_qps=capacity, out=str(out), steps=tuple(search.steps),
    )  # fmt: skip


class _Search:
    """The server runs of one search and the verdicts already in its file."""

    def __init__(
        self,
        model: Any,
        out: str,
        bound: float,
        pct: float,
        queries: int,
        min_duration: float,
        quiet: bool | None,
        run_options: dict[str, Any],
    ) -> None:
        self.model, self.out, self.bound, self.pct = model, out, bound, pct
        self.queries, self.min_duration = queries, min_duration
        self.quiet, self.run_options = quiet, run_options
        # The sweep takes a single run's device=, batch_size=... as one-value axes.
        singular = {o.name: axis for axis, o in _options.axes().items()}
        self.sweep_options: dict[str, Any] = {
            singular.get(k, k): [v] if k in singular else v for k, v in run_options.items()
        }
        self.steps: list[PeakStep] = []

    def _sweep(self, rates: list[float]) -> ResultTable:
        from inferclock._sweeps.sweep import sweep

        return sweep(
            self.model, modes=["server"], rates=rates, processes=1, out=self.out, resume=True,
            quiet=self.quiet, latency_bound_ms=self.bound, percentile=self.pct,
            queries=self.queries, duration=self.min_duration, **self.sweep_options,
        )  # fmt: skip

    def bracket_from_file(self) -> tuple[float | None, float | None]:
        """(highest VALID, lowest INVALID above it) among this search's rows already in the
        file: the search goes on from there."""
        if not os.path.exists(self.out) or os.path.getsize(self.out) == 0:
            return None, None
        table = ResultTable.load(self.out)
        rows = [
            r for r in table.ok().rows
            if r.get("mode") == "server" and r.get("qps") and r.get("verdict")
            and r.get("latency_bound_ms") == self.bound and r.get("percentile") == self.pct
            and r.get("queries") == self.queries and r.get("duration") == self.min_duration
        ]  # fmt: skip
        self.steps.extend(_step_of(r, resumed=True) for r in sorted(rows, key=lambda r: r["qps"]))
        valid = [float(r["qps"]) for r in rows if r["verdict"] == "VALID"]
        lo = max(valid) if valid else None
        above = [float(r["qps"]) for r in rows if r["verdict"] == "INVALID"]
        above = [q for q in above if lo is None or q > lo]
        return lo, (min(above) if above else None)

    def valid(self, q: float) -> bool:
        table = self._sweep([q])
        mine = [r for r in table.rows if r.get("qps") == q and r.get("mode") == "server"]
        if not mine:  # pragma: no cover - the sweep writes a row for every run
            raise InferclockError(f"the server run at {q:g} qps left no row in {self.out}")
        row = mine[-1]
        if row.get("error"):
            raise InferclockError(f"the server run at {q:g} qps failed: {row['error']}")
        step = _step_of(row, resumed=False)
        self.steps.append(step)
        return step.verdict == "VALID"

    def capacity(self) -> float:
        """Queries per second a short throughput-mode run sustains (the bracket's start)."""
        from inferclock._workers.run import run

        closed = {k: v for k, v in self.run_options.items() if k not in SERVE_OPTIONS}
        closed.setdefault("max_time", 2.0)
        r = run(self.model, mode="throughput", isolate=True, **closed)
        qps = r.throughput / r.batch_size
        if not math.isfinite(qps) or qps <= 0:
            raise InferclockError("the throughput-mode run measured no rate to start from")
        return qps
