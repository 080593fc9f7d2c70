"""Phases of a timed callable, drawn and tabled per batch size.

Input: ``{batch_size: Measurement}``, each from ``ic.measure(step, batch_size=N)`` of a step
that uses ``ic.phase`` / ``ic.mark``. ``plot_phases`` draws one stacked bar per batch size (the
top-level phases and "(other)": their mean times per step, which add up to the mean step, and
their shares of it); ``phase_table`` is the markdown table of every phase, nested ones under
their parent. Figures on the Agg canvas like ``_render.plots``, saved as PNG and SVG.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np

from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.text import fmt_num, markdown_table, md_text
from inferclock._render.plots import _save, figure_cls, prepare_dir
from inferclock._timing.measure import Measurement
from inferclock._timing.phases import OTHER, PhaseStats

_PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b2", "#937860", "#da8bc3",
            "#8c8c8c", "#ccb974", "#64b5cd"]  # fmt: skip
_OTHER_COLOR = "#d9d9d9"


def checked(
    measurements: Mapping[int, Measurement], name: str = "measurements"
) -> list[tuple[int, Measurement]]:
    """The measurements by batch size, each with phases (``name``: the argument, in errors)."""
    if not isinstance(measurements, Mapping):
        raise ConfigTypeError(
            f"{name} must be a mapping {{batch_size: Measurement}}, "
            f"got {type(measurements).__name__}"
        )
    items = sorted(measurements.items())
    if not items:
        raise ConfigError(f"{name} is empty: give {{batch_size: Measurement}}")
    for batch, m in items:
        if not isinstance(m, Measurement):
            raise ConfigTypeError(
                f"{name}[{batch!r}] must be a Measurement, got {type(m).__name__}"
            )
        if not m.phases:
            raise ConfigError(
                f"{name}[{batch!r}] has no phases: time a step that uses "
                "ic.phase(...) or ic.mark(...)"
            )
    return items


def _top_names(items: list[tuple[int, Measurement]]) -> list[str]:
    """Top-level phases of every measurement, first seen first, "(other)" last."""
    names: dict[str, None] = {}
    for _, m in items:
        names.update((k, None) for k, p in m.phases.items() if p.depth == 0 and k != OTHER)
    return [*names, OTHER]


def plot_phases(
    measurements: Mapping[int, Measurement],
    out_dir: str | os.PathLike[str],
    stem: str = "phases",
    title: str = "Phases of a step",
) -> list[str]:
    """Draw ``{stem}.png`` and ``{stem}.svg`` in ``out_dir``; returns their file names.

    Left: the mean time per step of each top-level phase, stacked (the bar is the mean step;
    samples per second over it where the measurement has a batch size). Right: the same as
    shares of the step, stacked to 100%.
    """
    items = checked(measurements)
    out = prepare_dir(out_dir)
    names = _top_names(items)
    colors = {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names[:-1])}
    colors[OTHER] = _OTHER_COLOR
    x = np.arange(len(items))
    labels = [str(b) for b, _ in items]
    fig = figure_cls()(figsize=(10.0, 4.2), layout="constrained")
    ax_time, ax_share = fig.subplots(1, 2)
    bottom_t, bottom_s = np.zeros(len(items)), np.zeros(len(items))
    for name in names:
        got = [m.phases.get(name) for _, m in items]
        t = np.array([p.stats.mean_ns / 1e6 if p else 0.0 for p in got])
        s = np.array([100 * p.mean_share if p else 0.0 for p in got])
        ax_time.bar(x, t, bottom=bottom_t, color=colors[name], label=name, width=0.6)
        ax_share.bar(x, s, bottom=bottom_s, color=colors[name], width=0.6)
        bottom_t += t
        bottom_s += s
    for i, (_, m) in enumerate(items):
        if m.throughput is not None:
            ax_time.annotate(
                f"{fmt_num(m.throughput)}/s",
                (x[i], bottom_t[i]),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    for ax in (ax_time, ax_share):
        ax.set_xticks(x, labels)
        ax.set_xlabel("batch size")
        ax.grid(True, axis="y", alpha=0.3)
    ax_time.set_ylabel("mean time per step (ms)")
    ax_time.margins(y=0.1)
    ax_share.set_ylabel("share of the step (%)")
    ax_share.set_ylim(0, 100)
    fig.suptitle(title)
    fig.legend(loc="outside right center", fontsize=8, reverse=True)
    return _save(fig, out, stem)


def _ms_ci(p: PhaseStats) -> str:
    lo, hi = p.stats.ci_ns
    return f"{fmt_num(p.stats.median_ns / 1e6)} [{fmt_num(lo / 1e6)}, {fmt_num(hi / 1e6)}]"


def _ordered(m: Measurement) -> list[PhaseStats]:
    """Phases depth first: each top-level phase, then the phases inside it, "(other)" last."""
    children: dict[str | None, list[PhaseStats]] = {}
    for p in m.phases.values():
        children.setdefault(p.parent if p.depth else None, []).append(p)
    seen: dict[str, PhaseStats] = {}

    def walk(parent: str | None) -> None:
        for p in children.get(parent, []):
            if p.name not in seen:
                seen[p.name] = p
                walk(p.name)

    walk(None)
    for p in m.phases.values():  # under a parent that is not a phase of its own (not expected)
        seen.setdefault(p.name, p)
    return sorted(seen.values(), key=lambda p: p.name == OTHER)


def phase_table(measurements: Mapping[int, Measurement]) -> str:
    """A markdown table: per batch size the step, then every phase (nested ones indented
    under their parent), with median time and its 95% interval, shares and samples/s."""
    header = ("batch", "phase", "median ms [95% CI]", "share (median)", "share (mean)",
              "samples/s", "calls")  # fmt: skip
    rows = []
    for batch, m in checked(measurements):
        lo, hi = m.stats.ci_ns
        step_ms = f"{fmt_num(m.stats.median_ns / 1e6)} [{fmt_num(lo / 1e6)}, {fmt_num(hi / 1e6)}]"
        rows.append([str(batch), "**step**", step_ms, "100%", "100%",
                     fmt_num(m.throughput), str(m.stats.n)])  # fmt: skip
        for p in _ordered(m):
            rows.append([
                "", "&nbsp;&nbsp;" * p.depth + md_text(p.name), _ms_ci(p), f"{p.share:.1%}",
                f"{p.mean_share:.1%}", fmt_num(p.throughput),
                str(int(np.count_nonzero(p.spans))),
            ])  # fmt: skip
    return markdown_table(header, rows)
