"""Built-in models (build, cache, published MACs, inference) and the MAC counter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset16 as ops
import pytest

from inferclock import models
from inferclock._common.errors import ConfigError, ConfigTypeError, InferclockError, ModelError
from inferclock.models import _cache

NAMES = ["inception_v3", "mobilenet_v2", "resnet50", "ssdlite_mobilenet_v2"]


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One fresh cache for the module: every model is built once here, then reused."""
    root = tmp_path_factory.mktemp("inferclock-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INFERCLOCK_CACHE_DIR", str(root))
        yield root


def test_list_names_the_builtins() -> None:
    assert models.list() == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_builds_to_cached_ir_and_matches_published_macs(name: str, cache_dir: Path) -> None:
    info = models.get(name)
    assert info.path == models.path(name)
    assert info.path.parent == cache_dir / "models"
    assert info.path.name.startswith(f"{name}-") and info.path.suffix == ".xml"
    assert info.path.with_suffix(".bin").is_file()
    json.dumps(info.to_dict())

    model = info.read_model()
    (port,) = model.inputs
    assert port.get_any_name() == info.input_name == "input"
    assert port.get_element_type() == ov.Type.f32
    assert port.get_partial_shape()[0].is_dynamic
    assert [d.get_length() for d in port.get_partial_shape()[1:]] == list(info.input_shape[1:])
    consts = [op for op in model.get_ops() if op.get_type_name() == "Constant"]
    weights = [c for c in consts if c.get_output_partial_shape(0).rank.get_length() >= 2]
    assert {c.get_element_type() for c in weights} == {ov.Type.f32}  # not compressed to f16

    per_sample = models.macs(name)
    assert per_sample == pytest.approx(info.published_macs, rel=0.02)
    assert models.macs(model, batch_size=2) == 2 * per_sample
    assert model.input(0).get_partial_shape()[0].is_dynamic  # the caller's model is untouched


def _expected_shape(name: str, batch: int) -> tuple[int, ...]:
    return (1, 1, 100 * batch, 7) if name.startswith("ssd") else (batch, 1000)


@pytest.mark.parametrize("name", NAMES)
def test_runs_f32_at_batch_1_and_2(name: str) -> None:
    info = models.get(name)
    compiled = ov.Core().compile_model(str(info.path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    rng = np.random.default_rng(0)
    for batch in (1, 2):
        x = rng.standard_normal((batch, *info.input_shape[1:]), dtype=np.float32)
        (out,) = request.infer({info.input_name: x}).values()
        assert out.shape == _expected_shape(name, batch)
        assert np.isfinite(out).all()
        if name.startswith("ssd"):  # rows are (image_id, label, score, box) or image_id -1
            assert set(np.unique(out[0, 0, :, 0])) <= {-1.0, *range(batch)}
            kept = out[0, 0, out[0, 0, :, 0] >= 0]
            assert ((kept[:, 2] >= 0.3) & (kept[:, 2] <= 1)).all()


def test_cache_is_reused_without_rebuilding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFERCLOCK_CACHE_DIR", str(tmp_path))
    before = _cache.BUILDS["mobilenet_v2"]
    first = models.path("mobilenet_v2")
    assert _cache.BUILDS["mobilenet_v2"] == before + 1
    mtime = first.stat().st_mtime_ns
    second = models.get("mobilenet_v2").path
    assert second == first
    assert _cache.BUILDS["mobilenet_v2"] == before + 1
    assert first.stat().st_mtime_ns == mtime
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".")]
    assert leftovers == []  # the staging directory is gone


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFERCLOCK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/xdg")
    assert models.cache_dir() == Path("/somewhere/xdg/inferclock")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/someone")
    assert models.cache_dir() == Path("/home/someone/.cache/inferclock")


def test_cache_key_covers_seed_and_source() -> None:
    from inferclock.models import _layers, _mobilenet, _resnet

    key = _cache.cache_key("m", 0, [_layers, _mobilenet])
    assert key == _cache.cache_key("m", 0, [_layers, _mobilenet])
    assert key != _cache.cache_key("m", 1, [_layers, _mobilenet])
    assert key != _cache.cache_key("m", 0, [_layers, _resnet])


def test_concurrent_processes_build_once(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        from inferclock import models
        from inferclock.models import _cache
        import openvino as ov
        path = models.path("mobilenet_v2")
        ov.Core().read_model(str(path))
        print(_cache.BUILDS["mobilenet_v2"])
        """
    )
    env = {**os.environ, "INFERCLOCK_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    builds = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        builds.append(int(out.strip()))
    assert sorted(builds) == [0, 1]
    assert len(list((tmp_path / "models").glob("*.xml"))) == 1


def test_unknown_name_lists_the_choices() -> None:
    for call in (models.get, models.path):
        with pytest.raises(ModelError) as err:
            call("resnet5")
        assert "'resnet5'" in str(err.value)
        assert all(name in str(err.value) for name in NAMES)
    with pytest.raises(ModelError, match=r"neither an existing file nor a built-in.*resnet50"):
        models.macs("no_such_model")


def _tiny_model() -> ov.Model:
    """conv -> depthwise conv -> deconv -> grouped deconv -> matmul -> matmul(transpose_a)."""
    rng = np.random.default_rng(0)
    x = ops.parameter([-1, 3, 8, 8], ov.Type.f32, name="x")
    x.output(0).set_names({"x"})

    def w(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    y = ops.convolution(x, w(4, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1], name="conv")
    y = ops.group_convolution(y, w(4, 1, 1, 3, 3), [2, 2], [1, 1], [1, 1], [1, 1], name="dw")
    a = ops.convolution_backprop_data(y, w(4, 2, 2, 2), [2, 2], name="deconv")
    b = ops.group_convolution_backprop_data(y, w(2, 2, 1, 2, 2), [2, 2], name="gdeconv")
    y = ops.concat([a, b], 1)  # [N, 4, 8, 8]
    y = ops.reshape(y, np.array([0, -1], dtype=np.int64), True)
    y = ops.matmul(y, w(256, 10), False, False, name="fc")
    y = ops.reshape(y, np.array([0, 10, 1], dtype=np.int64), True)
    y = ops.matmul(y, w(10, 7), True, False, name="fc_t")  # [N, 1, 10] @ [10, 7]
    return ov.Model([ops.result(y)], [x], "tiny")


def test_macs_of_a_hand_built_model_match_hand_computation() -> None:
    model = _tiny_model()
    per_op = {
        "conv": ("Convolution", 4 * 8 * 8 * 3 * 3 * 3),  # out elems * C_in * k
        "dw": ("GroupConvolution", 4 * 4 * 4 * 1 * 3 * 3),  # out elems * C_in/G * k
        "deconv": ("ConvolutionBackpropData", 4 * 4 * 4 * 2 * 2 * 2),  # in elems * C_out * k
        "gdeconv": ("GroupConvolutionBackpropData", 4 * 4 * 4 * 1 * 2 * 2),
        "fc": ("MatMul", 10 * 256),
        "fc_t": ("MatMul", 7 * 10),
    }
    for batch in (1, 3):
        got = models.macs_by_op(model, batch_size=batch)
        assert {k: (v.type, v.macs) for k, v in got.items()} == {
            k: (t, m * batch) for k, (t, m) in per_op.items()
        }
        assert models.macs(model, batch) == batch * sum(m for _, m in per_op.values())
    assert model.input(0).get_partial_shape()[0].is_dynamic


def test_macs_reads_model_files(tmp_path: Path) -> None:
    xml = tmp_path / "tiny.xml"
    ov.save_model(_tiny_model(), xml)
    assert models.macs(xml) == models.macs(_tiny_model()) == 6912 + 576 + 512 + 256 + 2560 + 70


def test_macs_needs_static_dims_besides_the_batch() -> None:
    x = ops.parameter([-1, 3, -1, -1], ov.Type.f32, name="img")
    x.output(0).set_names({"img"})
    y = ops.convolution(x, np.ones((2, 3, 1, 1), np.float32), [1, 1], [0, 0], [0, 0], [1, 1])
    model = ov.Model([ops.result(y)], [x])
    with pytest.raises(ModelError, match=r"img.*shapes="):
        models.macs(model)
    assert models.macs(model, shapes={"img": [2, 3, 5, 5]}) == 2 * 2 * 25 * 3
    with pytest.raises(ConfigError, match=r"unknown inputs.*nope.*img"):
        models.macs(model, shapes={"nope": [1, 3, 5, 5]})


@pytest.mark.parametrize("bad", [0, -2, True])
def test_macs_rejects_bad_batch_size(bad: int) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        models.macs(_tiny_model(), batch_size=bad)


def test_what_get_returns_is_accepted_wherever_a_model_is() -> None:
    m = models.get("mobilenet_v2")
    assert models.macs(m) == models.macs("mobilenet_v2") == models.macs(m.path)
    assert models.macs(m, 2) == 2 * models.macs(m)
    assert models.macs_by_op(m) == models.macs_by_op("mobilenet_v2")


@pytest.mark.parametrize("bad", [3, None, b"resnet50", ["resnet50"]])
def test_macs_of_something_that_is_no_model(bad: object) -> None:
    with pytest.raises(ConfigTypeError, match=r"model must be an openvino.Model, .*got") as e:
        models.macs(bad)  # type: ignore[arg-type]
    assert isinstance(e.value, TypeError) and isinstance(e.value, InferclockError)
