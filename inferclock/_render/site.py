"""The published dashboard from plain inputs: the cell records, their charts and pages.

This module owns what the site shows and how it is laid out: :class:`CellData` (one cell on
one host: its runs' values with intervals, the detected steps, the latest run's percentiles),
the inline SVG charts drawn with matplotlib (no script, no asset beside the page), and
:func:`write_site`, which writes ``index.html`` and one ``cells/<name>.html`` per cell with
relative links only. Filling :class:`CellData` from a history is
:mod:`inferclock._render.publish`'s.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from inferclock._common.outfile import write_atomic
from inferclock._common.text import fmt_num
from inferclock._render.html import page
from inferclock._render.literal import literal_labels, literal_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["CellData", "Point", "StepMark", "cell_file", "write_site"]


@dataclass(frozen=True)
class Point:
    """One run of a cell: its value and interval (in the cell's ``unit``) and where it came from."""

    run_id: str
    at: str
    commit: str | None
    version: str | None
    value: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class StepMark:
    """A detected step: it starts at ``points[index]``; ``ratio`` = after / before."""

    index: int
    before: float
    after: float
    ratio: float
    direction: str  # "regression" or "improvement"
    commit: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class CellData:
    """One cell on one host, as the site shows it. ``percentiles``: (name, value, low, high)
    of the latest run, in ``unit``."""

    key: str
    host: str | None
    metric: str
    unit: str
    points: tuple[Point, ...]
    steps: tuple[StepMark, ...] = ()
    percentiles: tuple[tuple[str, float, float | None, float | None], ...] = ()


def cell_file(cell: CellData) -> str:
    """The cell page's path relative to the site root: readable, unique, safe on any server."""
    ident = f"{cell.key}\0{cell.host or ''}"
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", cell.key).strip("_.")[:60] or "cell"
    return f"cells/{stem}-{hashlib.sha256(ident.encode()).hexdigest()[:8]}.html"


def _svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (text drawn as paths: no font needed)."""
    buf = io.StringIO()
    literal_labels(fig).savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg") :]


def _interval(v: float, lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None:
        return fmt_num(v)
    return f"{fmt_num(v)} [{fmt_num(lo)}, {fmt_num(hi)}]"


def history_svg(fig_cls: type[Figure], cell: CellData) -> str:
    """The cell's values by run with their intervals; each step a dashed line and the levels
    before and after it."""
    fig = fig_cls(figsize=(8, 3.4))
    ax = fig.subplots()
    xs = list(range(len(cell.points)))
    ys = [p.value for p in cell.points]
    err = [
        [p.value - (p.low if p.low is not None else p.value) for p in cell.points],
        [(p.high if p.high is not None else p.value) - p.value for p in cell.points],
    ]
    ax.errorbar(xs, ys, yerr=err, fmt="o-", ms=3, lw=1, capsize=2, color="#0969da")
    for s in cell.steps:
        color = "#b3261e" if s.direction == "regression" else "#1a7f37"
        ax.axvline(s.index - 0.5, color=color, ls="--", lw=1.2)
        ax.hlines([s.before], 0, s.index - 0.5, colors=color, lw=0.8, alpha=0.6)
        ax.hlines([s.after], s.index - 0.5, len(xs) - 1, colors=color, lw=0.8, alpha=0.6)
        ax.annotate(
            f"{s.direction} x{s.ratio:.3f}", (s.index - 0.5, max(ys)), color=color,
            fontsize=8, ha="left", va="top", xytext=(3, 0), textcoords="offset points",
        )  # fmt: skip
    ax.set_xlabel("run (oldest first)")
    ax.set_ylabel(f"{cell.metric} ({cell.unit})")
    ax.grid(alpha=0.3)
    return _svg(fig)


def percentile_svg(fig_cls: type[Figure], cell: CellData) -> str:
    """The latest run's percentiles with their intervals ("" when it has none)."""
    if not cell.percentiles:
        return ""
    fig = fig_cls(figsize=(6, 2.8))
    ax = fig.subplots()
    names = [p[0] for p in cell.percentiles]
    vals = [p[1] for p in cell.percentiles]
    err = [
        [v - (lo if lo is not None else v) for _, v, lo, _ in cell.percentiles],
        [(hi if hi is not None else v) - v for _, v, _, hi in cell.percentiles],
    ]
    ax.errorbar(range(len(vals)), vals, yerr=err, fmt="s-", ms=4, capsize=3, color="#8250df")
    ax.set_xticks(range(len(vals)), names)
    ax.set_ylabel(cell.unit)
    ax.grid(alpha=0.3)
    return _svg(fig)


def _step_text(cell: CellData) -> tuple[str, str]:
    """The index's step cell (HTML) and its CSS class."""
    if not cell.steps:
        return "-", ""
    s = cell.steps[-1]
    where = ", ".join(
        x for x in (f"run {s.index + 1}", s.commit and f"commit {s.commit[:10]}", s.version) if x
    )
    text = f"{s.direction} {100 * (s.ratio - 1):+.1f}% ({where})"
    if len(cell.steps) > 1:
        text += f"; {len(cell.steps)} steps in all"
    return html.escape(text), s.direction


def _index(cells: Sequence[CellData], title: str) -> str:
    rows = []
    for c in cells:
        last = c.points[-1]
        step, cls = _step_text(c)
        rows.append(
            f'<tr class="cell"><td><a href="{cell_file(c)}">{html.escape(c.key)}</a></td>'
            f"<td>{html.escape(c.host or '-')}</td><td>{html.escape(c.metric)} ({c.unit})</td>"
            f"<td>{_interval(last.value, last.low, last.high)}</td><td>{len(c.points)}</td>"
            f'<td class="{cls}">{step}</td></tr>'
        )
    n_steps = sum(bool(c.steps) for c in cells)
    body = (
        f"<h1>{html.escape(title)}</h1>\n<p>{len(cells)} cells, {n_steps} with a detected step. "
        "Latest: the newest run's value with its 95% interval. Step: a change of level larger "
        "than the noise (the newest one).</p>\n<table>\n<thead><tr><th>cell</th><th>host</th>"
        "<th>metric</th><th>latest [95% CI]</th><th>runs</th><th>step</th></tr></thead>\n"
        "<tbody>\n" + "\n".join(rows) + "\n</tbody>\n</table>"
    )
    return page(title, body)


def _cell_page(fig_cls: type[Figure], c: CellData, title: str) -> str:
    step, cls = _step_text(c)
    runs = "\n".join(
        f"<tr><td>{i + 1}</td><td>{html.escape(p.run_id)}</td><td>{html.escape(p.at)}</td>"
        f"<td>{html.escape((p.commit or '-')[:10])}</td><td>{html.escape(p.version or '-')}</td>"
        f"<td>{_interval(p.value, p.low, p.high)}</td></tr>"
        for i, p in reversed(list(enumerate(c.points)))
    )
    pct = percentile_svg(fig_cls, c)
    pct_rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{_interval(v, lo, hi)}</td></tr>"
        for n, v, lo, hi in c.percentiles
    )
    latest = (
        f"<h2>Latest distribution</h2>\n{pct}\n<table><thead><tr><th>percentile</th>"
        f"<th>{c.unit} [95% CI]</th></tr></thead><tbody>{pct_rows}</tbody></table>"
        if pct
        else '<h2>Latest distribution</h2>\n<p class="muted">No percentiles stored.</p>'
    )
    body = (
        f'<nav><a href="../index.html">&larr; all cells</a></nav>\n'
        f"<h1>{html.escape(c.key)}</h1>\n<p>Host: {html.escape(c.host or '-')}. "
        f'Step: <span class="{cls}">{step}</span></p>\n<h2>History</h2>\n'
        f"{history_svg(fig_cls, c)}\n{latest}\n<h2>Runs</h2>\n<table><thead><tr><th>#</th>"
        f"<th>run</th><th>at</th><th>commit</th><th>version</th><th>{html.escape(c.metric)} "
        f"({c.unit}) [95% CI]</th></tr></thead><tbody>\n{runs}\n</tbody></table>"
    )
    return page(f"{c.key} - {title}", body)


@literal_text  # cell names and percentile names are labels, never mathtext
def write_site(cells: Sequence[CellData], out: Path, *, title: str = "inferclock") -> Path:
    """Write ``index.html`` and the cell pages into the existing directory ``out``; returns
    the index's path. Cells without points are left out. Each page is written by temporary
    file and rename: a failed write (a full disk) leaves the old page or none, never half."""
    from inferclock._render.plots import figure_cls

    fig_cls = figure_cls()
    shown = [c for c in cells if c.points]
    (out / "cells").mkdir(exist_ok=True)
    for c in shown:
        write_atomic(out / cell_file(c), _cell_page(fig_cls, c, title))
    return write_atomic(out / "index.html", _index(shown, title))
