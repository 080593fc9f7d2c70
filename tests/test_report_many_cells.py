"""report() of many cells: past PANELS_MAX panels (STARTUP_MAX start-up bars) a figure draws
every cell in one panel (``_render.overview_plots``), and every cell is still in the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from synthetic import write_table

from inferclock._analysis.table import ResultTable
from inferclock._render.overview_plots import PANELS_MAX, STARTUP_MAX
from inferclock._render.plots import cell_name
from inferclock._render.report import report

pytest.importorskip("matplotlib")

FIGURES = ("latency", "throughput", "latency_cdf", "startup")


def _axes(svg: Path) -> int:
    """How many panels (matplotlib Axes) an SVG figure holds."""
    return len(re.findall(r'<g id="axes_\d+"', svg.read_text()))


def test_many_cells_are_drawn_in_one_panel_per_figure_and_all_listed(tmp_path: Path) -> None:
    models = PANELS_MAX + 7  # past the panel limit; x2 batch sizes: past the start-up limit
    cells = [(f"m{i:02d}", "f32", b, "latency") for i in range(models) for b in (1, 4)]
    assert len(cells) > STARTUP_MAX
    path = write_table(tmp_path / "many.jsonl", cells, raw=False, processes=2)
    md_path = report(path, tmp_path / "out")
    for stem in FIGURES:
        assert _axes(md_path.parent / f"{stem}.svg") == 1, stem
    md = md_path.read_text()
    assert f"more than {PANELS_MAX} panels" in md
    t = ResultTable.load(path)
    assert len(t.summary()) == len(cells)
    for s in t.summary():  # every cell in the tables (the executed-precisions one by name)
        assert f"| {cell_name(s)} |" in md, s.key


def test_few_cells_keep_one_panel_per_group(tmp_path: Path) -> None:
    cells = [(f"m{i}", "f32", b, "latency") for i in range(3) for b in (1, 4)]
    md_path = report(write_table(tmp_path / "few.jsonl", cells, raw=False), tmp_path / "out")
    assert _axes(md_path.parent / "latency.svg") == 3  # one per model
    assert _axes(md_path.parent / "latency_cdf.svg") == 6  # one per cell
    assert f"more than {PANELS_MAX} panels" not in md_path.read_text()
