"""Synthetic result rows and files, shaped as ic.run/sweep write them (see results.py).

They are inputs for the reader, report and compare tests, not a stand-in for measuring.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferclock._analysis.table import ResultWriter
from inferclock._common.intervals import rate_interval
from inferclock.stats import summarize


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
    # Throughput and its interval as a latency-mode run computes them (batch means).
    tp, tp_low, tp_high = rate_interval(np.cumsum(samples, dtype=np.float64), batch)
    row.update(
        {
            "precision_executed": precision,
            "precision_hint": precision,
            "precision_mix": {  # as _precision.PrecisionSummary.to_dict writes it
                "executed": precision,
                "weighted_by": "macs",
                "mix": {
                    precision: {"ops": 40, "mac_share": 0.97},
                    "i32": {"ops": 3, "mac_share": 0.03},
                },
                "by_type": {},
                "kernels": {},
                "compute_ops": [],
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
            "latency_ci95_low_ns": st.ci_ns[0],
            "latency_ci95_high_ns": st.ci_ns[1],
            "latency_ci_confidence": st.ci_confidence,
            "latency_percentiles": {
                f"p{p.p:g}": {
                    "value_ns": p.value_ns,
                    "low_ns": p.low_ns,
                    "high_ns": p.high_ns,
                    "confidence": p.confidence,
                }
                for p in st.percentiles
            },
            "throughput_fps": tp,
            "throughput_ci_low_fps": tp_low,
            "throughput_ci_high_fps": tp_high,
            "read_ms": 12.5,
            "reshape_ms": 0.4,
            "compile_ms": 85.0 * batch**0.2,
            "first_infer_ms": 3.1,
            "compile_cache": "cold",
            "macs": 4_100_000_000,  # an int, as a real row (the writers check it)
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
