"""The report's profile figures: each profile's top layers as horizontal bars with their 95%
intervals, and the time by layer type of every profile side by side. Drawn like ``_render.plots``'
figures (``matplotlib.figure.Figure`` on the Agg canvas, never pyplot), saved as PNG and SVG.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inferclock._profiling.record import Profile
from inferclock._render.plots import _save

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")
_NAME_CHARS = 38  # longer layer names are shortened in the middle
#: Layer types drawn in the breakdown; the rest are pooled as "other".
MAX_TYPES = 12


def _short(name: str) -> str:
    if len(name) <= _NAME_CHARS:
        return name
    half = (_NAME_CHARS - 1) // 2
    return name[:half] + "~" + name[-half:]


def plot_top_layers(
    fig_cls: type[Figure], profiles: Sequence[Profile], out: Path, top: int = 15
) -> list[str]:
    """One panel per profile: its ``top`` layers by median time (ms), longest at the top, the
    whiskers their 95% intervals over rounds; [] without a profile that ran a layer."""
    shown = [p for p in profiles if p.executed_layers]
    if not shown:
        return []
    rows = [min(top, len(p.executed_layers)) for p in shown]
    fig = fig_cls(figsize=(9.0, 0.9 * len(shown) + 0.26 * sum(rows) + 0.4), layout="constrained")
    axes = fig.subplots(len(shown), 1, squeeze=False, height_ratios=[r + 2 for r in rows])
    for i, (p, ax) in enumerate(zip(shown, axes[:, 0], strict=True)):
        layers = p.top(top)
        y = np.arange(len(layers))[::-1]
        med = np.array([x.real.ns for x in layers]) / 1e6
        err = np.array([[x.real.ns - x.real.low_ns, x.real.high_ns - x.real.ns] for x in layers]).T
        ax.barh(y, med, xerr=err / 1e6, color=_PALETTE[i % len(_PALETTE)], height=0.7,
                error_kw={"elinewidth": 0.8, "capsize": 2})  # fmt: skip
        ax.set_yticks(
            y, [f"{_short(x.name)} ({x.type}, {x.precision})" for x in layers], fontsize=7
        )
        ax.set_xlabel("median time per inference (ms), 95% interval over rounds", fontsize=8)
        ax.set_title(f"{p.label}: top {len(layers)} layers", fontsize=9)
        ax.grid(True, axis="x", alpha=0.3)
    return _save(fig, out, "profile_top_layers")


def _type_order(profiles: Sequence[Profile]) -> list[str]:
    """Layer types by their longest time in any profile; past MAX_TYPES pooled as "other"."""
    longest: dict[str, float] = {}
    for p in profiles:
        for t in p.by_type():
            longest[t.key] = max(longest.get(t.key, 0.0), t.time.ns)
    return sorted(longest, key=lambda k: -longest[k])


def plot_by_type(fig_cls: type[Figure], profiles: Sequence[Profile], out: Path) -> list[str]:
    """Time by layer type (ms, median over rounds), one bar per profile in each type, with the
    time in no layer as a last group; [] without a profile that ran a layer."""
    shown = [p for p in profiles if p.executed_layers]
    if not shown:
        return []
    order = _type_order(shown)
    kept, pooled = order[:MAX_TYPES], order[MAX_TYPES:]
    groups = [*kept, *(["other"] if pooled else []), "(in no layer)"]
    values = np.zeros((len(shown), len(groups)))
    for i, p in enumerate(shown):
        for t in p.by_type():
            j = groups.index(t.key) if t.key in kept else groups.index("other")
            values[i, j] += t.time.ns / 1e6
        values[i, -1] = max(0.0, p.unaccounted.ns / 1e6)
    height = 0.8 / len(shown)
    fig = fig_cls(figsize=(9.0, 1.4 + 0.22 * len(groups) * len(shown) + 0.3), layout="constrained")
    ax = fig.add_subplot()
    base = np.arange(len(groups))[::-1].astype(float)
    for i, p in enumerate(shown):
        ax.barh(base + 0.4 - height * (i + 0.5), values[i], height=height * 0.92,
                color=_PALETTE[i % len(_PALETTE)], label=p.label)  # fmt: skip
    ax.set_yticks(base, groups, fontsize=8)
    ax.set_xlabel("time per inference (ms): median over rounds of each type's sum", fontsize=8)
    ax.set_title("Time by layer type", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=min(3, len(shown)), fontsize=8)
    return _save(fig, out, "profile_by_type")


__all__ = ["MAX_TYPES", "plot_by_type", "plot_top_layers"]
