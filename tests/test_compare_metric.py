"""compare judges each cell on its metric; hosts are never pooled; multimodal cells are flagged.

Synthetic results files (tests/synthetic.py) made with the real statistics functions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic import HEADER, lognormal_ns, make_row

import inferclock as ic
from inferclock._analysis.compare import compare
from inferclock._analysis.table import ResultTable, ResultWriter
from inferclock._common.errors import ConfigError


def _row(mode: str, samples: np.ndarray, fps: float | None = None, **kw: Any) -> dict[str, Any]:
    row = make_row("tiny", "f32", 1, samples, mode=mode, **kw)
    if fps is not None:  # a throughput-mode run: its rate is not 1 / latency (requests overlap)
        row.update(throughput_fps=fps, throughput_ci_low_fps=fps * 0.99)
        row["throughput_ci_high_fps"] = fps * 1.01
    return row


def _pair(tmp: Path, mode: str) -> tuple[Path, Path]:
    """A and B of one cell: B's latency 30% higher and its throughput 20% higher (more
    requests in flight)."""
    a, b = tmp / f"a-{mode}.jsonl", tmp / f"b-{mode}.jsonl"
    base = lognormal_ns(1.0, seed=1)
    ResultWriter(a, HEADER).append(_row(mode, base, 1000.0 if mode == "throughput" else None))
    slower = (base * 1.3).astype(np.int64)
    if mode == "throughput":
        ResultWriter(b, HEADER).append(_row(mode, slower, 1200.0))
    else:  # a latency cell's throughput follows its latency
        ResultWriter(b, HEADER).append(_row(mode, slower))
    return a, b


def test_throughput_cell_is_judged_on_throughput_latency_cell_on_latency(tmp_path: Path) -> None:
    (tp,) = compare(*_pair(tmp_path, "throughput")).cells
    assert tp.metric == "throughput" and tp.higher_is_better
    assert tp.ratio == pytest.approx(1.2) and tp.verdict == "faster"
    assert tp.slowdown == pytest.approx(1 / 1.2)
    (lat,) = compare(*_pair(tmp_path, "latency")).cells
    assert lat.metric == "median" and lat.ratio == pytest.approx(1.3, rel=0.01)
    assert lat.verdict == "slower"
    # Named explicitly, the median judges the throughput cell too: there it is slower.
    (forced,) = compare(*_pair(tmp_path, "throughput"), metric="median").cells
    assert forced.metric == "median" and forced.verdict == "slower"
    assert "| throughput |" in compare(*_pair(tmp_path, "throughput")).to_markdown()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferclock", *args], capture_output=True, text=True, timeout=120
    )


def test_fail_above_exits_1_only_on_the_judged_metric(tmp_path: Path) -> None:
    a, b = (str(p) for p in _pair(tmp_path, "throughput"))
    r = cli("compare", a, b, "--fail-above", "5%")
    assert r.returncode == 0, r.stderr  # throughput rose: no regression
    assert "OK: no cell worse" in r.stderr
    r = cli("compare", a, b, "--fail-above", "5%", "--metric", "median")
    assert r.returncode == 1 and "median 1.3" in r.stderr, r.stderr
    r = cli("compare", a, b, "--metric", "mean")
    assert r.returncode == 2 and "metric must be" in r.stderr


def test_metric_p99(tmp_path: Path) -> None:
    # The same median, but the slowest 3% of B's samples are 60% slower: p99 regresses.
    # In time order, not sorted: a sorted series is as autocorrelated as samples can be, and
    # the intervals (rightly) widen for it.
    x = lognormal_ns(1.0, seed=2)
    y = x.copy()
    tail = np.argsort(x)[-len(x) * 3 // 100 :]
    y[tail] = (y[tail] * 1.6).astype(np.int64)
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ResultWriter(a, HEADER).append(_row("latency", x))
    ResultWriter(b, HEADER).append(_row("latency", y))
    (median,) = compare(a, b).cells
    assert median.verdict == "same"
    (p99,) = compare(a, b, metric="p99").cells
    assert p99.metric == "p99" and p99.verdict == "slower" and p99.ratio > 1.4
    r = cli("compare", str(a), str(b), "--metric", "p99", "--fail-above", "5%")
    assert r.returncode == 1 and "p99" in r.stderr
    with pytest.raises(ConfigError, match=r"metric 'p99\.99' is in no row"):
        compare(a, b, metric="p99.99")


def _other_host(src: Path, dst: Path, **changes: Any) -> Path:
    """A copy of a results file whose header says it was measured on another machine."""
    lines = src.read_text().splitlines()
    header = json.loads(lines[0])
    header["environment"].update(changes)
    dst.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    return dst


def test_files_of_two_hosts_are_not_pooled(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    ResultWriter(a, HEADER).append(_row("latency", lognormal_ns(1.0, seed=1)))
    b = _other_host(a, tmp_path / "b.jsonl", cpu_model="Other CPU", cores=64)
    with pytest.raises(ConfigError, match=r"2 different hosts.*cores: 2 vs 64.*allow_mixed"):
        ResultTable.load(a, b)
    mixed = ResultTable.load(a, b, allow_mixed=True)
    summary = mixed.summary()
    assert len(summary) == 2 and summary[0].key == summary[1].key
    assert len({s.host for s in summary}) == 2 and all(s.runs == 1 for s in summary)
    assert "| host |" in mixed.to_markdown()
    c = compare(a, b)  # one host per side: compared, with the differences listed
    assert "cores: 2 vs 64" in c.environment_diff
    assert "cpu_model: 'Synthetic CPU @ 2.0GHz' vs 'Other CPU'" in c.environment_diff
    # Volatile readings are no difference between machines.
    v = _other_host(a, tmp_path / "v.jsonl", load_avg=[3.0, 2.0, 1.0], steal_pct=4.0)
    assert compare(a, v).environment_diff == ()
    assert len(ResultTable.load(a, v).summary()) == 1  # same host: pooled
    r = cli("report", str(a), str(b), "-o", str(tmp_path / "rep"))
    assert r.returncode == 2 and "--allow-mixed" in r.stderr


def test_a_cell_whose_processes_form_two_clusters_is_flagged(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    w = ResultWriter(path, HEADER)
    for proc, median in enumerate((0.38, 0.86, 0.39)):  # two speed modes
        w.append(_row("latency", lognormal_ns(median, seed=proc), process=proc))
    for proc, median in enumerate((1.0, 1.0, 1.0)):  # one mode: processes agree
        w.append(make_row("small", "f32", 1, lognormal_ns(median, seed=10 + proc), process=proc))
    t = ResultTable.load(path)
    flags = {s.model: s.multimodal for s in t.summary()}
    assert flags == {"tiny": True, "small": False}
    md = t.to_markdown()
    assert "**MULTIMODAL**" in md and "Multimodal (1 cells)" in md
    pytest.importorskip("matplotlib")
    report = ic.report(t, tmp_path / "rep").read_text()
    assert "**MULTIMODAL**" in report


def test_sweep_rows_carry_the_cell_s_multimodal_flag_as_they_arrive(tmp_path: Path) -> None:
    import importlib

    from inferclock._sweeps.progress import Quiet
    from inferclock._workers.supervisor import CtrlC

    sweep_module = importlib.import_module("inferclock._sweeps.runner")

    class Writer:
        path = tmp_path / "r.jsonl"

        def __init__(self) -> None:
            self.rows: list[dict[str, Any]] = []

        def append(self, row: dict[str, Any]) -> None:
            self.rows.append(row)

    writer = Writer()
    earlier = [_row("latency", lognormal_ns(0.38, seed=0), process=0)]  # resumed from the file
    runner = sweep_module.Runner(writer, Quiet(), False, CtrlC(), earlier)
    for proc, median in ((1, 0.38), (2, 0.86)):  # the third process lands in a slow mode
        runner._write(_row("latency", lognormal_ns(median, seed=proc), process=proc))
    assert [r["multimodal"] for r in writer.rows] == [False, True]
