"""Per-model work happens once in a sweep's parent: each model read, hashed and counted once,
each device checked once, the machine fingerprint collected once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import inferclock as ic
from inferclock import _core
from inferclock._platform import environment as _environment
from inferclock._timing import modelinfo as _modelinfo


def counting(calls: list[Any], real: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    return wrapper


def test_a_sweep_reads_each_model_once_in_the_parent(
    matmul_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openvino as ov

    reads: list[Any] = []
    hashes: list[Any] = []
    checks: list[Any] = []
    fingerprints: list[Any] = []
    monkeypatch.setattr(ov.Core, "read_model", counting(reads, ov.Core.read_model))
    monkeypatch.setattr(_modelinfo, "file_sha256", counting(hashes, _modelinfo.file_sha256))
    monkeypatch.setattr(_core, "check_device", counting(checks, _core.check_device))
    monkeypatch.setattr(
        _environment, "environment", counting(fingerprints, _environment.environment)
    )
    table = ic.sweep(
        str(matmul_model), precisions=["f32", "default"], batch_sizes=[1, 2, 4],
        out=tmp_path / "r.jsonl", quiet=True, iterations=5, warmup=1, processes=1,
    )  # fmt: skip
    assert len(table.rows) == 6 and all(r["error"] is None for r in table.rows)
    assert [str(a[1]) for a in reads] == [str(matmul_model)], "one read of the model"
    assert len(hashes) == 1 and len(checks) == 1 and len(fingerprints) == 1
    # ... and the facts still differ per cell where they should: MACs by batch size.
    macs = {r["batch_size"]: r["macs"] for r in table.rows}
    assert macs[2] == 2 * macs[1] and macs[4] == 4 * macs[1]


def test_an_int8_model_is_quantized_once_per_sweep(
    matmul_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    from inferclock._timing import int8 as _int8

    pytest.importorskip("nncf")
    calls: list[Any] = []
    monkeypatch.setattr(_int8, "quantize", counting(calls, _int8.quantize))
    calibration = [
        np.random.default_rng(i).standard_normal((1, 64)).astype(np.float32) for i in range(4)
    ]
    table = ic.sweep(
        str(matmul_model), precisions=["int8"], batch_sizes=[1, 2, 4], calibration=calibration,
        out=tmp_path / "r.jsonl", quiet=True, iterations=5, warmup=1, strict=False, processes=1,
    )  # fmt: skip
    assert len(table.rows) == 3
    assert len(calls) == 1, "one quantization (or cache look-up) for the model, not one per cell"
