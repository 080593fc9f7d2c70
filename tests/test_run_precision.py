"""Precisions through ic.run: what ran is read back and checked."""

from __future__ import annotations

from pathlib import Path

import pytest

import inferclock as ic

FLAGS = set(Path("/proc/cpuinfo").read_text().split())
HAS_BF16 = bool({"avx512_bf16", "amx_bf16"} & FLAGS)


def test_f32_runs_f32_kernels(conv_model: Path) -> None:
    r = ic.run(str(conv_model), precision="f32", iterations=5, warmup=1)
    assert r.precision_executed == "f32" and r.precision_hint == "f32"
    assert r.precision_mix is not None
    assert set(r.precision_mix["kernels"]) == {"f32"}


@pytest.mark.skipif(not HAS_BF16, reason="CPU has neither avx512_bf16 nor amx_bf16")
def test_bf16_runs_bf16_kernels(conv_model: Path) -> None:
    r = ic.run(str(conv_model), precision="bf16", iterations=5, warmup=1)
    assert r.precision_executed == "bf16" and r.precision_hint == "bf16"


def test_default_is_recorded_as_what_ran(conv_model: Path) -> None:
    r = ic.run(str(conv_model), precision="default", iterations=5, warmup=1)
    assert r.precision_requested == "default"
    assert r.precision_executed == ("bf16" if HAS_BF16 else "f32")


def test_int8_quantizes_once_and_runs_int8(
    conv_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("nncf")
    from inferclock._timing import int8 as _int8

    monkeypatch.setenv("INFERCLOCK_CACHE_DIR", str(tmp_path))
    before = _int8.quantization_count()
    r = ic.run(str(conv_model), precision="int8", batch_size=2, iterations=5, warmup=1)
    assert r.precision_executed == "int8"
    assert r.model_path and r.model_path.startswith(str(tmp_path))
    assert _int8.quantization_count() == before + 1
    r2 = ic.run(str(conv_model), precision="int8", batch_size=2, iterations=5, warmup=1)
    assert _int8.quantization_count() == before + 1, "the cached int8 model is reused"
    assert r2.model_path == r.model_path and r2.precision_executed == "int8"
