"""int8 through NNCF: quantized convolutions run int8 kernels; the on-disk cache is reused."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops

from inferclock._timing import int8 as _int8
from inferclock._timing.precision import compile_properties, runtime_ops, summarize, verify


def small_net(batch: int = -1) -> ov.Model:
    rng = np.random.default_rng(1)

    def w(*shape: int) -> ov.Node:
        return ops.constant((rng.standard_normal(shape) * 0.1).astype(np.float32))

    x = ops.parameter([batch, 3, 32, 32], np.float32, name="x")
    y = ops.relu(ops.convolution(x, w(16, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.relu(ops.group_convolution(y, w(16, 1, 1, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.relu(ops.convolution(y, w(32, 16, 1, 1), [1, 1], [0, 0], [0, 0], [1, 1]))
    y = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), False)
    y = ops.matmul(y, w(32, 10), False, False)
    return ov.Model([y], [x], "small_net")


@pytest.fixture
def ir(tmp_path: Path) -> Path:
    path = tmp_path / "src" / "net.xml"
    ov.save_model(small_net(), path, compress_to_fp16=False)
    return path


def test_int8_runs_int8_kernels_on_convolutions(ir: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    quantized = _int8.quantize(ir, cache_dir=tmp_path / "cache", subset_size=8)
    assert _int8.is_quantized(quantized) and not _int8.is_quantized(ir)
    core = ov.Core()
    model = core.read_model(quantized)
    assert model.inputs[0].get_partial_shape().to_string() == "[?,3,32,32]"  # still dynamic
    compiled = core.compile_model(model, "CPU", compile_properties("int8"))
    summary = summarize(runtime_ops(compiled))
    assert summary.by_type["Convolution"] == {"int8": 3}
    assert all(k.lower().endswith("_i8") for k in summary.kernels["int8"])
    assert summary.executed == "int8"
    verify("int8", summary)


def test_int8_cache_is_reused(ir: Path, tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    cache = tmp_path / "cache"
    before = _int8.quantization_count()
    first = _int8.quantize(ir, cache_dir=cache, subset_size=4)
    assert _int8.quantization_count() == before + 1
    stamp = first.stat().st_mtime_ns
    second = _int8.quantize(ir, cache_dir=cache, subset_size=4)
    assert second == first and second.stat().st_mtime_ns == stamp
    assert _int8.quantization_count() == before + 1  # no second quantization
    assert first.parent.parent == cache / "int8"
    assert not [p for p in first.parent.parent.iterdir() if p.name.startswith(".tmp-")]
    # A different setting is a different cache entry.
    third = _int8.quantize(ir, cache_dir=cache, subset_size=4, seed=1)
    assert third != first and _int8.quantization_count() == before + 2
    # The quantized IR is used as it is.
    assert _int8.quantize(third, cache_dir=cache) == third
    assert _int8.quantization_count() == before + 2


def test_int8_cache_dir_from_environment(
    ir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFERCLOCK_CACHE_DIR", str(tmp_path / "env-cache"))
    assert _int8.cache_root() == tmp_path / "env-cache"
    monkeypatch.delenv("INFERCLOCK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _int8.cache_root() == tmp_path / "xdg" / "inferclock"


def test_int8_user_calibration_and_ov_model(tmp_path: Path) -> None:
    pytest.importorskip("nncf")
    model = small_net(batch=2)
    sha = _int8.model_sha256(model)
    rng = np.random.default_rng(5)
    data = (rng.standard_normal((2, 3, 32, 32)).astype(np.float32) for _ in range(3))
    path = _int8.quantize(model, calibration=data, cache_dir=tmp_path)
    assert _int8.is_quantized(path)
    assert _int8.model_sha256(model) == sha  # the caller's model is left untouched
    assert '"calibration": "' in (path.parent / "meta.json").read_text()
    with pytest.raises(ValueError, match="calibration is empty"):
        _int8.quantize(model, calibration=[], cache_dir=tmp_path)


def test_dynamic_dims_need_shapes() -> None:
    x = ops.parameter([-1, 3, -1, -1], np.float32, name="img")
    model = ov.Model([ops.relu(x)], [x])
    with pytest.raises(ValueError, match=r"input 'img' has dynamic dimension 2.*shapes="):
        _int8.calibration_shapes(model)
    specs = _int8.calibration_shapes(model, {"img": [1, 3, 8, 8]})
    assert [(n, s, d) for n, s, d in specs] == [("img", [1, 3, 8, 8], np.dtype(np.float32))]
    specs = _int8.calibration_shapes(small_net(), batch_size=4)
    assert specs[0][1] == [4, 3, 32, 32]


def test_int8_without_nncf_says_how_to_install(ir: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["nncf"] = None  # `import nncf` now raises ImportError
        from inferclock._timing import int8 as _int8
        try:
            _int8.quantize({str(ir)!r}, cache_dir={str(tmp_path / "cache")!r})
        except ImportError as e:
            print("ImportError:", e)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "ImportError: int8 needs NNCF: pip install 'inferclock[int8]'" in run.stdout
