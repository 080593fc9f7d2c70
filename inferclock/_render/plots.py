"""The report's figures: latency and throughput against batch size, latency CDFs and
start-up breakdowns, drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas (never
through ``pyplot``: no display is needed and the caller's pyplot backend is left alone), each
saved as PNG and SVG. ``report`` assembles them into ``report.md``.

With cells of several hosts (``_platform.host``: two machines, or two Dask workers on one), each of
these figures is drawn once per host, never pooling hosts: ``_render.plot_hosts.HostSlice`` names
each host's files (``latency_w1.png``) and titles; with one host the files are as before.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from inferclock._analysis import cell as _cell
from inferclock._analysis.rates import group
from inferclock._analysis.table import CellSummary, ResultTable, precision_rank
from inferclock._common.errors import ConfigError
from inferclock._common.outfile import write_atomic
from inferclock._platform import host as _host
from inferclock._render.literal import literal_labels
from inferclock._render.plot_hosts import ALL_HOSTS, HostSlice
from inferclock._render.ticks import mode_color, mode_style, plain_log_ticks
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


_LOG_RANGE = 20.0  # a log axis once max/min exceeds this
_STARTUP = (
    ("read_ms", "read model", "#4c72b0"),
    ("reshape_ms", "reshape", "#8172b2"),
    ("compile_ms", "compile", "#dd8452"),
    ("first_infer_ms", "first inference", "#55a868"),
)
_CDF_POINTS = 1000  # raw CDFs are drawn through this many quantiles (keeps SVGs small)


def figure_cls() -> type[Figure]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("report needs matplotlib: pip install 'inferclock[report]'") from e
    return Figure


def prepare_dir(out_dir: str | os.PathLike[str]) -> Path:
    d = Path(out_dir).expanduser()
    if d.exists() and not d.is_dir():
        raise ConfigError(f"report output {str(d)!r} exists and is not a directory")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create report directory {str(d)!r}: {e}") from e
    if not os.access(d, os.W_OK | os.X_OK):
        raise ConfigError(f"report directory {str(d)!r} is not writable")
    return d


def _save(fig: Figure, out: Path, stem: str) -> list[str]:
    plain_log_ticks(fig)  # "600", never "6x10^2"
    literal_labels(fig)  # data in labels is text, never mathtext
    names = []
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=110, metadata=meta)
        write_atomic(out / f"{stem}.{ext}", buf.getvalue())  # never through a symlink
        names.append(f"{stem}.{ext}")
    return names


def _grid(
    fig_cls: type[Figure], n: int, w: float = 5.0, h: float = 3.6
) -> tuple[Figure, list[Axes]]:
    ncols = min(3, n) if n < 10 else 4
    nrows = math.ceil(n / ncols)
    fig = fig_cls(figsize=(w * ncols, h * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _span_log(values: Iterable[float | None]) -> bool:
    v = [x for x in values if x is not None and x > 0 and math.isfinite(x)]
    return bool(v) and max(v) / min(v) > _LOG_RANGE


def _batch_axis(ax: Axes, batches: Sequence[int]) -> None:
    from matplotlib.ticker import NullLocator

    bs = sorted(set(b for b in batches if b > 0))
    if _span_log(bs):
        ax.set_xscale("log", base=2)
    if bs:
        ax.set_xticks(bs, [str(b) for b in bs])
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("batch size")


def _colors(precisions: Iterable[str]) -> dict[str, str]:
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"]
    ordered = sorted(set(precisions), key=precision_rank)
    return {p: palette[i % len(palette)] for i, p in enumerate(ordered)}


def _label(s: CellSummary, modes: set[str]) -> str:
    lab = s.precision_requested
    if s.precision_executed and s.precision_executed != s.precision_requested:
        lab += f" (ran {s.precision_executed})"
    if len(modes) > 1:
        lab += f", {s.mode}"
    return lab


@dataclass(frozen=True)
class _Metric:
    """A per-cell quantity drawn against batch size: one line per precision (and mode)."""

    stem: str  # output file name, without extension
    field: str  # the CellSummary field plotted; cells where it is None are left out
    divisor: float  # field value / divisor = axis value
    ylabel: str
    title: str
    whiskers: bool  # p99 markers (latency only)
    low: str  # the CellSummary fields of the 95% interval drawn as bars
    high: str

    def has(self, s: CellSummary) -> bool:
        return getattr(s, self.field) is not None

    def value(self, s: CellSummary) -> float:
        """The axis value of a cell that :meth:`has` the field; NaN (a gap) for a zero."""
        v = float(getattr(s, self.field))
        return v / self.divisor if v else math.nan


LATENCY = _Metric(
    "latency",
    "median_ns",
    1e6,
    "latency (ms)",
    "Latency vs batch size: median with 95% CI, p99 as \u25bc",
    whiskers=True,
    low="ci95_low_ns",
    high="ci95_high_ns",
)
THROUGHPUT = _Metric(
    "throughput",
    "throughput_fps",
    1.0,
    "throughput (samples/s)",
    "Throughput vs batch size, with 95% CI",
    whiskers=False,
    low="throughput_ci_low_fps",
    high="throughput_ci_high_fps",
)


def _ci_whiskers(line: Sequence[CellSummary], m: _Metric) -> list[list[float]]:
    """``yerr`` of a line: distances from each value down and up to its 95% CI (none where
    a cell has no interval)."""
    lo, hi = [], []
    for s in line:
        v = float(getattr(s, m.field))
        low, high = getattr(s, m.low), getattr(s, m.high)
        lo.append(max(0.0, (v - (low if low is not None else v)) / m.divisor))
        hi.append(max(0.0, ((high if high is not None else v) - v) / m.divisor))
    return [lo, hi]


def plot_vs_batch(
    fig_cls: type[Figure],
    summ: Sequence[CellSummary],
    out: Path,
    m: _Metric,
    host: HostSlice = ALL_HOSTS,
) -> list[str]:
    """Plot ``m`` against batch size, one panel per (model, device); [] when no cell has it.
    ``summ`` holds one host's cells, ``host`` names them."""
    from matplotlib.lines import Line2D

    summ = [s for s in summ if m.has(s)]
    if not summ:
        return []
    panels = group(summ, lambda s: (s.model, s.device))
    colors = _colors(s.precision_requested for s in summ)
    fig, axes = _grid(fig_cls, len(panels))
    for ax, ((model, device), cells) in zip(axes, panels.items(), strict=True):
        modes = {s.mode for s in cells}
        plotted: list[float] = []  # every y drawn, for the log-scale rule
        lines = group(cells, lambda s: (s.precision_requested, s.mode))
        for (prec, mode), line in lines.items():
            line.sort(key=lambda s: s.batch_size)
            x = [s.batch_size for s in line]
            y = [m.value(s) for s in line]
            # Modes differ in colour (a shade of the precision's), marker and line style.
            style: dict[str, Any] = {
                **mode_style(colors[prec], mode),
                "ms": 5,
                "label": _label(line[0], modes),
            }
            plotted += y
            ax.errorbar(x, y, yerr=_ci_whiskers(line, m), capsize=3, **style)
            if not m.whiskers:
                continue
            p99 = [(s.batch_size, s.p99_ns / m.divisor) for s in line if s.p99_ns is not None]
            if p99:
                ax.plot(
                    *zip(*p99, strict=True),
                    ls="none",
                    marker="v",
                    ms=6,
                    color=style["color"],
                    alpha=0.8,
                )
                plotted += [v for _, v in p99]
        if _span_log(plotted):
            ax.set_yscale("log")
        _batch_axis(ax, [s.batch_size for s in cells])
        ax.set_ylabel(m.ylabel)
        ax.set_title(f"{model} on {device}")
        ax.grid(True, which="major", alpha=0.3)
        handles, _ = ax.get_legend_handles_labels()
        if m.whiskers:
            handles.append(Line2D([], [], ls="none", marker="v", color="gray", label="p99"))
        ax.legend(handles=handles, fontsize=8, title="precision")
    fig.suptitle(host.title(m.title))
    return _save(fig, out, host.stem(m.stem))


_PCTL_FIELDS = (
    (0.0, _schema.name("latency_min_ns")),
    (0.5, _schema.name("latency_median_ns")),
    (0.9, _schema.name("latency_p90_ns")),
    (0.95, _schema.name("latency_p95_ns")),
    (0.99, _schema.name("latency_p99_ns")),
    (1.0, _schema.name("latency_max_ns")),
)


def _cell_cdf(
    table: ResultTable, rows: Sequence[Mapping[str, Any]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], str] | None:
    """(x ms, F, source) of a cell's latency CDF: pooled raw samples, else percentiles."""
    raws = [a for a in (table.raw_latencies(r) for r in rows) if a is not None]
    if raws:
        x = np.concatenate(raws).astype(np.float64) / 1e6
        q = np.linspace(0.0, 1.0, min(_CDF_POINTS, x.size))
        return np.quantile(x, q), q, "raw"
    pts = []
    for p, f in _PCTL_FIELDS:
        # A cell's percentile has one definition (_analysis.cell.percentile_figure); the
        # minimum has none but the runs' median.
        c = _cell.percentile_figure(rows, p * 100) if 0 < p < 1 else None
        vals = [float(v) for r in rows if isinstance(v := _schema.get(r, f), (int, float))]
        if c is not None:
            pts.append((c.estimate / 1e6, p))
        elif vals:
            pts.append((float(np.median(vals)) / 1e6, p))
    if len(pts) < 2:
        return None
    xs, ps = zip(*pts, strict=True)
    return np.asarray(xs), np.asarray(ps), "percentiles"


def plot_cdf(
    fig_cls: type[Figure],
    table: ResultTable,
    summ: Sequence[CellSummary],
    out: Path,
    host: HostSlice = ALL_HOSTS,
) -> tuple[list[str], dict[str, list[str]]]:
    """The latency CDF of each of ``summ``'s cells (one host's, named by ``host``), from its
    own host's rows, and the keys of the cells by source."""
    panels = group(summ, lambda s: (s.model, s.device, s.mode, s.batch_size))
    ordered = [s for cells in panels.values() for s in cells]
    drawn, sources = cell_cdfs(table, ordered)
    curves: dict[tuple[str, str, str, int], list[tuple[CellSummary, Any]]] = {}
    for s, cdf in drawn:
        curves.setdefault((s.model, s.device, s.mode, s.batch_size), []).append((s, cdf))
    if not curves:
        return [], sources
    colors = _colors(s.precision_requested for s in summ)
    fig, axes = _grid(fig_cls, len(curves), w=4.6, h=3.3)
    for ax, ((model, device, mode, batch), items) in zip(axes, curves.items(), strict=True):
        for s, (x, f, src) in items:
            approx = src == "percentiles"
            label = s.precision_requested + (" (approx.)" if approx else "")
            ax.plot(
                x,
                f,
                color=mode_color(colors[s.precision_requested], s.mode),
                ls="--" if approx else "-",
                marker="." if approx else None,
                lw=1.4,
                label=label,
            )
        xs = [float(v) for _, (x, _f, _src) in items for v in (x[0], x[-1])]
        if _span_log(xs):
            ax.set_xscale("log")
        ax.set_ylim(0, 1.01)
        ax.set_xlabel("latency (ms)")
        ax.set_ylabel("fraction of inferences")
        ax.set_title(f"{model} on {device}, batch {batch}, {mode}", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, title="precision", loc="lower right")
    fig.suptitle(host.title("Latency distribution (CDF) per cell"))
    return _save(fig, out, host.stem("latency_cdf")), sources


def cell_cdfs(
    table: ResultTable, summ: Sequence[CellSummary]
) -> tuple[list[tuple[CellSummary, Any]], dict[str, list[str]]]:
    """Each of ``summ``'s cells with its CDF (x ms, F, source), from its own host's rows, in
    ``summ``'s order, and the keys of the cells by source ("raw", "percentiles", "skipped")."""
    by_key = group(table.ok(), lambda r: (_schema.at(r, "key"), *_host.group_key(r)))
    sources: dict[str, list[str]] = {"raw": [], "percentiles": [], "skipped": []}
    drawn = []
    for s in summ:
        cdf = _cell_cdf(table, by_key.get((s.key, s.host_id, s.host), []))
        if cdf is None:
            sources["skipped"].append(s.key)
            continue
        sources[cdf[2]].append(s.key)
        drawn.append((s, cdf))
    return drawn, sources


def cell_name(s: CellSummary) -> str:
    name = f"{s.model} {s.device} {s.precision_requested} b{s.batch_size} {s.mode_label}"
    if s.socket is not None:
        name += f" s{s.socket}"
    return name + (f" ({s.compile_cache})" if s.compile_cache in ("hot", "cold") else "")


def plot_startup(
    fig_cls: type[Figure], summ: Sequence[CellSummary], out: Path, host: HostSlice = ALL_HOSTS
) -> list[str]:
    cells = [s for s in summ if any(getattr(s, f) is not None for f, _, _ in _STARTUP)]
    if not cells:
        return []
    fig = fig_cls(figsize=(9.0, 1.6 + 0.32 * len(cells)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(cells))[::-1]
    left = np.zeros(len(cells))
    for f, label, color in _STARTUP:
        w = np.array([getattr(s, f) or 0.0 for s in cells])
        if not w.any():
            continue
        ax.barh(y, w, left=left, color=color, label=label, height=0.7)
        left += w
    ax.set_yticks(y, [cell_name(s) for s in cells], fontsize=8)
    ax.set_xlabel("time (ms), median over processes")
    ax.set_title(host.title("Start-up: read, reshape, compile, first inference"))
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=4, fontsize=8)
    return _save(fig, out, host.stem("startup"))
