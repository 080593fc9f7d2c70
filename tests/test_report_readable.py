"""Reports that read at a glance (issue 26): speed modes told apart by colour and marker, plain
tick labels on log axes, percentiles listed in ascending order.

The figures are read back from the ``Figure`` objects the plotting functions draw (their
``fig_cls`` argument: a Figure class that keeps what it made), after they were saved as PNG
and SVG as in a report.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inferclock._analysis.table import ResultTable
from inferclock._analysis.text import summary_markdown
from inferclock.stats import summarize

pytest.importorskip("matplotlib")

from synthetic import write_table

from inferclock._render import overview_plots, plots
from inferclock._render.plot_hosts import ALL_HOSTS


def recording() -> tuple[type[Any], list[Any]]:
    """A Figure class that keeps each figure it makes (to read after drawing)."""
    made: list[Any] = []
    base = plots.figure_cls()

    class Kept(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    return Kept, made


def _mode_lines(ax: Any) -> dict[str, Any]:
    """The data line of each labelled errorbar of ``ax``: {"f32, latency": Line2D}."""
    return {c.get_label(): c.lines[0] for c in ax.containers if c.lines[0] is not None}


def _tick_texts(fig: Any) -> list[str]:
    fig.canvas.draw()
    return [
        t.get_text()
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for t in (*axis.get_ticklabels(), *axis.get_ticklabels(minor=True))
        if t.get_text()
    ]


def _plain(texts: list[str]) -> None:
    for t in texts:
        assert "10^" not in t and "times" not in t and "$" not in t, texts


CELLS = [("tiny", p, b, mode) for p in ("f32", "int8") for b in (1, 8)
         for mode in ("latency", "throughput")]  # fmt: skip


def test_latency_and_throughput_differ_in_colour_and_marker(tmp_path: Path) -> None:
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", CELLS))
    fig_cls, made = recording()
    for metric in (plots.LATENCY, plots.THROUGHPUT):
        plots.plot_vs_batch(fig_cls, t.summary(), tmp_path, metric, ALL_HOSTS)
    assert len(made) == 2
    for fig in made:
        lines = _mode_lines(fig.axes[0])
        assert set(lines) == {f"{p}, {m}" for p in ("f32", "int8")
                              for m in ("latency", "throughput")}  # fmt: skip
        for p in ("f32", "int8"):
            lat, thr = lines[f"{p}, latency"], lines[f"{p}, throughput"]
            assert lat.get_color() != thr.get_color(), p
            assert lat.get_marker() != thr.get_marker(), p
            assert lat.get_markerfacecolor() != thr.get_markerfacecolor(), p
        # ... and every line its own colour: no two (precision, mode) lines look alike
        assert len({line.get_color() for line in lines.values()}) == 4


def test_the_one_panel_overview_tells_modes_apart_too(tmp_path: Path) -> None:
    cells = [(f"m{i}", "f32", b, mode) for i in range(overview_plots.PANELS_MAX + 1)
             for b in (1, 8) for mode in ("latency", "throughput")]  # fmt: skip
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", cells))
    fig_cls, made = recording()
    overview_plots.plot_vs_batch(fig_cls, t.summary(), tmp_path, plots.LATENCY, ALL_HOSTS)
    overview_plots.plot_cdf(fig_cls, t, t.summary(), tmp_path, ALL_HOSTS)
    assert len(made) == 2
    for fig in made:
        drawn = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) > 0]
        assert len(drawn) >= 2 * (overview_plots.PANELS_MAX + 1)  # a line per model and mode
        assert len({ln.get_color() for ln in drawn}) == 2
        assert len({ln.get_marker() for ln in drawn}) == 2
        legend = [txt.get_text() for txt in fig.axes[0].get_legend().get_texts()]
        assert "latency" in legend and "throughput" in legend


def test_a_short_log_axis_is_labelled_with_plain_numbers(tmp_path: Path) -> None:
    # A latency axis from 400 to 900 ms: less than a decade, so matplotlib labels its minor
    # ticks (4x10^2 ... 9x10^2 by default).
    fig = plots.figure_cls()()
    ax = fig.add_subplot()
    ax.plot([1, 2, 3], [400, 650, 900])
    ax.set_yscale("log")
    plots._save(fig, tmp_path, "short")
    texts = _tick_texts(fig)
    _plain(texts)
    assert {"400", "600", "900"} <= set(texts), texts
    assert "6x10^2" not in (tmp_path / "short.svg").read_text()


def test_report_figures_on_log_axes_have_plain_labels(tmp_path: Path) -> None:
    # Batch 1 .. 256: the latency axis spans more than 20x and goes logarithmic, as the
    # demo's ResNet-50 panel (10 to 600 ms).
    cells = [("tiny", "f32", b, m) for b in (1, 16, 256) for m in ("latency", "throughput")]
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", cells))
    fig_cls, made = recording()
    plots.plot_vs_batch(fig_cls, t.summary(), tmp_path, plots.LATENCY, ALL_HOSTS)
    (fig,) = made
    assert fig.axes[0].get_yscale() == "log"
    texts = _tick_texts(fig)
    _plain(texts)
    assert {"1", "10", "100"} & set(texts), texts


def _pnames(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"\bp(\d+(?:\.\d+)?)\b", text)]


def test_the_run_summary_lists_percentiles_in_ascending_order(matmul_model: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "inferclock", "run", str(matmul_model), "--iterations", "60",
         "--warmup", "2"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    latency = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("latency"))
    percentiles = next(ln for ln in r.stdout.splitlines() if "percentiles (" in ln)
    assert _pnames(latency) == [90, 95, 99], latency
    assert _pnames(percentiles) == [50, 90, 95, 99], percentiles


def test_every_listing_of_percentiles_is_ascending(matmul_model: Path, tmp_path: Path) -> None:
    import inferclock as ic

    result = ic.run(str(matmul_model), iterations=60, warmup=2, percentiles=(99.9, 50, 95))
    latency = next(ln for ln in result.summary().splitlines() if "latency " in ln)
    assert _pnames(latency) == [90, 95, 99, 99.9], latency
    s = summarize(np.arange(1, 1001) * 1000)
    assert _pnames(str(s)) == [90, 95, 99], str(s)
    table = ResultTable.load(write_table(tmp_path / "r.jsonl", CELLS))
    header = summary_markdown(table.summary()).splitlines()[0]
    assert _pnames(header) == sorted(_pnames(header)), header
