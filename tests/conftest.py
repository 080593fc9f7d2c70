"""Small OpenVINO models built in the tests (opset API, saved as IR under tmp dirs)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

# Tests run from the repository root, whose inferclock/ has no compiled _core. Child Python
# processes (workers, subprocess tests) must import the installed package, not that source
# tree: PYTHONSAFEPATH keeps the working directory off their sys.path (Python 3.11+).
os.environ["PYTHONSAFEPATH"] = "1"
# Shared test helpers (tests/synthetic.py) import as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
# A shell that starts pytest in the background (`cmd &` without job control, nohup) hands it
# SIGINT ignored, and Python then keeps it so: the Ctrl-C tests would see no Ctrl-C at all.
# Ctrl-C is what they test, so they get Python's usual handler back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _save(model: object, path: Path) -> Path:
    import openvino as ov

    ov.save_model(model, str(path), compress_to_fp16=False)
    return path


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def matmul_model(model_dir: Path) -> Path:
    """x[N,64] @ W[64,64] -> relu: a few microseconds."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32))
    return _save(
        ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "matmul"),
        model_dir / "matmul.xml",
    )


@pytest.fixture(scope="session")
def conv_model(model_dir: Path) -> Path:
    """A small conv net with a dynamic batch: [N,3,32,32] -> conv/relu x2 -> pool -> fc."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(1)
    x = ops.parameter([-1, 3, 32, 32], np.float32, name="image")
    w1 = ops.constant(rng.standard_normal((16, 3, 3, 3)).astype(np.float32) * 0.1)
    c1 = ops.relu(ops.convolution(x, w1, [1, 1], [1, 1], [1, 1], [1, 1]))
    w2 = ops.constant(rng.standard_normal((32, 16, 3, 3)).astype(np.float32) * 0.1)
    c2 = ops.relu(ops.convolution(c1, w2, [2, 2], [1, 1], [1, 1], [1, 1]))
    pooled = ops.reduce_mean(c2, ops.constant(np.array([2, 3], dtype=np.int64)), False)
    fc = ops.constant(rng.standard_normal((32, 10)).astype(np.float32))
    out = ops.matmul(pooled, fc, False, False)
    return _save(ov.Model([out], [x], "convnet"), model_dir / "convnet.xml")


@pytest.fixture(scope="session")
def two_input_model(model_dir: Path) -> Path:
    """features f32[N,8] and ids i64[N,4] (an embedding lookup): outputs both paths."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(2)
    feats = ops.parameter([-1, 8], np.float32, name="features")
    ids = ops.parameter([-1, 4], np.int64, name="ids")
    table = ops.constant(rng.standard_normal((10, 8)).astype(np.float32))
    emb = ops.reduce_sum(
        ops.gather(table, ids, ops.constant(np.int64(0))), ops.constant(np.int64(1)), False
    )
    out = ops.add(emb, feats)
    return _save(ov.Model([out], [feats, ids], "two_inputs"), model_dir / "two_inputs.xml")


@pytest.fixture(scope="session")
def u8_model(model_dir: Path) -> Path:
    """An image-like u8 input [N,3,8,8] converted to f32."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 3, 8, 8], np.uint8, name="pixels")
    out = ops.reduce_mean(
        ops.convert(x, "f32"), ops.constant(np.array([1, 2, 3], dtype=np.int64)), False
    )
    return _save(ov.Model([out], [x], "u8"), model_dir / "u8.xml")


@pytest.fixture(scope="session")
def no_batch_model(model_dir: Path) -> Path:
    """A rank-1 input [16]: no batch dimension."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([16], np.float32, name="vec")
    return _save(ov.Model([ops.relu(x)], [x], "nobatch"), model_dir / "nobatch.xml")


@pytest.fixture(scope="session")
def slow_model(model_dir: Path) -> Path:
    """A MatMul chain of about a millisecond, for interrupt and GIL tests."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(3)
    x = ops.parameter([-1, 512], np.float32, name="x")
    h = x
    for _ in range(8):
        h = ops.relu(
            ops.matmul(
                h,
                ops.constant(rng.standard_normal((512, 512)).astype(np.float32) * 0.05),
                False,
                False,
            )
        )
    return _save(ov.Model([h], [x], "slow"), model_dir / "slow.xml")


@pytest.fixture(scope="session")
def deep_model(model_dir: Path) -> Path:
    """1000 MatMul+Add+Relu blocks: cheap to run, several seconds to compile (for tests that
    need a worker to be compiling when they act)."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(4)
    x = ops.parameter([-1, 64], np.float32, name="x")
    h = x
    for _ in range(1000):
        w = ops.constant(rng.standard_normal((64, 64)).astype(np.float32) * 0.1)
        h = ops.relu(ops.add(ops.matmul(h, w, False, False), ops.constant(np.float32(0.01))))
    return _save(ov.Model([h], [x], "deep"), model_dir / "deep.xml")


@pytest.fixture(scope="session")
def poisonable_model(model_dir: Path) -> Path:
    """x[N,64] -> matmul/relu, reshaped to [-1, 64 * (1 + floor(k))]: the generated k in [0,1)
    runs; k = 5 makes OpenVINO fail at inference time (64 elements do not fill rows of 384)."""
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([-1, 64], np.float32, name="x")
    k = ops.parameter([1], np.float32, name="k")
    w = ops.constant(np.random.default_rng(4).standard_normal((64, 64)).astype(np.float32))
    width = ops.multiply(
        ops.add(ops.floor(k), ops.constant(np.array([1.0], np.float32))),
        ops.constant(np.array([64.0], np.float32)),
    )
    target = ops.concat([ops.constant(np.array([-1], np.int64)), ops.convert(width, "i64")], 0)
    out = ops.reshape(ops.relu(ops.matmul(x, w, False, False)), target, False)
    path = model_dir / "poisonable.xml"
    ov.save_model(ov.Model([out], [x, k], "poisonable"), str(path), compress_to_fp16=False)
    return path
