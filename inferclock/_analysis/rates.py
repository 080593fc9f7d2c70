"""The open-loop and tuning figures as data: each open-loop cell's figures (``RatePoint``),
the cells of one configuration against their offered rate (``RateCurve``) with its knee and
peak, and the tuning surface of a tune file's throughput rows (``TuneSurface``). The report
draws them (``_render.serve_plots``) and tables them (``_analysis.text``).

* **Offered rate** is the rate a cell asked for (its ``qps``, the schedule's rate, as in its
  key); the rate the issuer actually took queries up at (``server.offered_qps``) and the one
  the server completed them at (``server.achieved_qps``) go in the table beside it.
* **Knee**: the lowest offered rate at which due-time p99 exceeds ``KNEE_FACTOR`` (2) times
  its value at the lowest rate measured, i.e. where queueing starts to dominate the tail.
  None with fewer than two rates, or when no rate crosses it.
* **Peak**: the highest offered rate whose verdict is VALID; None when no cell of the curve
  has a verdict (no latency bound) or none is VALID. A cell of several runs is VALID only when
  every run is (``CellSummary.verdict``).

Several runs of one cell (repeats) are combined by the median of each figure; the queue depth
by its maximum.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

from inferclock._analysis import cell as _cell
from inferclock._analysis.summary import precision_rank
from inferclock._analysis.table import ResultTable
from inferclock._common.text import fmt_num
from inferclock._platform import host as _host
from inferclock._timing import schema as _schema
from inferclock._timing.load_checks import OPEN_LOOP

__all__ = [
    "KNEE_FACTOR",
    "RateCurve",
    "RatePoint",
    "TuneSurface",
    "group",
    "knee_qps",
    "peak_qps",
    "rate_curves",
    "tune_surfaces",
]

_T = TypeVar("_T")
_K = TypeVar("_K", bound=Hashable)


def group(items: Iterable[_T], key: Callable[[_T], _K]) -> dict[_K, list[_T]]:
    """``items`` by ``key(item)``, groups and their members in first-seen order."""
    groups: dict[_K, list[_T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


#: The knee is where due-time p99 first exceeds this multiple of its lowest-rate value.
KNEE_FACTOR = 2.0


@dataclass(frozen=True)
class RatePoint:
    """One open-loop cell (its runs combined): latencies in ns, rates in queries/s."""

    key: str
    mode: str
    qps: float  # asked: the schedule's rate
    offered_qps: float | None  # measured take-up rate
    achieved_qps: float | None
    due_p50_ns: float | None  # due-time latency (completed - due), with its 95% interval
    due_p50_ci: tuple[float, float] | None
    due_p99_ns: float | None
    due_p99_ci: tuple[float, float] | None
    issue_p50_ns: float | None  # issue-time latency (completed - started)
    issue_p99_ns: float | None
    delay_p50_ns: float | None  # issued - due: the issuer's own lateness
    delay_p99_ns: float | None
    max_queue_depth: int | None
    verdict: str | None
    reason: str | None
    latency_bound_ms: float | None
    runs: int


@dataclass(frozen=True)
class RateCurve:
    """The open-loop cells of one (model, device, precision, batch, mode, host), by rate;
    ``host`` is the cells' ``CellSummary.host`` (a label)."""

    model: str
    device: str
    precision: str
    batch_size: int
    mode: str
    host: str | None
    points: tuple[RatePoint, ...]  # ascending qps

    @property
    def title(self) -> str:
        return f"{self.model} on {self.device}, {self.precision}, batch {self.batch_size}, " + (
            self.mode
        )

    @property
    def knee_qps(self) -> float | None:
        return knee_qps(self.points)

    @property
    def peak_qps(self) -> float | None:
        return peak_qps(self.points)

    @property
    def bounds_ms(self) -> list[float]:
        return sorted({p.latency_bound_ms for p in self.points if p.latency_bound_ms is not None})


def knee_qps(points: Sequence[RatePoint]) -> float | None:
    """The lowest rate whose due-time p99 exceeds ``KNEE_FACTOR`` x that of the lowest rate."""
    pts = sorted(points, key=lambda p: p.qps)
    base = pts[0].due_p99_ns if pts else None
    if len(pts) < 2 or not finite(base):
        return None
    for p in pts[1:]:
        if finite(p.due_p99_ns) and p.due_p99_ns > KNEE_FACTOR * base:
            return p.qps
    return None


def peak_qps(points: Sequence[RatePoint]) -> float | None:
    """The highest rate whose verdict is VALID (None without one)."""
    valid = [p.qps for p in points if p.verdict == "VALID"]
    return max(valid) if valid else None


def finite(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and math.isfinite(v)


def _med(values: Sequence[Any]) -> float | None:
    v = [float(x) for x in values if isinstance(x, (int, float)) and math.isfinite(x)]
    return statistics.median(v) if v else None


def _pct(rows: Sequence[Mapping[str, Any]], name: str, flat: str) -> tuple[Any, Any]:
    """(value, (low, high) or None) of a due-time percentile: the runs' own combined
    (``_cell.percentile_figure``, the one definition of a cell's percentile)."""
    c = _cell.combine_rows(rows, name)
    if c is None:
        return _med([_schema.get(r, flat) for r in rows]), None
    return c.estimate, (c.low, c.high) if c.low is not None and c.high is not None else None


def _server(rows: Sequence[Mapping[str, Any]], *path: str) -> float | None:
    vals = []
    for r in rows:
        v: Any = _schema.get(r, "server") or {}
        for k in path:
            v = v.get(k) if isinstance(v, Mapping) else None
        vals.append(v)
    return _med(vals)


def _reason(rows: Sequence[Mapping[str, Any]], verdict: str | None) -> str | None:
    """The reasons of the runs that gave the cell its verdict (distinct ones, joined)."""
    mine = [r for r in rows if _schema.get(r, "verdict") == verdict] or list(rows)
    reasons = dict.fromkeys(str(v) for r in mine if (v := _schema.get(r, "verdict_reason")))
    return "; ".join(reasons) or None


def rate_curves(table: ResultTable) -> list[RateCurve]:
    """The open-loop cells of ``table`` with at least one row without error, as curves."""
    rows_of = group(table.ok(), lambda r: (_schema.at(r, "key"), *_host.group_key(r)))
    points: dict[tuple[tuple[str, str, str, int, str, str | None], str | None], list[RatePoint]]
    points = {}
    for s in table.summary():
        if s.mode not in OPEN_LOOP or s.qps is None:
            continue
        rows = rows_of[(s.key, s.host_id, s.host)]
        depths = [
            d for r in rows
            if isinstance(d := (_schema.get(r, "server") or {}).get("max_queue_depth"), int)
        ]  # fmt: skip
        bound = _med([_schema.get(r, "latency_bound_ms") for r in rows])
        p50, p50_ci = _pct(rows, "p50", "latency_median_ns")
        p99, p99_ci = _pct(rows, "p99", "latency_p99_ns")
        point = RatePoint(
            key=s.key, mode=s.mode, qps=s.qps,
            offered_qps=_server(rows, "offered_qps"), achieved_qps=_server(rows, "achieved_qps"),
            due_p50_ns=p50, due_p50_ci=p50_ci, due_p99_ns=p99, due_p99_ci=p99_ci,
            issue_p50_ns=_server(rows, "issue_latency_ns", "p50"),
            issue_p99_ns=_server(rows, "issue_latency_ns", "p99"),
            delay_p50_ns=_server(rows, "issue_delay_ns", "p50"),
            delay_p99_ns=_server(rows, "issue_delay_ns", "p99"),
            max_queue_depth=max(depths) if depths else None,
            verdict=s.verdict, reason=_reason(rows, s.verdict), latency_bound_ms=bound,
            runs=s.runs,
        )  # fmt: skip
        gk = (s.model, s.device, s.precision_requested, s.batch_size, s.mode, s.host)
        points.setdefault((gk, s.host_id), []).append(point)  # one label, two machines: 2 curves
    curves = [
        RateCurve(*gk, points=tuple(sorted(pts, key=lambda p: p.qps)))
        for (gk, _), pts in points.items()
    ]
    curves.sort(key=lambda c: (c.model, c.device, precision_rank(c.precision), c.batch_size,
                               c.mode, str(c.host)))  # fmt: skip
    return curves


@dataclass(frozen=True)
class TuneSurface:
    """Throughput over (streams x requests) of one (model, device, precision, host, threads,
    batch): ``values[i][j]`` for ``streams[i]``, ``requests[j]`` (NaN where not measured).
    None in ``streams``/``requests`` is the device's own choice ("auto"). ``hint_fps``: what
    a tune file's baseline rows (the THROUGHPUT hint) measured at that batch size."""

    title: str
    streams: tuple[int | None, ...]
    requests: tuple[int | None, ...]
    values: tuple[tuple[float, ...], ...]
    hint_fps: float | None = None


def _axis_key(v: int | None) -> tuple[int, int]:
    return (0, 0) if v is None else (1, v)


_CONFIG = _schema.names("streams_requested", "requests_requested", "threads_requested")


def _fps(r: Mapping[str, Any]) -> Any:
    return _schema.at(r, "throughput_fps")


def _config(r: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    streams, requests, threads = (_schema.get(r, f) for f in _CONFIG)
    return streams, requests, threads


def tune_surfaces(table: ResultTable) -> list[TuneSurface]:
    """The tuning surfaces of ``table``'s throughput-mode rows: for each (model, device,
    precision, host) whose rows set at least two (streams, requests, threads) configurations,
    one surface per (threads, batch). A tune file's baseline rows (``tune_role``
    "baseline") are not points of the surface: their value goes in its title. [] when there
    is nothing to plot."""
    rows = [
        r for r in table.ok()
        if _schema.get(r, "mode") == "throughput" and finite(_schema.get(r, "throughput_fps"))
    ]  # fmt: skip
    several_hosts = len(table.hosts()) > 1
    out: list[TuneSurface] = []
    groups = group(
        rows,
        lambda r: (_schema.get(r, "model"), _schema.get(r, "device"),
                   _schema.get(r, "precision_requested"), *_host.group_key(r)),
    )  # fmt: skip
    for (model, device, prec, _, host), rs in groups.items():
        points = [r for r in rs if _schema.get(r, "tune_role") != "baseline"]
        baselines = [r for r in rs if _schema.get(r, "tune_role") == "baseline"]
        if len({_config(r) for r in points}) < 2:
            continue
        panels = group(
            points, lambda r: (_schema.get(r, "threads_requested"), _schema.get(r, "batch_size"))
        )
        for threads, batch in sorted(panels, key=lambda k: (_axis_key(k[0]), k[1] or 0)):
            prs = panels[(threads, batch)]
            streams = tuple(sorted({_config(r)[0] for r in prs}, key=_axis_key))
            requests = tuple(sorted({_config(r)[1] for r in prs}, key=_axis_key))
            by = group(prs, lambda r: _config(r)[:2])
            values = tuple(
                tuple(_med([_fps(r) for r in by.get((s, q), [])]) or math.nan
                      for q in requests)
                for s in streams
            )  # fmt: skip
            base = [r for r in baselines if _schema.at(r, "batch_size") == batch]
            hint = _med([_fps(r) for r in base])
            title = (
                f"{model} on {device}, {prec}, threads {threads or 'auto'}, batch {batch}"
                + (f" [{host}]" if several_hosts else "")
                + ("" if hint is None else f"\nTHROUGHPUT hint: {fmt_num(hint)}/s")
            )
            out.append(TuneSurface(title, streams, requests, values, hint))
    return out
