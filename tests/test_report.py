"""report(): PNG + SVG plots and report.md from result files (headless)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from inferclock._analysis.table import ResultTable, ResultWriter
from inferclock._core import ConfigError
from inferclock._render.report import report

pytest.importorskip("matplotlib")


from synthetic import HEADER, make_row, write_table

PLOTS = ("latency", "throughput", "latency_cdf", "startup")


def _check_images(out: Path, stems: tuple[str, ...]) -> None:
    for stem in stems:
        png, svg = (out / f"{stem}.png").read_bytes(), (out / f"{stem}.svg").read_text()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, stem
        assert "<svg" in svg and "</svg>" in svg, stem


def test_full_report(tmp_path: Path) -> None:
    cells = [
        (m, p, b, mode)
        for m in ("tiny", "small")
        for p in ("f32", "bf16")
        for b in (1, 8, 32)
        for mode in ("latency", "throughput")
    ]
    path = write_table(tmp_path / "r.jsonl", cells[:16], processes=2)
    no_raw = write_table(tmp_path / "s.jsonl", cells[16:], raw=False)
    ResultWriter(no_raw, HEADER).append(
        make_row(
            "small", "int8", 8, None, error="worker killed by SIGKILL", error_kind="crash (SIGKILL)"
        )
    )
    md_path = report(ResultTable.load(path, no_raw), tmp_path / "out" / "report")
    out = md_path.parent
    assert md_path.name == "report.md"
    _check_images(out, PLOTS)
    md = md_path.read_text()
    for stem in PLOTS:
        assert f"]({stem}.png)" in md and f"]({stem}.svg)" in md
    assert "| tiny | CPU | bf16/bf16 | 32 | throughput |" in md
    assert "16 cell(s) drawn from raw per-inference samples" in md
    assert "approximated from recorded percentiles" in md and "`small|CPU|bf16|32|latency|-`" in md
    assert "## Executed precisions" in md and "bf16: 40 ops, 97% MACs; i32: 3 ops, 3% MACs" in md
    assert "## Errors" in md and "crash (SIGKILL)" in md
    assert "| environment.cpu_model | Synthetic CPU @ 2.0GHz |" in md
    assert "| openvino_version | 2026.4.1 |" in md
    assert "variation within and between processes" in md  # processes=2 combined
    # log x axis: batch 1..32 spans more than 20x, so the ticks are the batch sizes on a log2 axis
    assert re.search(r"batch size", (out / "latency.svg").read_text())


def test_single_cell_report(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", [("tiny", "f32", 1, "latency")])
    md = report(path, tmp_path / "rep").read_text()
    _check_images(tmp_path / "rep", PLOTS)
    assert "1 cells" in md and "| tiny | CPU | f32/f32 | 1 | latency |" in md
    assert "## Errors" not in md


def test_error_only_report(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    w = ResultWriter(path, HEADER)
    w.append(make_row("tiny", "int8", 1, None, error="nncf missing", error_kind="ModelError"))
    w.append(
        make_row("tiny", "bf16", 1, None, error="no bf16 on this CPU", error_kind="PrecisionError")
    )
    md_path = report([path], tmp_path / "rep")
    md = md_path.read_text()
    assert "No cell was measured successfully" in md
    assert "PrecisionError" in md and "nncf missing" in md
    assert not list(md_path.parent.glob("*.png"))


def test_bad_output_dir(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", [("tiny", "f32", 1, "latency")])
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        report(path, a_file)
    with pytest.raises(ConfigError, match="cannot create report directory"):
        report(path, a_file / "sub")
    with pytest.raises(ConfigError, match="expected a ResultTable"):
        report(42, tmp_path / "rep")  # type: ignore[arg-type]
