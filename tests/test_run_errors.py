"""Bad input to ic.run: a typed error each, never a crash (each case in a fresh process)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CASES = {
    # name: (python expression for the ic.run call, expected error class, message fragment)
    "missing_file": ("ic.run('{d}/nope.xml')", "ModelError", "neither a file"),
    "empty_file": ("ic.run('{d}/empty.xml')", "ModelError", "empty"),
    "truncated_bin": ("ic.run('{d}/trunc.xml')", "ModelError", "could not read"),
    "not_a_model": ("ic.run('{d}/junk.xml')", "ModelError", "could not read"),
    "directory": ("ic.run('{d}')", "ModelError", "directory"),
    "unknown_device": ("ic.run('{m}', device='XPU9')", "DeviceError", "Devices present"),
    "fpga_without_plugin": ("ic.run('{m}', device='HETERO:FPGA,CPU')", "DeviceError", "register"),
    "plugin_path_missing": (
        "ic.register_plugin('/nonexistent/libplugin.so', 'FPGA')",
        "DeviceError",
        "not found",
    ),
    "batch_zero": ("ic.run('{m}', batch_size=0)", "ConfigError", "batch_size"),
    "batch_negative": ("ic.run('{m}', batch_size=-1)", "ConfigError", "batch_size"),
    "batch_float": ("ic.run('{m}', batch_size=2.5)", "ConfigTypeError", "batch_size"),
    "batch_without_batch_dim": ("ic.run('{nb}', batch_size=2)", "ModelError", "no batch dimension"),
    "wrong_shape": (
        "ic.run('{m}', inputs={{'x': np.zeros((1, 65), np.float32)}})",
        "ModelError",
        "shape",
    ),
    "wrong_dtype": (
        "ic.run('{m}', inputs={{'x': np.zeros((1, 64), np.float64)}})",
        "ModelError",
        "takes f32",
    ),
    "requests_zero": ("ic.run('{m}', requests=0)", "ConfigError", "requests"),
    "streams_negative": ("ic.run('{m}', streams=-1)", "ConfigError", "streams"),
    "unknown_precision": ("ic.run('{m}', precision='fp8')", "ConfigError", "f32, bf16"),
    "unknown_mode": ("ic.run('{m}', mode='fast')", "ConfigError", "latency, throughput"),
    "bad_property": (
        "ic.run('{m}', properties={{'NUM_STREAMS': 'banana'}})",
        "ConfigError",
        "NUM_STREAMS",
    ),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory, matmul_model: Path) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.xml").write_text("")
    (d / "junk.xml").write_text("<html><body>not a model</body></html>")
    xml = matmul_model.read_text()
    (d / "trunc.xml").write_text(xml)
    (d / "trunc.bin").write_bytes(matmul_model.with_suffix(".bin").read_bytes()[:100])
    return d


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_raises_a_typed_error(
    case: str, bad_files: Path, matmul_model: Path, no_batch_model: Path
) -> None:
    expr, cls, fragment = CASES[case]
    call = expr.format(d=bad_files, m=matmul_model, nb=no_batch_model)
    code = textwrap.dedent(f"""
        import json, numpy as np, inferclock as ic
        try:
            {call}
            print(json.dumps({{"raised": None}}))
        except Exception as e:
            mro = [c.__name__ for c in type(e).__mro__]
            print(json.dumps({{"raised": type(e).__name__, "mro": mro, "msg": str(e)}}))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"process died ({p.returncode}): {p.stderr[-2000:]}"
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["raised"] == cls, out
    assert "InferclockError" in out["mro"]
    assert fragment in out["msg"], out["msg"]
