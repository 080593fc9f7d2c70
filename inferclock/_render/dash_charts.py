"""The published dashboard's charts, drawn as inline SVG from the site's records.

This module owns what each chart shows: a cell's history on a commit axis with its interval
band, a hover on every point (commit, date, versions, value and interval) linking to the
run, and the detected steps marked (:func:`history_chart`); the index's sparkline of a cell
(:func:`sparkline`); several lines on one chart, one per parameter combination
(:func:`lines_chart`, with :func:`legend`); and the latest run's percentiles on a log axis
with plain tick labels (:func:`percentile_chart`). The SVG parts are
:mod:`inferclock._render.svg`'s; the records, :mod:`inferclock._render.dash_records`'.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from inferclock._common.text import fmt_num
from inferclock._render import svg as s

if TYPE_CHECKING:
    from inferclock._render.dash_records import CellData, Point, StepMark

__all__ = [
    "Mark",
    "Series",
    "commit_label",
    "history_chart",
    "interval_text",
    "legend",
    "lines_chart",
    "pct_order",
    "percentile_chart",
    "point_title",
    "sparkline",
    "step_text",
]

LINE = "#0969da"


def interval_text(v: float, lo: float | None, hi: float | None) -> str:
    """``v [lo, hi]``, or ``v`` alone without an interval."""
    if lo is None or hi is None:
        return fmt_num(v)
    return f"{fmt_num(v)} [{fmt_num(lo)}, {fmt_num(hi)}]"


def commit_label(p: Point) -> tuple[str, str]:
    """A point's x label: the short commit (else ``run ID``) and the run's date."""
    return (p.commit[:7] if p.commit else f"run {p.run_id}"), p.at[:10]


def point_title(cell: CellData, p: Point) -> str:
    """A point's hover text: commit and date, value with its interval, versions, run."""
    versions = ", ".join(
        f"{name} {v}" for name, v in (("inferclock", p.version), ("openvino", p.openvino)) if v
    )
    return "\n".join(
        x
        for x in (
            f"commit {p.commit[:12] if p.commit else '-'} · {p.at[:19]}",
            f"{cell.metric} {interval_text(p.value, p.low, p.high)} {cell.unit}"
            + (" (95% CI)" if p.low is not None and p.high is not None else ""),
            versions,
            f"run {p.run_id}",
        )
        if x
    )


def step_text(cell: CellData, st: StepMark) -> str:
    """One line for a step: direction, change, where it starts, the levels around it."""
    where = ", ".join(
        x
        for x in (f"run {st.index + 1}", st.commit and f"commit {st.commit[:10]}", st.version)
        if x
    )
    return (
        f"{st.direction} {100 * (st.ratio - 1):+.1f}% ({where}): "
        f"{fmt_num(st.before)} -> {fmt_num(st.after)} {cell.unit}"
    )


def _levels(cell: CellData) -> list[float]:
    vals = [p.value for p in cell.points]
    vals += [v for p in cell.points for v in (p.low, p.high) if v is not None]
    vals += [v for st in cell.steps for v in (st.before, st.after)]
    return vals


def history_chart(cell: CellData, run_href: Callable[[Point], str | None]) -> str:
    """The cell's history: one point per run on a commit axis (oldest first), the interval as
    a band and a whisker per point, each point's hover (:func:`point_title`) linking to
    ``run_href(point)``; each step a dashed line with the levels before and after it."""
    pts = cell.points
    box = s.Box(860, 300, left=70, bottom=62)
    y = s.Scale.fit(_levels(cell), box.y0, box.y1)
    xs = [box.slot(i, len(pts)) for i in range(len(pts))]
    out = [
        s.frame(
            box,
            y,
            y_title=f"{cell.metric} ({cell.unit})",
            x_title="commit (date of the run)",
            x_labels=[(x, *commit_label(p)) for x, p in zip(xs, pts, strict=True)],
        ),
        s.band(xs, [p.low for p in pts], [p.high for p in pts], y, LINE),
        *(s.whisker(x, p.low, p.high, y, LINE) for x, p in zip(xs, pts, strict=True)),
        s.line([(x, y(p.value)) for x, p in zip(xs, pts, strict=True)], LINE),
    ]
    for st in cell.steps:
        if not 0 < st.index < len(pts):
            continue
        color = s.REGRESSION if st.direction == "regression" else s.IMPROVEMENT
        at = (xs[st.index - 1] + xs[st.index]) / 2
        out.append(
            f'<g class="step {s.esc(st.direction)}"><title>{s.esc(step_text(cell, st))}</title>'
            f'<line x1="{at}" x2="{at}" y1="{box.y1}" y2="{box.y0}" stroke="{color}" '
            'stroke-width="1.5" stroke-dasharray="5 3"/>'
            + s.line([(xs[0], y(st.before)), (at, y(st.before))], color, width=1, dash="2 2")
            + s.line([(at, y(st.after)), (xs[-1], y(st.after))], color, width=1, dash="2 2")
            + f'<text class="steplabel" x="{at + 4}" y="{box.y1 + 12}">'
            f"{s.esc(st.direction)} {100 * (st.ratio - 1):+.1f}%</text></g>"
        )
    for x, p in zip(xs, pts, strict=True):
        out.append(s.point(s.marker(x, y(p.value), LINE), point_title(cell, p), run_href(p)))
    return s.svg(box, "".join(out), label=f"history of {cell.key}", cls="chart history")


def sparkline(cell: CellData) -> str:
    """A small chart of the cell's history for the index: the band, the line, the steps as
    coloured ticks, the newest point as a dot; its hover names the latest value."""
    pts = cell.points
    box = s.Box(240, 56, left=2, right=6, top=4, bottom=4)
    y = s.Scale.fit([p.value for p in pts] + [v for p in pts for v in (p.low, p.high) if v], box.y0,
                    box.y1)  # fmt: skip
    xs = [box.slot(i, len(pts)) for i in range(len(pts))]
    out = [
        s.band(xs, [p.low for p in pts], [p.high for p in pts], y, LINE),
        s.line([(x, y(p.value)) for x, p in zip(xs, pts, strict=True)], LINE, width=1.2),
    ]
    for st in cell.steps:
        if 0 < st.index < len(pts):
            color = s.REGRESSION if st.direction == "regression" else s.IMPROVEMENT
            at = (xs[st.index - 1] + xs[st.index]) / 2
            out.append(
                f'<line class="step" x1="{at}" x2="{at}" y1="{box.y1}" y2="{box.y0}" '
                f'stroke="{color}" stroke-width="1.2" stroke-dasharray="3 2"/>'
            )
    last = pts[-1]
    out.append(s.marker(xs[-1], y(last.value), LINE, r=2.5))
    title = (
        f"{cell.key}: {len(pts)} runs, latest {cell.metric} "
        f"{interval_text(last.value, last.low, last.high)} {cell.unit}"
    )
    return s.svg(box, f"<title>{s.esc(title)}</title>" + "".join(out), label=title, cls="spark")


@dataclass(frozen=True)
class Mark:
    """One point of a line: at x position ``i``, its value with its interval and hover."""

    i: int
    value: float
    low: float | None
    high: float | None
    title: str
    href: str | None = None


@dataclass(frozen=True)
class Series:
    """One line of :func:`lines_chart`: a parameter combination's points."""

    name: str
    marks: tuple[Mark, ...]


def _style(k: int) -> tuple[str, str]:
    return s.PALETTE[k % len(s.PALETTE)], s.MARKERS[k % len(s.MARKERS)]


def lines_chart(
    series: Sequence[Series],
    x_labels: Sequence[tuple[str, str]],
    *,
    y_title: str,
    x_title: str,
    label: str,
    log: bool = False,
) -> str:
    """Several lines on one chart, each in its own colour and marker (:func:`legend` names
    them), over the categorical x axis ``x_labels``; every point with its whisker and hover."""
    box = s.Box(860, 320, left=70, bottom=62)
    vals = [v for se in series for m in se.marks for v in (m.value, m.low, m.high) if v is not None]
    y = s.Scale.fit(vals, box.y0, box.y1, log=log)
    xs = [box.slot(i, len(x_labels)) for i in range(len(x_labels))]
    labels = [(x, a, b) for x, (a, b) in zip(xs, x_labels, strict=True)]
    out = [s.frame(box, y, y_title=y_title, x_title=x_title, x_labels=labels)]
    for k, se in enumerate(series):
        color, shape = _style(k)
        body = [s.line([(xs[m.i], y(m.value)) for m in se.marks], color)]
        body += [s.whisker(xs[m.i], m.low, m.high, y, color) for m in se.marks]
        body += [
            s.point(s.marker(xs[m.i], y(m.value), color, shape), f"{se.name}\n{m.title}", m.href)
            for m in se.marks
        ]
        out.append(f'<g class="series">{"".join(body)}</g>')
    return s.svg(box, "".join(out), label=label, cls="chart lines")


def legend(series: Sequence[Series]) -> str:
    """The HTML legend of :func:`lines_chart`'s lines, in the same colours and markers."""
    items = []
    for k, se in enumerate(series):
        color, shape = _style(k)
        swatch = s.svg(s.Box(14, 14, 0, 0, 0, 0), s.marker(7, 7, color, shape, r=4.5),
                       label="", cls="swatch")  # fmt: skip
        items.append(f"<li>{swatch} {s.esc(se.name)}</li>")
    return f'<ul class="legend">{"".join(items)}</ul>'


def pct_order(name: str) -> float:
    """Where percentile ``name`` (``p99.9``) sorts: by its number, other names last."""
    m = re.fullmatch(r"p(\d+(?:\.\d+)?)", name)
    return float(m.group(1)) if m else math.inf


def percentile_chart(cell: CellData) -> str:
    """The latest run's percentiles (in increasing order) with their intervals on a log axis,
    so a p99 far above the median leaves p50-p95 readable; "" when there are none."""
    pct = sorted((p for p in cell.percentiles if p[1] > 0), key=lambda p: pct_order(p[0]))
    if not pct:
        return ""
    se = Series(
        "latest run",
        tuple(
            Mark(i, v, lo, hi, f"{name}: {interval_text(v, lo, hi)} {cell.unit}")
            for i, (name, v, lo, hi) in enumerate(pct)
        ),
    )
    box = s.Box(560, 300, left=70, bottom=46)
    vals = [v for m in se.marks for v in (m.value, m.low, m.high) if v is not None and v > 0]
    y = s.Scale.fit(vals, box.y0, box.y1, log=True)
    xs = [box.slot(i, len(pct)) for i in range(len(pct))]
    out = [
        s.frame(
            box,
            y,
            y_title=f"latency ({cell.unit}, log scale)",
            x_title="percentile",
            x_labels=[(x, p[0], "") for x, p in zip(xs, pct, strict=True)],
        ),
        s.line([(xs[m.i], y(m.value)) for m in se.marks], "#8250df"),
        *(s.whisker(xs[m.i], m.low, m.high, y, "#8250df") for m in se.marks),
        *(s.point(s.marker(xs[m.i], y(m.value), "#8250df", "square"), m.title) for m in se.marks),
    ]
    return s.svg(box, "".join(out), label=f"latest percentiles of {cell.key}", cls="chart pct")
