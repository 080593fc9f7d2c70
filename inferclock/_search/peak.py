"""``ic.find_peak_qps``: the highest offered rate whose server run is VALID under a latency
bound, found as MLPerf LoadGen's FindPeakPerformance does: bracket the rate by doubling or
halving, then binary search between the highest VALID and the lowest INVALID rate.

Each step is a server run in a fresh worker process, written as a row of a results file by
``ic.sweep`` (cell key ``...|server@<qps>qps|...``). The file is the search's memory: run again
on it, the search takes the verdicts already there as its bracket and goes on from them, so
an interrupted search resumes and a finished one returns at once.

A search has a total time budget (``time_budget``) and a cap on each step's length
(``max_step_time``): it starts no step that would break either and stops with the steps done
(``PeakResult.stopped`` says why). Ctrl-C stops the running step at once, SIGTERM too: both
raise :class:`PeakInterrupted` carrying the steps done (all kept in the file).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.declare import make
from inferclock._common.errors import ConfigError, InferclockError, Terminated
from inferclock._search.options import START_SHARE, PeakOptions
from inferclock._sweeps.grid import SERVE_OPTIONS
from inferclock._sweeps.sweep import SweepInterrupted
from inferclock._timing import loadgen as _loadgen, options as _options, schema as _schema
from inferclock._timing.load_checks import bound_ms, open_percentile
from inferclock._workers.supervisor import CtrlC, first_ctrl_c_stops

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
    #: Why the search ended before its bracket closed (the time budget, the step cap,
    #: max_steps, Ctrl-C), or None.
    stopped: str | None = None

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
        if self.stopped is not None:
            lines.append(f"  stopped: {self.stopped}")
        lines.append(f"  rows: {self.out}")
        return "\n".join(lines)


class PeakInterrupted(SweepInterrupted):
    """Ctrl-C or SIGTERM (``terminated``) ended a search: its running step was stopped at once
    (not recorded); ``result`` holds the steps done, every one kept in the results file."""

    def __init__(self, result: PeakResult, terminated: bool) -> None:
        how = "terminated (SIGTERM)" if terminated else "interrupted (Ctrl-C)"
        hint = (
            f"peak search {how}: {len(result.steps)} step(s) done, kept in {result.out}; the "
            "running step was stopped and not recorded. Run the same search again to resume "
            "from the steps done."
        )
        written = os.path.exists(result.out) and os.path.getsize(result.out) > 0
        table = result.table() if written else ResultTable()
        done = len(result.steps)
        super().__init__(table, done, done, hint, terminated)
        self.result = result


def _round(q: float) -> float:
    return float(f"{q:.{DIGITS}g}")


def _step_of(row: Mapping[str, Any], resumed: bool) -> PeakStep:
    server = _schema.get(row, "server") or {}
    pct = server.get("percentile_latency_ns")
    return PeakStep(
        qps=float(_schema.at(row, "qps")),
        verdict=_schema.get(row, "verdict"),
        reason=_schema.get(row, "verdict_reason") or _schema.get(row, "error"),
        percentile_latency_ms=None if pct is None else pct / 1e6,
        achieved_qps=server.get("achieved_qps"),
        key=str(_schema.at(row, "key")),
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
    time_budget: float = 900.0,
    max_step_time: float = 180.0,
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
    The search starts no step whose schedule (``queries`` at its rate, at least
    ``min_duration``) lasts over ``max_step_time`` seconds or would end more than
    ``time_budget`` seconds after the search began (default 15 minutes; ``math.inf``: no
    budget): it stops with the steps done, ``PeakResult.stopped`` saying why. Ctrl-C or
    SIGTERM stops the running step at once (it is not recorded) and raises
    :class:`PeakInterrupted` (a ``SweepInterrupted``, so a KeyboardInterrupt) whose ``result``
    holds the steps done. Rates are rounded to 3 significant digits. Every step is a row in
    ``out`` (JSON Lines, as ``ic.sweep`` writes); run again on the same file, the search
    resumes from its rows.
    ``run_options``: device, precision, batch_size, streams, requests, arrival, seed, ... as
    ``ic.run`` takes them. The search's own options (``out``, ``start_qps``, ``tolerance``,
    ``max_steps``, ``min_duration``, ``time_budget``, ``max_step_time``, ``quiet``) are
    declared, with their defaults and checks,
    in ``_search.options.PeakOptions``; a bad one raises ConfigError (ConfigTypeError for a
    wrong type) naming it, before anything runs.
    """
    bound = bound_ms("latency_bound_ms", latency_bound_ms)
    if bound is None:
        raise ConfigError("latency_bound_ms is required: the peak is the rate that keeps it")
    pct = open_percentile("percentile", percentile)
    own: PeakOptions = make(
        PeakOptions,
        dict(out=out, start_qps=start_qps, tolerance=tolerance, max_steps=max_steps,
             min_duration=min_duration, time_budget=time_budget, max_step_time=max_step_time,
             quiet=quiet),
        "find_peak_qps",
    )  # fmt: skip
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
        {**run_options, "mode": "server", "qps": own.start_qps or 1.0, "queries": n,
         "duration": own.min_duration, "latency_bound_ms": bound, "percentile": pct},
        "find_peak_qps",
    )  # fmt: skip
    search = _Search(model, own, bound, pct, n, run_options)
    ctrl_c = CtrlC()  # Ctrl-C between steps, SIGTERM anywhere: Terminated
    try:
        with ctrl_c.installed(), first_ctrl_c_stops():
            _bracket(search, own, ctrl_c)
    except (SweepInterrupted, KeyboardInterrupt) as e:  # Terminated is a KeyboardInterrupt
        terminated = isinstance(e, Terminated) or getattr(e, "terminated", False)
        search.lo, search.hi = _bracket_of(search.steps)  # of the steps done
        raise PeakInterrupted(search.result(), bool(terminated)) from None
    return search.result()


def _bracket_of(steps: Sequence[PeakStep]) -> tuple[float | None, float | None]:
    """(highest VALID rate, lowest INVALID rate above it) among ``steps``."""
    valid = [s.qps for s in steps if s.verdict == "VALID"]
    lo = max(valid) if valid else None
    above = [s.qps for s in steps if s.verdict == "INVALID" and (lo is None or s.qps > lo)]
    return lo, (min(above) if above else None)


def _bracket(search: _Search, own: PeakOptions, ctrl_c: CtrlC) -> None:
    """The search itself: ``search.lo`` and ``search.hi`` as it ends (``search.stopped``:
    why it ended early)."""
    lo, hi = search.bracket_from_file()
    if lo is None and hi is None:
        search.capacity_qps = own.start_qps or search.capacity()
        q = _round(own.start_qps or START_SHARE * search.capacity_qps)
        if (ok := search.valid(q, ctrl_c)) is not None:
            lo, hi = (q, None) if ok else (None, q)
    while search.stopped is None and lo is None and hi is not None:
        q = _round(hi / 2)  # halve until VALID
        if q <= 0 or q == hi or (ok := search.valid(q, ctrl_c)) is None:
            break
        lo, hi = (q, hi) if ok else (None, q)
    while search.stopped is None and hi is None and lo is not None:
        q = _round(lo * 2)  # double until INVALID
        if (ok := search.valid(q, ctrl_c)) is None:
            break
        lo, hi = (q, None) if ok else (lo, q)
    while search.stopped is None and lo is not None and hi is not None:
        if (hi - lo) / lo <= own.tolerance:
            break
        q = _round((lo + hi) / 2)
        if q in (lo, hi) or (ok := search.valid(q, ctrl_c)) is None:
            break
        lo, hi = (q, hi) if ok else (lo, q)
    search.lo, search.hi = lo, hi


class _Search:
    """The server runs of one search and the verdicts already in its file."""

    def __init__(
        self,
        model: Any,
        own: PeakOptions,
        bound: float,
        pct: float,
        queries: int,
        run_options: dict[str, Any],
    ) -> None:
        self.model, self.out, self.bound, self.pct = model, own.out, bound, pct
        self.own, self.queries, self.min_duration = own, queries, own.min_duration
        self.quiet, self.run_options = own.quiet, run_options
        self.began = time.monotonic()
        self.lo: float | None = None
        self.hi: float | None = None
        self.capacity_qps: float | None = None
        self.stopped: str | None = None
        # The sweep takes a single run's device=, batch_size=... as one-value axes.
        singular = {o.name: axis for axis, o in _options.axes().items()}
        self.sweep_options: dict[str, Any] = {
            singular.get(k, k): [v] if k in singular else v for k, v in run_options.items()
        }
        self.steps: list[PeakStep] = []

    def _sweep(self, rates: list[float]) -> ResultTable:
        from inferclock._sweeps.sweep import sweep

        return sweep(
            self.model, modes=["server"], qps=rates, processes=1, out=self.out, resume=True,
            quiet=self.quiet, latency_bound_ms=self.bound, percentile=self.pct,
            queries=self.queries, duration=self.min_duration, **self.sweep_options,
        )  # fmt: skip

    def bracket_from_file(self) -> tuple[float | None, float | None]:
        """(highest VALID, lowest INVALID above it) among this search's rows already in the
        file: the search goes on from there."""
        if not os.path.exists(self.out) or os.path.getsize(self.out) == 0:
            return None, None
        table = ResultTable.load(self.out)
        wanted = {"mode": "server", "latency_bound_ms": self.bound, "percentile": self.pct,
                  "queries": self.queries, "duration": self.min_duration}  # fmt: skip
        rows = [
            r for r in table.ok().rows
            if all(_schema.get(r, k) == v for k, v in wanted.items())
            and _schema.get(r, "qps") and _schema.get(r, "verdict")
        ]  # fmt: skip
        rows.sort(key=lambda r: float(_schema.at(r, "qps")))
        self.steps.extend(_step_of(r, resumed=True) for r in rows)
        return _bracket_of(self.steps)

    def result(self) -> PeakResult:
        return PeakResult(
            qps=self.lo, lowest_invalid=self.hi, latency_bound_ms=self.bound,
            percentile=self.pct, capacity_qps=self.capacity_qps, out=self.out,
            steps=tuple(self.steps), stopped=self.stopped,
        )  # fmt: skip

    def _why_not(self, q: float) -> str | None:
        """Why the step at ``q`` must not start (max_steps, the step cap, the time budget)."""
        own = self.own
        if len(self.steps) >= own.max_steps:
            return f"max_steps: {own.max_steps} step(s) run (--max-steps)"
        length = max(self.queries / q, self.min_duration)  # the step's schedule
        if length > own.max_step_time:
            return (
                f"step cap: the next step ({q:g} qps, {self.queries} queries) would last "
                f"{length:.3g} s, over max_step_time {own.max_step_time:g} s (--max-step-time)"
            )
        spent = time.monotonic() - self.began
        if spent + length > own.time_budget:
            return (
                f"time budget: {spent:.3g} s spent of time_budget {own.time_budget:g} s "
                f"(--time-budget); the next step ({q:g} qps, {length:.3g} s) would end past it"
            )
        return None

    def valid(self, q: float, ctrl_c: CtrlC) -> bool | None:
        """Whether the step at ``q`` is VALID; None when it may not start (``stopped``)."""
        if ctrl_c.count:  # a Ctrl-C between steps
            raise KeyboardInterrupt("stopped between steps")
        if (why := self._why_not(q)) is not None:
            self.stopped = why
            return None
        table = self._sweep([q])
        mine = [
            r for r in table.rows
            if _schema.get(r, "qps") == q and _schema.get(r, "mode") == "server"
        ]  # fmt: skip
        if not mine:  # pragma: no cover - the sweep writes a row for every run
            raise InferclockError(f"the server run at {q:g} qps left no row in {self.out}")
        row = mine[-1]
        if error := _schema.get(row, "error"):
            raise InferclockError(f"the server run at {q:g} qps failed: {error}")
        step = _step_of(row, resumed=False)
        self.steps.append(step)
        return step.verdict == "VALID"

    def capacity(self) -> float:
        """Queries per second a short throughput-mode run sustains (the bracket's start)."""
        from inferclock._workers.run import run

        closed = {k: v for k, v in self.run_options.items() if k not in SERVE_OPTIONS}
        closed.setdefault("max_time", 2.0)
        r = run(self.model, mode="throughput", isolate=True, **closed)
        if r.interrupted:  # Ctrl-C: the search stops, not just this run
            raise KeyboardInterrupt("stopped during the capacity run")
        qps = r.throughput / r.batch_size
        if not math.isfinite(qps) or qps <= 0:
            raise InferclockError("the throughput-mode run measured no rate to start from")
        return qps
