"""report(): PNG + SVG plots and report.md from result files (headless)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inferclock._core import ConfigError
from inferclock.report import report
from inferclock.results import ResultTable, ResultWriter
from inferclock.stats import summarize

pytest.importorskip("matplotlib")


# ---- synthetic rows (same shape ic.run/sweep write; see notes/schema.md) ----
def lognormal_ns(median_ms: float, n: int = 2000, sigma: float = 0.15, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (median_ms * 1e6 * rng.lognormal(0.0, sigma, n)).astype(np.int64)


def make_row(
    model: str,
    precision: str,
    batch: int,
    samples: np.ndarray | None,
    *,
    mode: str = "latency",
    device: str = "CPU",
    process: int = 0,
    repeat: int = 0,
    raw: str | None = None,
    error: str | None = None,
    error_kind: str | None = None,
) -> dict[str, Any]:
    key = f"{model}|{device}|{precision}|{batch}|{mode}|-"
    row: dict[str, Any] = {
        "key": key,
        "model": model,
        "model_path": None,
        "model_sha256": None,
        "device": device,
        "precision_requested": precision,
        "batch_size": batch,
        "mode": mode,
        "socket": None,
        "process": process,
        "repeat": repeat,
        "error": error,
        "error_kind": error_kind,
        "raw_latencies": None,
    }
    if samples is None:
        return row
    st = summarize(samples)
    row.update(
        {
            "precision_executed": precision,
            "precision_hint": precision,
            "precision_mix": {
                precision: {"ops": 40, "mac_share": 0.97},
                "i32": {"ops": 3, "mac_share": 0.03},
            },
            "cpus": "0-1",
            "streams": 1,
            "threads": 2,
            "requests": 1,
            "n": st.n,
            "warmup_n": 50,
            "latency_min_ns": st.min_ns,
            "latency_mean_ns": st.mean_ns,
            "latency_median_ns": st.median_ns,
            "latency_p90_ns": st.p90_ns,
            "latency_p95_ns": st.p95_ns,
            "latency_p99_ns": st.p99_ns,
            "latency_max_ns": st.max_ns,
            "latency_stdev_ns": st.stdev_ns,
            "latency_mad_ns": st.mad_ns,
            "latency_cv": st.cv,
            "latency_ci95_low_ns": st.ci95_ns[0],
            "latency_ci95_high_ns": st.ci95_ns[1],
            "throughput_fps": batch * 1e9 / st.mean_ns,
            "read_ms": 12.5,
            "reshape_ms": 0.4,
            "compile_ms": 85.0 * batch**0.2,
            "first_infer_ms": 3.1,
            "compile_cache": "cold",
            "macs": 4.1e9,
            "config": {"PERFORMANCE_HINT": mode.upper()},
            "interrupted": False,
            "started_at": "2026-11-28T18:00:00+00:00",
            "finished_at": "2026-11-28T18:00:02+00:00",
            "duration_s": 2.0,
            "raw_latencies": raw,
        }
    )
    return row


HEADER = {
    "inferclock_version": "0.1.0",
    "openvino_version": "2026.4.1",
    "environment": {
        "cpu_model": "Synthetic CPU @ 2.0GHz",
        "cores": 2,
        "smt": False,
        "flags": ["avx2", "avx512f", "amx_bf16"],
        "kernel": "6.1.0",
    },
    "sweep": {"models": ["tiny", "small"], "precisions": ["f32", "bf16"]},
}


def write_table(
    path: Path,
    cells: list[tuple[str, str, int, str]],
    *,
    scale: float = 1.0,
    raw: bool = True,
    processes: int = 1,
    seed: int = 0,
) -> Path:
    """A results file with one row per cell x process; raw .npy beside it when ``raw``."""
    w = ResultWriter(path, HEADER)
    for i, (model, prec, batch, mode) in enumerate(cells):
        for proc in range(processes):
            base = 0.8 * batch**0.7 * (0.6 if prec == "bf16" else 1.0)
            samples = (lognormal_ns(base, seed=seed + 100 * i + proc) * scale).astype(np.int64)
            rel = None
            if raw:
                rel = f"{path.stem}_raw/{model}_{prec}_{batch}_{mode}_p{proc}.npy"
                (path.parent / rel).parent.mkdir(exist_ok=True)
                np.save(path.parent / rel, samples)
            w.append(make_row(model, prec, batch, samples, mode=mode, process=proc, raw=rel))
    return path


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
    assert "median of the per-run medians" in md  # processes=2 pooled
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
