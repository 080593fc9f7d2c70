"""``ic.find_peak_qps``: the highest offered rate whose server run keeps a latency bound, by one
of two rules (``_search.peak_rules``): ``loadgen`` (the default), MLPerf LoadGen's
FindPeakPerformance, each step judged by its percentile alone; ``verdict``, each step judged by
its full verdict (early stopping included), bracketing from any start.

Each step is a server run in a fresh worker process, written as a row of a results file by
``ic.sweep`` (cell key ``...|server@<qps>qps|...``). The file is the search's memory: run again
on it, the search reads the steps already there instead of running them again (``loadgen``:
the same rates in the same order, from the same start; ``verdict``: the bracket they make), so
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.declare import make
from inferclock._common.errors import ConfigError, InferclockError, Terminated
from inferclock._search import peak_rules as _rules
from inferclock._search.options import LOADGEN_START_SHARE, START_SHARE, PeakOptions
from inferclock._search.peak_rules import PeakStep
from inferclock._sweeps.grid import SERVE_OPTIONS
from inferclock._sweeps.sweep import SweepInterrupted
from inferclock._timing import loadgen as _loadgen, options as _options, schema as _schema
from inferclock._timing.load_checks import bound_ms, open_percentile
from inferclock._workers.supervisor import CtrlC, first_ctrl_c_stops

__all__ = ["PeakInterrupted", "PeakResult", "PeakStep", "find_peak_qps"]


@dataclass(frozen=True)
class PeakResult:
    """What ``find_peak_qps`` found; ``steps`` in the order they ran (resumed ones first)."""

    qps: float | None  # the highest passing rate (None: no rate tried passed)
    lowest_invalid: float | None  # the lowest failing rate above it
    latency_bound_ms: float
    percentile: float
    capacity_qps: float | None  # the throughput-mode estimate the search started from
    out: str
    steps: tuple[PeakStep, ...] = field(default_factory=tuple)
    #: Why the search ended before its bracket closed (the time budget, the step cap,
    #: max_steps, a start outside the bound under rule "loadgen"), or None.
    stopped: str | None = None
    #: "loadgen" (a step passes on its percentile) or "verdict" (on its full verdict)
    rule: str = "loadgen"

    def table(self) -> ResultTable:
        return ResultTable.load(self.out)

    def passed(self, step: PeakStep) -> bool:
        """Whether ``step`` passed under this search's rule."""
        if self.rule == "verdict":
            return step.verdict == "VALID"
        return _rules.within_bound(step, self.latency_bound_ms)

    def summary(self) -> str:
        p = f"p{self.percentile:g}"
        judged = (
            "the full verdict (VALID: percentile and early stopping)"
            if self.rule == "verdict"
            else "the percentile alone (LoadGen's FindPeakPerformance)"
        )
        head = (
            f"peak {self.qps:g} qps with {p} of due-time latency <= {self.latency_bound_ms:g} ms"
            if self.qps is not None
            else f"no rate tried kept {p} of due-time latency <= {self.latency_bound_ms:g} ms"
        )
        if self.lowest_invalid is not None:
            head += f" (lowest failing rate {self.lowest_invalid:g} qps)"
        lines = [head, f"  rule {self.rule}: each step judged by {judged}"]
        if self.capacity_qps is not None:
            lines.append(f"  started from the throughput-mode capacity {self.capacity_qps:.1f} qps")
        for s in self.steps:
            lat = "-" if s.percentile_latency_ms is None else f"{s.percentile_latency_ms:.3f} ms"
            lines.append(
                f"  {s.qps:>10g} qps  {'pass' if self.passed(s) else 'fail':<4}  "
                f"{p} {lat:<12} verdict {s.verdict or '-':<7}"
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


def _step_of(row: Mapping[str, Any], resumed: bool) -> PeakStep:
    server = _schema.get(row, "server") or {}
    pct = server.get("percentile_latency_ns")
    done = (server.get("completed") or 0) + (server.get("skipped") or 0)
    return PeakStep(
        qps=float(_schema.at(row, "qps")),
        verdict=_schema.get(row, "verdict"),
        reason=_schema.get(row, "verdict_reason") or _schema.get(row, "error"),
        percentile_latency_ms=None if pct is None else pct / 1e6,
        achieved_qps=server.get("achieved_qps"),
        key=str(_schema.at(row, "key")),
        resumed=resumed,
        complete=not server.get("runaway") and done >= (server.get("scheduled") or 0),
    )


def find_peak_qps(
    model: Any,
    latency_bound_ms: float,
    percentile: float = 99.0,
    *,
    rule: str = "loadgen",
    out: str | os.PathLike[str] = "peak.jsonl",
    queries: int | None = None,
    min_duration: float = 2.0,
    start_qps: float | None = None,
    qps_decimals: int | None = None,
    tolerance: float | None = None,
    max_steps: int = 24,
    time_budget: float = 900.0,
    max_step_time: float = 180.0,
    quiet: bool | None = None,
    **run_options: Any,
) -> PeakResult:
    """The highest offered rate (queries per second) whose server run keeps the
    ``percentile`` of due-time latency within ``latency_bound_ms``, by ``rule``:

    - ``"loadgen"`` (default), MLPerf LoadGen's FindPeakPerformance: the start rate must keep
      the bound (else ``qps`` is None and ``stopped`` says so: give a lower ``start_qps``);
      the rate doubles until a step does not, then the bracket's midpoint is tried until the
      bracket no longer splits at ``qps_decimals`` decimal places (default 1, LoadGen's). A
      step passes when its percentile is within the bound, nothing else (no early stopping,
      as LoadGen). Guarantees: ``qps`` is a rate that was run and kept the bound, and a rate
      at most 10**-qps_decimals above it (``lowest_invalid``) was run and did not; it assumes,
      as LoadGen, that latency grows with the rate (a noisy host can break that).
    - ``"verdict"``: a step passes when its verdict is VALID (the percentile within the bound,
      LoadGen's early stopping passed, the whole schedule run). From any start it halves
      until VALID or doubles until INVALID, then bisects until the bracket is within
      ``tolerance`` (default 2%) of its lower end. Guarantees: ``qps`` was run and VALID
      (a result LoadGen would accept), ``lowest_invalid`` was run and INVALID.

    Each step runs at least ``queries`` queries (default: twice what early stopping needs
    with no query over the bound, 918 at p99) and lasts at least ``min_duration`` seconds
    (LoadGen's minimum query count and minimum duration make its schedule; under rule
    ``loadgen`` they are not checked, as LoadGen's search does not). The search starts at
    ``start_qps``, or at a share (loadgen 0.5, verdict 0.8) of the capacity a short
    throughput-mode run measures. It starts no step whose schedule lasts over
    ``max_step_time`` seconds or would end more than ``time_budget`` seconds after the search
    began (default 15 minutes; ``math.inf``: no budget), nor more than ``max_steps`` steps:
    it stops with the steps done, ``PeakResult.stopped`` saying why. Ctrl-C or SIGTERM stops
    the running step at once (it is not recorded) and raises :class:`PeakInterrupted` (a
    ``SweepInterrupted``, so a KeyboardInterrupt) whose ``result`` holds the steps done.
    Every step is a row in ``out`` (JSON Lines, as ``ic.sweep`` writes); run again on the
    same file, the search reads its steps from there instead of running them.
    ``run_options``: device, precision, batch_size, streams, requests, arrival, seed, ... as
    ``ic.run`` takes them. The search's own options (``rule``, ``out``, ``start_qps``,
    ``qps_decimals``, ``tolerance``, ``max_steps``, ``min_duration``, ``time_budget``,
    ``max_step_time``, ``quiet``) are declared, with their defaults and checks, in
    ``_search.options.PeakOptions``; a bad one raises ConfigError (ConfigTypeError for a
    wrong type) naming it, before anything runs.
    """
    bound = bound_ms("latency_bound_ms", latency_bound_ms)
    if bound is None:
        raise ConfigError("latency_bound_ms is required: the peak is the rate that keeps it")
    pct = open_percentile("percentile", percentile)
    own: PeakOptions = make(
        PeakOptions,
        dict(rule=rule, out=out, start_qps=start_qps, qps_decimals=qps_decimals,
             tolerance=tolerance, max_steps=max_steps, min_duration=min_duration,
             time_budget=time_budget, max_step_time=max_step_time, quiet=quiet),
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
            _search_by_rule(search, own, ctrl_c)
    except (SweepInterrupted, KeyboardInterrupt) as e:  # Terminated is a KeyboardInterrupt
        terminated = isinstance(e, Terminated) or getattr(e, "terminated", False)
        search.lo, search.hi = _bracket_of(search.steps, search.passed)  # of the steps done
        raise PeakInterrupted(search.result(), bool(terminated)) from None
    return search.result()


def _bracket_of(
    steps: Sequence[PeakStep], passed: Callable[[PeakStep], bool]
) -> tuple[float | None, float | None]:
    """(highest passing rate, lowest failing rate above it) among ``steps``."""
    good = [s.qps for s in steps if passed(s)]
    lo = max(good) if good else None
    above = [s.qps for s in steps if not passed(s) and (lo is None or s.qps > lo)]
    return lo, (min(above) if above else None)


def _search_by_rule(search: _Search, own: PeakOptions, ctrl_c: CtrlC) -> None:
    """The search itself: ``search.lo`` and ``search.hi`` as it ends (``search.stopped``:
    why it ended early)."""

    def step(q: float) -> PeakStep | None:
        return search.step(q, ctrl_c)

    if own.rule == "loadgen":
        # A given start wins; else the file's first step (a resumed search replays its path).
        start = own.start_qps or search.first_rate_in_file()
        if start is None:
            search.capacity_qps = search.capacity()
            start = LOADGEN_START_SHARE * search.capacity_qps
        decimals = _rules.DEFAULT_DECIMALS if own.qps_decimals is None else own.qps_decimals
        start = _rules.rounded(start, _rules.LOADGEN_DIGITS)
        b = _rules.loadgen_search(start, step, search.bound, decimals)
    else:
        lo, hi = search.bracket_from_file()
        first = None
        if lo is None and hi is None:
            search.capacity_qps = own.start_qps or search.capacity()
            first = own.start_qps or START_SHARE * search.capacity_qps
        tol = _rules.DEFAULT_TOLERANCE if own.tolerance is None else own.tolerance
        b = _rules.verdict_search(lo, hi, first, step, tol)
    search.lo, search.hi = b.lo, b.hi
    if b.note is not None and search.stopped is None:
        search.stopped = b.note


class _Search:
    """The server runs of one search and the steps already in its file."""

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
        self._filed: list[PeakStep] | None = None

    def passed(self, step: PeakStep) -> bool:
        if self.own.rule == "verdict":
            return step.verdict == "VALID"
        return _rules.within_bound(step, self.bound)

    def _sweep(self, rates: list[float]) -> ResultTable:
        from inferclock._sweeps.sweep import sweep

        return sweep(
            self.model, modes=["server"], qps=rates, processes=1, out=self.out, resume=True,
            quiet=self.quiet, latency_bound_ms=self.bound, percentile=self.pct,
            queries=self.queries, duration=self.min_duration, **self.sweep_options,
        )  # fmt: skip

    def filed(self) -> list[PeakStep]:
        """This search's steps already in the file (the same bound, percentile, queries and
        duration), in the order they were written."""
        if self._filed is None:
            self._filed = []
            if os.path.exists(self.out) and os.path.getsize(self.out) > 0:
                wanted = {"mode": "server", "latency_bound_ms": self.bound,
                          "percentile": self.pct, "queries": self.queries,
                          "duration": self.min_duration}  # fmt: skip
                self._filed = [
                    _step_of(r, resumed=True)
                    for r in ResultTable.load(self.out).ok().rows
                    if all(_schema.get(r, k) == v for k, v in wanted.items())
                    and _schema.get(r, "qps") and _schema.get(r, "verdict")
                ]  # fmt: skip
        return self._filed

    def first_rate_in_file(self) -> float | None:
        """The start of the search that wrote the file (its first step): a resumed loadgen
        search replays the same rates."""
        steps = self.filed()
        return steps[0].qps if steps else None

    def bracket_from_file(self) -> tuple[float | None, float | None]:
        """(highest VALID, lowest INVALID above it) among this search's rows already in the
        file: the verdict rule goes on from there."""
        rows = sorted(self.filed(), key=lambda s: s.qps)
        self.steps.extend(rows)
        return _bracket_of(self.steps, self.passed)

    def result(self) -> PeakResult:
        return PeakResult(
            qps=self.lo, lowest_invalid=self.hi, latency_bound_ms=self.bound,
            percentile=self.pct, capacity_qps=self.capacity_qps, out=self.out,
            steps=tuple(self.steps), stopped=self.stopped, rule=self.own.rule,
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

    def step(self, q: float, ctrl_c: CtrlC) -> PeakStep | None:
        """The step at ``q``: read from the file when it holds one (loadgen rule), else run;
        None when it may not start (``stopped`` says why)."""
        if self.own.rule == "loadgen":
            done = [s for s in self.filed() if s.qps == q]
            if done:
                self.steps.append(done[-1])
                return done[-1]
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
        return step

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
