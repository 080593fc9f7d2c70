"""The report's figures for many cells: past ``PANELS_MAX`` panels (``STARTUP_MAX`` start-up
bars) a figure draws every cell in one panel instead of one panel per group.

One panel per (model, device) or per CDF cell costs a matplotlib Axes each, drawn twice (PNG
and SVG) on a canvas that grows with them: a 1000-cell sweep took minutes and gigabytes, and
gave pictures nobody could read. Past the limit:

* ``latency`` / ``throughput``: one panel, a thin line per (model, device, precision, mode)
  against batch size, coloured by precision;
* ``latency_cdf``: one panel, each cell's CDF against its latency relative to the cell's own
  median (the shapes of the tails side by side), coloured by precision;
* ``startup``: one panel, a dot per cell and stage (read, reshape, compile, first inference).

Every cell is still drawn; each one's figures are in the report's tables. The functions here
choose the layout and hand the few-panel case to ``_render.plots`` unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from inferclock._analysis.rates import group
from inferclock._analysis.table import CellSummary, ResultTable
from inferclock._render import plots as _plots
from inferclock._render.plot_hosts import ALL_HOSTS, HostSlice
from inferclock._render.ticks import mode_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Panels of one figure past which its cells are drawn in one panel.
PANELS_MAX = 24
#: Start-up bars (cells) past which they become dots.
STARTUP_MAX = 60
_CURVE_POINTS = 100  # points per cell's CDF in the combined figure (keeps the SVG small)

COMBINED_NOTE = (
    f"A figure that would need more than {PANELS_MAX} panels ({STARTUP_MAX} start-up bars) "
    "draws every cell in one panel instead: latency and throughput a line per model, device, "
    "precision and mode; latency distributions each cell's CDF relative to its own median; "
    "start-up a dot per cell and stage. Each cell's figures are in the tables."
)


def _legend_by_precision(
    ax: Axes,
    colors: dict[str, str],
    loc: Literal["upper left", "lower right"],
    modes: Sequence[str] = (),
    mode_lines: bool = True,
) -> None:
    """A legend of the precisions' colours, and with several ``modes`` how each is drawn
    (its shade and marker, and its line style where ``mode_lines``: not in the CDFs, where
    a dashed line means a curve through recorded percentiles)."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, label=p) for p, c in colors.items()]
    for m in modes if len(modes) > 1 else ():
        style = mode_style("#555555", m)
        if not mode_lines:
            style["ls"] = "none"
        handles.append(Line2D([], [], label=m, **style))
    # A fixed place: "best" searches every point of every line drawn (slow with thousands).
    ax.legend(handles=handles, fontsize=8, title="precision", loc=loc)


def plot_vs_batch(
    fig_cls: type[Figure],
    summ: Sequence[CellSummary],
    out: Path,
    m: Any,
    host: HostSlice = ALL_HOSTS,
) -> list[str]:
    """``_render.plots.plot_vs_batch``, or past ``PANELS_MAX`` (model, device) panels every
    cell's line in one panel."""
    cells = [s for s in summ if m.has(s)]
    if len({(s.model, s.device) for s in cells}) <= PANELS_MAX:
        return _plots.plot_vs_batch(fig_cls, summ, out, m, host)
    colors = _plots._colors(s.precision_requested for s in cells)
    fig = fig_cls(figsize=(10.0, 6.0), layout="constrained")
    ax = fig.add_subplot()
    plotted: list[float] = []
    lines = group(cells, lambda s: (s.model, s.device, s.precision_requested, s.mode))
    for (_model, _device, prec, mode), line in lines.items():
        line.sort(key=lambda s: s.batch_size)
        y = [m.value(s) for s in line]
        plotted += y
        ax.plot(
            [s.batch_size for s in line],
            y,
            **mode_style(colors[prec], mode),
            ms=3,
            lw=0.8,
            alpha=0.6,
        )
    if _plots._span_log(plotted):
        ax.set_yscale("log")
    _plots._batch_axis(ax, [s.batch_size for s in cells])
    ax.set_ylabel(m.ylabel)
    ax.grid(True, which="major", alpha=0.3)
    _legend_by_precision(ax, colors, "upper left", sorted({s.mode for s in cells}))
    n = len({(s.model, s.device) for s in cells})
    ax.set_title(
        f"{len(cells)} cells of {n} (model, device) pairs, one line per pair and precision"
    )
    fig.suptitle(host.title(m.title.split(":")[0]))
    return _plots._save(fig, out, host.stem(m.stem))


def plot_cdf(
    fig_cls: type[Figure],
    table: ResultTable,
    summ: Sequence[CellSummary],
    out: Path,
    host: HostSlice = ALL_HOSTS,
) -> tuple[list[str], dict[str, list[str]]]:
    """``_render.plots.plot_cdf``, or past ``PANELS_MAX`` panels every cell's CDF in one panel,
    against its latency relative to its own median."""
    panels = {(s.model, s.device, s.mode, s.batch_size) for s in summ}
    if len(panels) <= PANELS_MAX:
        return _plots.plot_cdf(fig_cls, table, summ, out, host)
    curves, sources = _plots.cell_cdfs(table, summ)
    if not curves:
        return [], sources
    colors = _plots._colors(s.precision_requested for s, _ in curves)
    fig = fig_cls(figsize=(10.0, 6.0), layout="constrained")
    ax = fig.add_subplot()
    for s, (x, f, src) in curves:
        mid = float(np.interp(0.5, f, x))
        if not mid > 0:
            continue
        idx = np.unique(np.linspace(0, len(x) - 1, min(_CURVE_POINTS, len(x))).astype(int))
        style = mode_style(colors[s.precision_requested], s.mode)
        ax.plot(
            x[idx] / mid,
            f[idx],
            color=style["color"],
            ls="--" if src == "percentiles" else "-",
            marker=style["marker"],
            mfc=style["mfc"],
            markevery=max(1, len(idx) // 4),  # a few: the mode, without hiding the curve
            ms=3,
            lw=0.8,
            alpha=0.5,
        )
    ax.set_xscale("log")
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("latency / the cell's median")
    ax.set_ylabel("fraction of inferences")
    ax.set_title(f"{len(curves)} cells, one curve each (dashed: from recorded percentiles)")
    ax.grid(True, alpha=0.3)
    modes = sorted({s.mode for s, _ in curves})
    _legend_by_precision(ax, colors, "lower right", modes, mode_lines=False)
    fig.suptitle(host.title("Latency distribution (CDF) per cell, relative to its median"))
    return _plots._save(fig, out, host.stem("latency_cdf")), sources


def plot_startup(
    fig_cls: type[Figure], summ: Sequence[CellSummary], out: Path, host: HostSlice = ALL_HOSTS
) -> list[str]:
    """``_render.plots.plot_startup``, or past ``STARTUP_MAX`` cells a dot per cell and stage."""
    cells = [s for s in summ if any(getattr(s, f) is not None for f, _, _ in _plots._STARTUP)]
    if len(cells) <= STARTUP_MAX:
        return _plots.plot_startup(fig_cls, summ, out, host)
    fig = fig_cls(figsize=(9.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)  # jitter: the same picture for the same table
    stages: list[str] = []
    for f, label, color in _plots._STARTUP:
        v = np.array([x for s in cells if (x := getattr(s, f)) is not None and x > 0], float)
        if not v.size:
            continue
        y = len(stages)
        stages.append(label)
        ax.scatter(v, y + rng.uniform(-0.3, 0.3, v.size), s=6, color=color, alpha=0.5)
        ax.vlines(float(np.median(v)), y - 0.4, y + 0.4, color="black", lw=1.5)
    ax.set_yticks(range(len(stages)), stages)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("time (ms), median over processes; bar: the median over cells")
    ax.set_title(host.title(f"Start-up of {len(cells)} cells: a dot per cell and stage"))
    ax.grid(True, axis="x", alpha=0.3)
    return _plots._save(fig, out, host.stem("startup"))
