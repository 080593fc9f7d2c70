"""The report's open-loop parts: rates and verdicts in the summary, the latency-vs-rate figure
with its knee and peak, the open-loop table, and the tuning surface (headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock._analysis.rates import KNEE_FACTOR, rate_curves, tune_surfaces
from inferclock._analysis.table import ResultTable, ResultWriter, fmt_num
from inferclock._render.report import report

pytest.importorskip("matplotlib")

from synthetic import HEADER, lognormal_ns, make_row, write_table

RATES = (600.0, 2000.0, 100000.0)  # the last far beyond what the model sustains


def _check_images(out: Path, stem: str) -> None:
    png, svg = (out / f"{stem}.png").read_bytes(), (out / f"{stem}.svg").read_text()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, stem
    assert "<svg" in svg and "</svg>" in svg, stem


def server_row(
    qps: float,
    p99_ms: float,
    verdict: str | None,
    *,
    model: str = "tiny",
    batch: int = 1,
    repeat: int = 0,
    bound_ms: float | None = 10.0,
) -> dict[str, Any]:
    """A server row shaped as ``ic.run(mode="server")`` writes it, its due-time p99 set."""
    row = make_row(model, "f32", batch, lognormal_ns(p99_ms / 3, n=500), mode="server")
    row["latency_p99_ns"] = p99_ms * 1e6
    row["latency_percentiles"]["p99"].update(
        value_ns=p99_ms * 1e6, low_ns=p99_ms * 0.9e6, high_ns=p99_ms * 1.2e6
    )
    row.update(
        key=f"{model}|CPU|f32|{batch}|server@{qps:g}qps|-", qps=qps, repeat=repeat,
        latency_bound_ms=bound_ms, verdict=verdict,
        verdict_reason=f"{verdict} at {qps:g} qps" if verdict else "no latency bound: no verdict",
        server={
            "offered_qps": qps * 0.98, "achieved_qps": qps * 0.97, "max_queue_depth": 3,
            "issue_latency_ns": {"p50": 1e6, "p99": 2e6, "max": 3e6},
            "issue_delay_ns": {"p50": 900.0, "p99": 4000.0, "max": 9000.0},
        },
    )  # fmt: skip
    return row


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    w = ResultWriter(path, HEADER)
    for r in rows:
        w.append(r)
    return path


@pytest.fixture(scope="module")
def real_sweep(slow_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real server runs of the ~0.5 ms model at three rates, 600 queries each (a few s)."""
    out = tmp_path_factory.mktemp("serve") / "sweep.jsonl"
    ic.sweep(
        str(slow_model), modes=["server"], qps=list(RATES), latency_bound_ms=20,
        queries=600, out=out, quiet=True,
    )  # fmt: skip
    return out


def test_real_server_sweep_summary_shows_rates_and_verdicts(real_sweep: Path) -> None:
    t = ResultTable.load(real_sweep)
    rows = {r["qps"]: r for r in t.ok()}
    assert sorted(rows) == sorted(RATES)
    lines = [ln for ln in t.to_markdown().splitlines() if "| slow |" in ln]
    assert t.to_markdown().splitlines()[0].endswith("| n | verdict |")
    # one line per rate, ascending by rate (the keys' text would put 100000 first)
    assert [f"server @{q:g} qps" in ln for q, ln in zip(RATES, lines, strict=True)] == [True] * 3
    for q, ln in zip(RATES, lines, strict=True):
        assert ln.endswith(f"| {rows[q]['verdict']} |")
    assert rows[RATES[-1]]["verdict"] == "INVALID"


def test_real_server_sweep_report(real_sweep: Path, tmp_path: Path) -> None:
    md = report(real_sweep, tmp_path).read_text()
    _check_images(tmp_path, "serve_latency")
    assert "](serve_latency.png)" in md and "## Open-loop runs" in md
    # open-loop cells only: no batch-size plots, no CDFs of them
    assert not (tmp_path / "latency.png").exists() and not (tmp_path / "tuning.png").exists()
    t = ResultTable.load(real_sweep)
    table = md.split("## Open-loop runs")[1]
    for r in t.ok():
        server = r["server"]
        want = f"| {r['qps']:g} / {fmt_num(server['offered_qps'])} |"
        assert want in table
        p50_us = fmt_num(server["issue_delay_ns"]["p50"] / 1e3)
        assert f"| {p50_us} / " in table
    valid = [r["qps"] for r in t.ok() if r["verdict"] == "VALID"]
    peak = f"{max(valid):g} qps" if valid else "-"
    assert f"peak (highest VALID) {peak}, bound 20 ms" in table


def test_knee_and_peak_on_a_constructed_case(tmp_path: Path) -> None:
    # p99 2 ms at the lowest rate: exactly 2x (4 ms) is not yet the knee, 4.5 ms is
    rows = [
        server_row(400, 4.5, "INVALID"),
        server_row(100, 2.0, "VALID"),
        server_row(800, 20.0, "INVALID"),
        server_row(200, 4.0, "VALID"),
    ]
    path = _write(tmp_path / "r.jsonl", rows)
    (curve,) = rate_curves(ResultTable.load(path))
    assert KNEE_FACTOR == 2.0
    assert [p.qps for p in curve.points] == [100, 200, 400, 800]
    assert curve.knee_qps == 400 and curve.peak_qps == 200 and curve.bounds_ms == [10.0]
    md = report(path, tmp_path / "rep").read_text()
    assert "knee 400 qps, peak (highest VALID) 200 qps, bound 10 ms" in md
    _check_images(tmp_path / "rep", "serve_latency")


def test_no_knee_no_peak_and_cells_of_several_runs(tmp_path: Path) -> None:
    rows = [
        server_row(100, 2.0, None, bound_ms=None),  # no bound: no verdict, no peak
        server_row(200, 3.9, None, bound_ms=None),  # under 2x: no knee
        server_row(100, 2.0, "VALID", model="small"),  # one rate: no knee
        server_row(100, 2.0, "INVALID", model="small", repeat=1),  # one INVALID run of two
    ]
    path = _write(tmp_path / "r.jsonl", rows)
    t = ResultTable.load(path)
    small, tiny = rate_curves(t)
    assert (tiny.knee_qps, tiny.peak_qps, tiny.bounds_ms) == (None, None, [])
    assert small.points[0].verdict == "INVALID" and small.points[0].runs == 2
    assert small.knee_qps is None and small.peak_qps is None
    verdicts = {s.model: s.verdict for s in t.summary() if s.qps == 100}
    assert verdicts == {"small": "INVALID", "tiny": None}
    md = t.to_markdown()
    assert "| small | CPU | f32/f32 | 1 | server @100 qps |" in md and "| INVALID |" in md


def test_summary_without_verdicts_has_no_verdict_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "r.jsonl", [server_row(250, 2.0, None, bound_ms=None)])
    md = ResultTable.load(path).to_markdown()
    assert "server @250 qps" in md and "verdict" not in md.splitlines()[0]
    closed = write_table(tmp_path / "c.jsonl", [("tiny", "f32", 1, "latency")])
    assert "verdict" not in ResultTable.load(closed).to_markdown()


def _tune_row(streams: int | None, requests: int | None, threads: int | None, fps: float) -> Any:
    """A throughput row as ``ic.tune`` writes it: the point's configuration in its key."""
    row = make_row("tiny", "f32", 1, lognormal_ns(1.0, n=200), mode="throughput")
    baseline = streams is None and requests is None and threads is None
    config = {"streams": streams, "requests": requests, "threads": threads}
    suffix = "hint=throughput" if baseline else ",".join(
        f"{k}={v}" for k, v in config.items() if v is not None
    )  # fmt: skip
    row.update(
        key=row["key"] + "|" + suffix, streams_requested=streams, requests_requested=requests,
        threads_requested=threads, throughput_fps=fps,
        tune_role="baseline" if baseline else "point",
    )  # fmt: skip
    return row


def test_tuning_surface(tmp_path: Path) -> None:
    fps = {(s, q, th): 100.0 * (s or 3) + 10 * (q or 0) + th for s in (None, 1, 2)
           for q in (1, 4) for th in (1, 2)}  # fmt: skip
    rows = [_tune_row(s, q, th, v) for (s, q, th), v in fps.items()]
    rows.append(_tune_row(1, 1, 1, 300.0))  # a second run of one config: the median is kept
    rows += [_tune_row(None, None, None, 500.0), _tune_row(None, None, None, 520.0)]  # the hint
    path = _write(tmp_path / "tune.jsonl", rows)
    t = ResultTable.load(path)
    surfaces = tune_surfaces(t)
    assert [s.title.split(", ")[2] for s in surfaces] == ["threads 1", "threads 2"]
    one = surfaces[0]
    assert one.streams == (None, 1, 2) and one.requests == (1, 4)  # no baseline point in it
    assert np.allclose(one.values, [[311, 341], [(111 + 300) / 2, 141], [211, 241]])
    assert one.hint_fps == 510.0 and "THROUGHPUT hint: 510.0/s" in one.title
    labels = [s.mode_label for s in t.summary()]
    assert "throughput streams=1,requests=4,threads=2" in labels
    assert "throughput hint=throughput" in labels
    md = report(path, tmp_path / "rep").read_text()
    _check_images(tmp_path / "rep", "tuning")
    assert "### Tuning surface" in md and "](tuning.png)" in md
    # a tune point's cells share a batch size: no batch-size plots, no CDFs of them
    assert not (tmp_path / "rep" / "latency.png").exists() and "CDF" not in md


def test_no_tuning_surface_for_a_plain_sweep(tmp_path: Path) -> None:
    cells = [("tiny", "f32", b, m) for b in (1, 8) for m in ("latency", "throughput")]
    path = write_table(tmp_path / "r.jsonl", cells, raw=False)
    assert tune_surfaces(ResultTable.load(path)) == []
    md = report(path, tmp_path / "rep").read_text()
    assert "Tuning surface" not in md and "Open-loop" not in md
    assert not (tmp_path / "rep" / "tuning.png").exists()
    assert (tmp_path / "rep" / "latency.png").exists()
