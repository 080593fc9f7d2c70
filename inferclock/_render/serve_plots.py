"""The report's open-loop and tuning figures: latency against offered rate for each
``RateCurve``, and each ``TuneSurface`` as a heat map. What they show (knee, peak, the
surfaces) is computed in ``_analysis.rates``; figures are drawn like ``_render.plots``':
matplotlib ``Figure`` objects on the Agg canvas, saved as PNG and SVG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inferclock._analysis.rates import KNEE_FACTOR, RateCurve, TuneSurface, finite
from inferclock._common.text import fmt_num
from inferclock._render.plots import _grid, _save, _span_log

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_tuning", "plot_vs_rate"]

# (label, RatePoint field, its interval field or None, line style, marker, color)
_SERIES = (
    ("due-time p50", "due_p50_ns", "due_p50_ci", "-", "o", "#1f77b4"),
    ("due-time p99", "due_p99_ns", "due_p99_ci", "-", "v", "#d62728"),
    ("issue-time p50", "issue_p50_ns", None, "--", "o", "#7fa7cf"),
    ("issue-time p99", "issue_p99_ns", None, "--", "v", "#e89a9a"),
)


def _draw_curve(ax: Axes, c: RateCurve, show_host: bool) -> None:
    plotted: list[float] = []
    for label, field, ci_field, ls, marker, color in _SERIES:
        pts = [(p, getattr(p, field)) for p in c.points if finite(getattr(p, field))]
        if not pts:
            continue
        x = [p.qps for p, _ in pts]
        y = [v / 1e6 for _, v in pts]
        err = None
        if ci_field is not None:
            cis = [getattr(p, ci_field) or (v, v) for p, v in pts]
            err = [
                [max(0.0, (v - lo) / 1e6) for (_, v), (lo, _) in zip(pts, cis, strict=True)],
                [max(0.0, (hi - v) / 1e6) for (_, v), (_, hi) in zip(pts, cis, strict=True)],
            ]
        ax.errorbar(x, y, yerr=err, ls=ls, marker=marker, ms=4, color=color, capsize=3,
                    label=label)  # fmt: skip
        plotted += y
        if err:  # an interval's top counts for the log-scale rule: it is drawn too
            plotted += [v + e for v, e in zip(y, err[1], strict=True)]
    bad = [(p.qps, p.due_p99_ns / 1e6) for p in c.points
           if p.verdict == "INVALID" and finite(p.due_p99_ns)]  # fmt: skip
    if bad:
        ax.plot(*zip(*bad, strict=True), ls="none", marker="x", ms=9, color="black",
                label="INVALID")  # fmt: skip
    for b in c.bounds_ms:
        ax.axhline(b, color="#b22222", ls=":", lw=1.2, label=f"bound {b:g} ms")
        plotted.append(b)
    if (knee := c.knee_qps) is not None:
        ax.axvline(
            knee,
            color="#ff7f0e",
            ls="-.",
            lw=1.2,
            label=f"knee {knee:g} qps (p99 > {KNEE_FACTOR:g}x)",
        )
    if (peak := c.peak_qps) is not None:
        ax.axvline(peak, color="#2ca02c", ls="-", lw=1.5, alpha=0.7, label=f"peak {peak:g} qps")
    if _span_log(plotted):
        ax.set_yscale("log")
    if _span_log(p.qps for p in c.points):
        ax.set_xscale("log")
    ax.set_xlabel("offered rate (queries/s, as scheduled)")
    ax.set_ylabel("latency (ms)")
    ax.set_title(c.title + (f" [{c.host}]" if show_host else ""), fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)


def plot_vs_rate(fig_cls: type[Figure], curves: Sequence[RateCurve], out: Path) -> list[str]:
    """Latency percentiles against offered rate, one panel per curve; [] without curves."""
    if not curves:
        return []
    fig, axes = _grid(fig_cls, len(curves), w=5.6, h=4.0)
    hosts = len({c.host for c in curves}) > 1
    for ax, c in zip(axes, curves, strict=True):
        _draw_curve(ax, c, hosts)
    fig.suptitle(
        "Latency vs offered rate\nsolid: due-time (95% CI), dashed: issue-time",
        fontsize=10,
    )
    return _save(fig, out, "serve_latency")


def _tick(v: int | None) -> str:
    return "auto" if v is None else str(v)


def plot_tuning(fig_cls: type[Figure], surfaces: Sequence[TuneSurface], out: Path) -> list[str]:
    """A heatmap of throughput over streams x requests per surface, the best cell boxed;
    [] without surfaces."""
    from matplotlib.patches import Rectangle

    if not surfaces:
        return []
    fig, axes = _grid(fig_cls, len(surfaces), w=4.8, h=3.8)
    for ax, s in zip(axes, surfaces, strict=True):
        v = np.array(s.values, dtype=np.float64)
        im = ax.imshow(np.ma.masked_invalid(v), cmap="viridis", origin="lower", aspect="auto")
        fig.colorbar(im, ax=ax, label="samples/s")
        for (i, j), x in np.ndenumerate(v):
            if math.isfinite(x):
                ax.text(j, i, fmt_num(float(x)), ha="center", va="center", fontsize=7,
                        color="white" if x < np.nanmax(v) * 0.6 else "black")  # fmt: skip
        if np.isfinite(v).any():
            bi, bj = np.unravel_index(int(np.nanargmax(v)), v.shape)
            ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, ec="red", lw=2))
        ax.set_xticks(range(len(s.requests)), [_tick(q) for q in s.requests])
        ax.set_yticks(range(len(s.streams)), [_tick(q) for q in s.streams])
        ax.set_xlabel("infer requests")
        ax.set_ylabel("streams")
        ax.set_title(s.title, fontsize=9)
    fig.suptitle("Tuning surface: throughput (samples/s)\nby streams x requests, best boxed")
    return _save(fig, out, "tuning")
