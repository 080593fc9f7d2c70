"""What a tune searches and how: its arguments checked (:func:`plan`), the space of
configurations (``streams`` x ``requests`` x ``threads`` x ``batch_size``) and its points, the
two ways ``ic.tune`` walks them, and how a point's measured figure is read from its rows and
judged against another's. Nothing here runs OpenVINO or touches a file: ``evaluate``, given by
``inferclock._search.tune``, measures a point.

The space's values are checked by their run options' own checks (``_timing.options``), sorted, so
that a point's neighbours along an axis are the next lower and higher values.

* **Grid** (:func:`exhaustive`): every point, in a seeded random order.
* **Local search** (:func:`descend`): coordinate descent. From the start point, measure every
  neighbour (the next lower and higher value along each axis, axes in ``AXES`` order, the
  lower first), move to the best of those that beat the current point (:func:`beats`), and
  repeat; stop when none beats it ("converged") or ``budget`` points have been measured
  ("budget"). A point is measured once (a revisit reads the first measurement), so the path
  is a function of the measured values alone: given the same rows, the same path.

:func:`beats` (b improves on a beyond the intervals): with both sides' combined figures, the
Welch interval of b / a (``_common.intervals.ratio``) lies above 1; otherwise, with intervals, b's
low end lies above a's high end; with neither, b's value is higher. A failed point (None)
beats nothing and is beaten by any measured one.
"""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from inferclock._analysis.cell import combine_rows
from inferclock._common import checks as c
from inferclock._common.declare import declared
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.intervals import Combined, ratio
from inferclock._search.options import DEFAULT_PROCESSES, TuneOptions
from inferclock._sweeps import grid as _grid
from inferclock._timing import options as _options, schema as _schema
from inferclock._timing.load_checks import bound_ms, open_percentile
from inferclock._timing.options import RunOptions

#: The percentile a peak_qps search's bound holds unless given (the run option's default).
_PERCENTILE = declared(RunOptions, "percentile").default
#: The axes of a tuning space, in the order points list them and the local search tries them.
AXES = ("streams", "requests", "threads", "batch_size")

#: A point: (axis, value) for each axis of the space, in ``AXES`` order (hashable).
Point = tuple[tuple[str, int], ...]
Space = Mapping[str, Sequence[int]]
#: The compiled model's properties that say what the THROUGHPUT hint chose, by axis.
_HINTED = {"streams": "NUM_STREAMS", "requests": "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
           "threads": "INFERENCE_NUM_THREADS"}  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """A point's measured objective: its value with an interval (``low``/``high``: None
    when it has none) and, for a combined figure, what ``_common.intervals.ratio`` needs."""

    value: float
    low: float | None = None
    high: float | None = None
    combined: Combined | None = None


@dataclass(frozen=True)
class Search:
    """How a search went: the points measured in order, the local search's moves (start
    first; for a grid, empty) and why it stopped ("grid", "converged" or "budget")."""

    kind: Literal["grid", "local"]
    measured: tuple[Point, ...]
    path: tuple[Point, ...]
    stop: str


@dataclass(frozen=True)
class Plan:
    """Every argument of a tune, checked."""

    objective: str
    space: dict[str, list[int]]
    base: RunOptions  # the run options every point shares (mode throughput, isolated)
    processes: int
    max_points: int
    given: dict[str, Any]  # the user's run options (peak_qps hands them to find_peak_qps)
    serve: dict[str, Any]  # peak_qps: bound, percentile, queries, arrival, tolerance, max_steps

    @property
    def baseline_batch(self) -> int:
        return min(self.space.get("batch_size", [self.base.batch_size]))

    @property
    def point_hint(self) -> str:
        """The points' hint: none when they set streams or threads, else THROUGHPUT."""
        fixed = {"streams", "threads"} & set(self.space) or self.base.streams or self.base.threads
        return "none" if fixed else "throughput"


def plan(own: TuneOptions, bound: Any, space: Any, run_options: dict[str, Any]) -> Plan:
    """The tune's arguments checked together (``own``: its own options, each already checked
    by its declaration)."""
    objective, processes = own.objective, own.processes
    for name in ("mode", "hint", "qps"):
        if name in run_options:
            raise ConfigError(f"tune sets {name} itself (for the baseline and each point)")
    if run_options.get("isolate") is False:
        raise ConfigError("tune runs every point in a fresh worker process: isolate=False")
    serve = {k: run_options.pop(k) for k in _grid.SERVE_OPTIONS if k in run_options}
    peak = {k: v for k in ("tolerance", "max_steps") if (v := getattr(own, k)) is not None}
    if objective == "throughput":
        extra = [*serve, *peak] + (["latency_bound_ms"] if bound is not None else [])
        if extra:
            raise ConfigError(
                f"{', '.join(extra)}: for objective 'peak_qps' only, not 'throughput'"
            )
        procs = DEFAULT_PROCESSES if processes is None else processes
    else:
        serve["latency_bound_ms"] = bound_ms("latency_bound_ms", bound)
        if serve["latency_bound_ms"] is None:
            raise ConfigError("objective 'peak_qps' needs latency_bound_ms: the bound it keeps")
        if processes is not None:
            raise ConfigError(
                "processes applies to objective 'throughput': a peak_qps search runs each "
                "rate in one worker (a verdict is one schedule's)"
            )
        for name in sorted({"duration", "iterations"} & set(run_options)):
            raise ConfigError(f"find_peak_qps sets {name} itself: leave it out for peak_qps")
        serve["percentile"] = open_percentile("percentile", serve.get("percentile", _PERCENTILE))
        # Checked as a server run's options (qps: a stand-in rate).
        _options.make(RunOptions, {**run_options, **serve, "mode": "server", "qps": 1.0}, "tune")
        serve.update(peak)
        if "tolerance" in peak:  # a relative tolerance is the verdict rule's stop
            serve["rule"] = "verdict"
        procs = 1
    checked = check_space(default_space(_cpus(run_options)) if space is None else space)
    for name in sorted(set(checked) & set(run_options)):
        raise ConfigError(f"{name} is an axis of the space: give it in space, not as {name}=")
    fixed = {**run_options, "mode": "throughput", "isolate": True, "processes": procs}
    base = _options.make(RunOptions, fixed, "tune")
    return Plan(objective, checked, base, procs, own.max_points, dict(run_options), serve)


def _cpus(run_options: Mapping[str, Any]) -> int:
    if run_options.get("cpus") is not None:
        return len(c.cpu_list("cpus", run_options["cpus"]) or ())
    from inferclock._platform.topology import affinity

    return max(1, len(affinity()))


def default_space(cpus: int) -> dict[str, list[int]]:
    """Streams 1, 2, 4, ... up to ``cpus``; requests 1, 2, 4, ... up to twice that."""
    return {"streams": _doubling(cpus), "requests": _doubling(2 * cpus)}


def _doubling(top: int) -> list[int]:
    out = [1]
    while out[-1] * 2 < top:
        out.append(out[-1] * 2)
    return out + ([top] if top > 1 else [])


def check_space(space: Any) -> dict[str, list[int]]:
    """Each axis's values checked by its run option's own check, sorted; unknown keys, empty
    lists, duplicates and None refused by name."""
    if not isinstance(space, Mapping):
        raise ConfigTypeError(
            f"space must be a dict such as {{'streams': [1, 2], 'requests': [2, 4]}}, got {space!r}"
        )
    if not space:
        raise ConfigError(f"space is empty: give values for some of {', '.join(AXES)}")
    decl = {o.name: o for o in _options.options()}
    out: dict[str, list[int]] = {}
    for name, values in space.items():
        if name not in AXES:
            raise ConfigError(
                f"space has unknown key {name!r}; the keys a tune searches are {', '.join(AXES)}"
            )
        where = f"space[{name!r}]"
        items = _grid.axis(where, values, (str, bytes))
        for v in items:
            if v is None:
                raise ConfigError(
                    f"{where} lists None; leave {name} out of the space to let OpenVINO choose it"
                )
        out[name] = sorted(_checked(decl[name].meta.check, where, v) for v in items)
    return {a: out[a] for a in AXES if a in out}


def _checked(check: Any, where: str, value: Any) -> int:
    # The option's own check; its "or None" does not apply here (None was refused above).
    try:
        return int(check(where, value))
    except ConfigError as e:
        raise type(e)(str(e).replace(" or None", "")) from None


def as_dict(p: Point) -> dict[str, int]:
    return dict(p)


def label(p: Point) -> str:
    """``"streams=2,requests=4"``: the point as a cell-key suffix."""
    return ",".join(f"{k}={v}" for k, v in p)


def size(space: Space) -> int:
    return math.prod(len(v) for v in space.values())


def grid(space: Space) -> list[Point]:
    """Every point of the space, the first axis slowest."""
    names = [a for a in AXES if a in space]
    return [
        tuple(zip(names, combo, strict=True))
        for combo in itertools.product(*(space[a] for a in names))
    ]


def snap(space: Space, wanted: Mapping[str, float | None]) -> Point:
    """The point nearest to ``wanted`` on every axis (by ratio, the lower value on a tie); an
    axis ``wanted`` says nothing of starts at its middle value."""
    out = []
    for a in (a for a in AXES if a in space):
        values, w = list(space[a]), wanted.get(a)
        if w is None or not w > 0:
            out.append((a, values[len(values) // 2]))
            continue
        out.append((a, min(values, key=lambda v: (abs(math.log(v / w)), v))))
    return tuple(out)


def neighbours(space: Space, p: Point) -> list[Point]:
    """The points one step away along each axis: lower then higher, axes in order."""
    out = []
    for i, (a, v) in enumerate(p):
        values = list(space[a])
        j = values.index(v)
        for k in (j - 1, j + 1):
            if 0 <= k < len(values):
                out.append((*p[:i], (a, values[k]), *p[i + 1 :]))
    return out


def beats(a: Estimate | None, b: Estimate | None) -> bool:
    """Whether b improves on a beyond the intervals (module docstring)."""
    if b is None:
        return False
    if a is None:
        return True
    ca, cb = a.combined, b.combined
    if ca is not None and cb is not None and math.isfinite(ca.log_se + cb.log_se):
        low = ratio(ca, cb)[1]
        return low is not None and low > 1.0
    if b.low is not None and a.high is not None:
        return b.low > a.high
    return b.value > a.value


def gain(base: Estimate, best: Estimate) -> tuple[float, float | None, float | None]:
    """best / base with its interval: Welch on the log scale for combined figures, else the
    ratio of the intervals' ends (low: best.low / base.high), None where an end is missing."""
    if base.combined is not None and best.combined is not None:
        return ratio(base.combined, best.combined)
    g = best.value / base.value
    low = best.low / base.high if best.low is not None and base.high else None
    high = best.high / base.low if best.high is not None and base.low else None
    return g, low, high


def exhaustive(space: Space, evaluate: Callable[[Point], Estimate | None], seed: int) -> Search:
    """Measure every point, in a seeded random order (a drift of the machine's speed does not
    fall onto one corner of the surface)."""
    points = grid(space)
    random.Random(seed).shuffle(points)
    for p in points:
        evaluate(p)
    return Search("grid", tuple(points), (), "grid")


def descend(
    space: Space,
    start: Point,
    evaluate: Callable[[Point], Estimate | None],
    budget: int,
) -> Search:
    """Coordinate descent from ``start``, at most ``budget`` points (module docstring)."""
    seen: dict[Point, Estimate | None] = {}

    def measured(p: Point) -> bool:  # False: the budget is spent
        if p not in seen:
            if len(seen) >= budget:
                return False
            seen[p] = evaluate(p)
        return True

    measured(start)
    path, current = [start], start
    while True:
        around = neighbours(space, current)
        spent = not all(measured(q) for q in around)  # stops at the first it cannot afford
        better = [q for q in around if q in seen and beats(seen[current], seen[q])]
        if better:
            # The highest value; the first in neighbour order on a tie.
            current = max(better, key=lambda q: _value(seen[q]))
            if current in path:  # pragma: no cover - values rise along the path
                break
            path.append(current)
        if spent or not better:
            return Search("local", tuple(seen), tuple(path), "budget" if spent else "converged")
    return Search("local", tuple(seen), tuple(path), "converged")  # pragma: no cover


def figure(ok: Sequence[Mapping[str, Any]], objective: str) -> Estimate | None:
    """A cell's objective from its rows without error (None: none measured it). Throughput:
    combined within and between processes (``_analysis.cell.combine_rows``). peak_qps: each row is a
    search (``tune_value`` its peak, ``tune_low``/``tune_high`` its bracket); several are
    pooled as the geometric mean of the peaks and the hull of the brackets."""
    if objective == "throughput":
        c = combine_rows(ok, "throughput")
        return None if c is None else Estimate(c.estimate, c.low, c.high, c)
    peaks = [r for r in ok if number(_schema.get(r, "tune_value")) is not None]
    if not peaks:
        return None
    value = math.exp(statistics.fmean(math.log(float(_schema.at(r, "tune_value"))) for r in peaks))
    highs = [number(_schema.get(r, "tune_high")) for r in peaks]
    high = None if None in highs else max(h for h in highs if h is not None)
    return Estimate(value, min(float(_schema.at(r, "tune_low")) for r in peaks), high)


def hinted(row: Mapping[str, Any]) -> dict[str, float | None]:
    """What a THROUGHPUT-hint run chose, from its row: NUM_STREAMS,
    OPTIMAL_NUMBER_OF_INFER_REQUESTS, INFERENCE_NUM_THREADS (else the row's own fields)."""
    cfg = _schema.get(row, "config")
    cfg = cfg if isinstance(cfg, Mapping) else {}
    return {a: number(cfg.get(k), _schema.get(row, a)) for a, k in _HINTED.items()}


def number(*values: Any) -> float | None:
    """The first of ``values`` that reads as a positive finite number."""
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f) and f > 0:
            return f
    return None


def _value(e: Estimate | None) -> float:
    return -math.inf if e is None else e.value
