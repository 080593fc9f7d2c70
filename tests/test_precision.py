"""Executed precision: hints in, kernels read back from the runtime model of a real compile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops

from inferclock._core import PrecisionError
from inferclock._timing.precision import (
    PRECISIONS,
    PrecisionWarning,
    check_precision,
    compile_properties,
    kernel_precision,
    runtime_ops,
    summarize,
    verify,
)


def cpu_flags() -> set[str] | None:
    """x86 feature flags of this CPU, or None where /proc/cpuinfo has no "flags" line."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


FLAGS = cpu_flags()
HAS_BF16 = FLAGS is not None and bool(FLAGS & {"avx512_bf16", "amx_bf16"})
HAS_F16 = FLAGS is not None and bool(FLAGS & {"avx512_fp16", "amx_fp16"})


def small_net() -> ov.Model:
    """conv 3x3 -> depthwise 3x3 -> conv 1x1 -> deconv 2x2 -> mean -> fully connected."""
    rng = np.random.default_rng(0)

    def w(*shape: int) -> ov.Node:
        return ops.constant((rng.standard_normal(shape) * 0.1).astype(np.float32))

    x = ops.parameter([1, 3, 32, 32], np.float32, name="x")
    y = ops.relu(ops.convolution(x, w(16, 3, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.relu(ops.group_convolution(y, w(16, 1, 1, 3, 3), [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.relu(ops.convolution(y, w(32, 16, 1, 1), [1, 1], [0, 0], [0, 0], [1, 1]))
    y = ops.convolution_backprop_data(y, w(32, 16, 2, 2), [2, 2])
    y = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), False)
    y = ops.matmul(y, w(16, 10), False, False)
    return ov.Model([y], [x], "small_net")


def compile_at(precision: str) -> ov.CompiledModel:
    return ov.Core().compile_model(small_net(), "CPU", compile_properties(precision))


def test_unknown_precision_lists_choices() -> None:
    with pytest.raises(ValueError, match=r"fp8.*f32, bf16, f16, int8, default"):
        check_precision("fp8")
    with pytest.raises(ValueError, match="choose one of"):
        compile_properties("F32")
    assert [check_precision(p) for p in PRECISIONS] == list(PRECISIONS)


def test_compile_properties() -> None:
    assert compile_properties("f32") == {"INFERENCE_PRECISION_HINT": "f32"}
    assert compile_properties("bf16") == {"INFERENCE_PRECISION_HINT": "bf16"}
    assert compile_properties("f16") == {"INFERENCE_PRECISION_HINT": "f16"}
    assert compile_properties("default") == {}
    assert compile_properties("int8") == {}
    assert compile_properties("int8", int8_rest="f32") == {"INFERENCE_PRECISION_HINT": "f32"}
    with pytest.raises(ValueError, match="int8_rest"):
        compile_properties("int8", int8_rest="int4")


def test_runtime_ops_format() -> None:
    ops_ = runtime_ops(compile_at("f32"))
    keys = {"name", "layerType", "primitiveType", "runtimePrecision", "originalLayersNames"}
    assert all(keys <= op.keys() for op in ops_)
    assert all(isinstance(v, str) for op in ops_ for v in op.values())
    assert ops_[0]["layerType"] == "Input"


def test_f32_runs_f32_kernels() -> None:
    summary = summarize(runtime_ops(compile_at("f32")))
    assert summary.executed == "f32"
    assert set(summary.mix) == {"f32"}
    assert summary.mix["f32"]["ops"] == 5  # 3 convolutions, 1 deconvolution, 1 matmul
    assert summary.by_type["Convolution"] == {"f32": 3}
    assert summary.by_type["Deconvolution"] == {"f32": 1}
    assert all(k.lower().endswith("_f32") for k in summary.kernels["f32"])
    verify("f32", summary)


@pytest.mark.skipif(not HAS_BF16, reason="CPU has neither avx512_bf16 nor AMX bf16")
def test_bf16_runs_bf16_kernels() -> None:
    compiled = compile_at("bf16")
    assert compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "bf16"
    summary = summarize(runtime_ops(compiled))
    assert summary.executed == "bf16"
    assert summary.by_type["Convolution"] == {"bf16": 3}
    assert all(k.endswith("_bf16") for k in summary.kernels["bf16"])
    verify("bf16", summary)
    with pytest.raises(PrecisionError, match="requested f32, the device ran bf16"):
        verify("f32", summary)


@pytest.mark.skipif(FLAGS is None, reason="not an x86 CPU: f16 support unknown from flags")
@pytest.mark.skipif(HAS_F16, reason="CPU has avx512_fp16 or AMX fp16: f16 may really run")
def test_f16_without_f16_hardware_is_caught() -> None:
    compiled = compile_at("f16")
    summary = summarize(runtime_ops(compiled))
    assert summary.executed != "f16"  # bf16 where the CPU has it, else f32
    if HAS_BF16:  # accepted and silently replaced: the hint itself reads bf16
        assert compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name() == "bf16"
    with pytest.raises(PrecisionError) as err:
        verify("f16", summary)
    message = str(err.value)
    assert message.startswith(f"requested f16, the device ran {summary.executed} (kernels: ")
    assert summary.kernels[summary.executed][0] in message
    with pytest.warns(PrecisionWarning, match=f"requested f16, the device ran {summary.executed}"):
        verify("f16", summary, strict=False)
    verify("default", summary)


def test_default_never_raises_and_records_what_ran() -> None:
    summary = summarize(runtime_ops(compile_at("default")))
    verify("default", summary)
    assert summary.executed in {"f32", "bf16", "f16"}
    if HAS_BF16:  # the CPU plugin prefers bf16 to f32 when nothing is asked
        assert summary.executed in {"bf16", "f16"}


def test_kernel_name_wins_over_runtime_precision() -> None:
    # The TFLite case: f16-stored weights report runtimePrecision f16 on an f32 kernel.
    assert kernel_precision("brgconv_avx512_f32", "f16") == "f32"
    assert kernel_precision("brgconv_avx512_1x1_bf16", "bf16") == "bf16"
    assert kernel_precision("brgconv_avx512_dw_I8", "u8") == "int8"
    assert kernel_precision("jit_avx512_i8", "i8") == "int8"
    assert kernel_precision("gemm_mlas_f32", "") == "f32"
    assert kernel_precision("convolution_gpu_bfyx_os_iyx_osv16", "f16") == "f16"
    assert kernel_precision("", "FP32") == "f32"
    assert kernel_precision("", "") == "unknown"


def test_mac_weighting_picks_the_heavy_precision() -> None:
    # A detector-like mix: one big int8 convolution, two small f32 deconvolutions.
    ops_ = [
        {"name": "x", "layerType": "Input", "primitiveType": "unknown_f32"},
        {
            "name": "conv",
            "layerType": "Convolution",
            "primitiveType": "brgconv_avx512_I8",
            "runtimePrecision": "u8",
            "originalLayersNames": "conv,conv/relu",
        },
        *(
            {
                "name": f"up{i}",
                "layerType": "Deconvolution",
                "primitiveType": "brgconv_avx512_f32",
                "runtimePrecision": "f32",
                "originalLayersNames": f"up{i}",
            }
            for i in range(2)
        ),
    ]
    by_count = summarize(ops_)
    assert (by_count.executed, by_count.weighted_by) == ("f32", "ops")
    assert by_count.mix["f32"] == {"ops": 2, "mac_share": None}
    by_macs = summarize(ops_, {"conv": 900, "up0": 50, "up1": 50, "unrelated": 10**9})
    assert (by_macs.executed, by_macs.weighted_by) == ("int8", "macs")
    assert by_macs.mix == {
        "int8": {"ops": 1, "mac_share": 0.9},
        "f32": {"ops": 2, "mac_share": 0.1},
    }
    assert by_macs.by_type == {"Convolution": {"int8": 1}, "Deconvolution": {"f32": 2}}
    assert by_macs.to_dict()["compute_ops"][0]["macs"] == 900
    verify("int8", by_macs)
    with pytest.raises(PrecisionError, match=r"requested int8, the device ran f32 \(kernels: "):
        verify("int8", by_count)
