"""Precision: what to ask the device for, and what its runtime model says actually ran.

OpenVINO takes an inference precision *hint*; the CPU plugin may run something else without
complaint (on a CPU with avx512_bf16 but no avx512_fp16, ``f16`` silently runs bf16, and with no
hint it picks bf16 over f32). So after compiling we read the runtime model back: each executed
node carries rt_info with its ``layerType`` and the kernel it picked (``primitiveType``, e.g.
``brgconv_avx512_1x1_bf16``). The kernel name ends in the precision of the kernel's input
(``_f32``, ``_bf16``, ``_f16``, ``_i8``, or ``_I8`` for u8), which is the reliable signal;
``runtimePrecision`` is only the fallback, as it can report the storage type of the weights
rather than the compute type (f16-stored TFLite weights read "f16" on f32 kernels).

The C++ engine hands the runtime model over as ``list[dict[str, str]]`` (one dict per node:
"name" plus the rt_info keys as strings); :func:`runtime_ops` produces the same from Python.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

from inferclock._common.errors import ConfigError, PrecisionError

PRECISIONS = ("f32", "bf16", "f16", "int8", "default")

_HINTED = ("f32", "bf16", "f16")

# Node types, as the CPU plugin names them in `layerType` (GroupConvolution is reported as
# "Convolution", MatMul with constant weights as "FullyConnected"), plus the names other
# plugins and older releases use; compared after lowering and dropping "_".
COMPUTE_LAYER_TYPES = frozenset(
    {
        "convolution",
        "groupconvolution",
        "deconvolution",
        "convolutionbackpropdata",
        "groupconvolutionbackpropdata",
        "fullyconnected",
        "fullyconnectedcompressed",
        "matmul",
        "gemm",
        "scaleddotproductattention",
        "sdpa",
        "rnnseq",
        "rnncell",
        "lstmsequence",
        "grusequence",
        "rnnsequence",
        "llmmlp",
        "qkvprojection",
    }
)

# Bookkeeping nodes that say nothing about compute precision; skipped when a graph has no
# compute node and every other node has to stand in for it.
_PLUMBING_LAYER_TYPES = frozenset(
    {"input", "output", "parameter", "result", "const", "constant", "reorder", "convert"}
)

# Precision tokens in kernel names and runtimePrecision, across releases ("FP32", "I8" ...).
_TOKENS = {
    "f32": "f32",
    "fp32": "f32",
    "bf16": "bf16",
    "f16": "f16",
    "fp16": "f16",
    "i8": "int8",
    "u8": "int8",
    "int8": "int8",
    "uint8": "int8",
    "f64": "f64",
    "fp64": "f64",
    "i32": "i32",
    "i64": "i64",
    "i4": "int4",
    "u4": "int4",
    "u1": "u1",
}


class PrecisionWarning(UserWarning):
    """The device ran a different precision than requested (``strict=False``)."""


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is one of :data:`PRECISIONS`, else raise ConfigError."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}"
        )
    return precision


def compile_properties(precision: str, *, int8_rest: str | None = None) -> dict[str, str]:
    """Device properties that request ``precision``.

    f32, bf16 and f16 always set INFERENCE_PRECISION_HINT explicitly: with no hint the CPU
    plugin picks bf16 on any CPU that has it, so "f32" must be asked for.

    int8 is a property of the *model* (NNCF inserts FakeQuantize ops; quantized ops run int8
    kernels whatever the hint). The hint only decides the ops NNCF left in floating point.
    By default (``int8_rest=None``) nothing is set and the device picks, as benchmark_app and
    a deployed OpenVINO application do: on a bf16-capable CPU the rest runs bf16, which is
    what a user comparing "int8 vs bf16" expects of int8 there. The precision of that rest
    shows in the summary's ``mix``. Pass ``int8_rest="f32"`` (or "bf16", "f16") to pin it.

    "default" sets nothing: whatever the device picks, recorded as such.
    """
    check_precision(precision)
    if precision in _HINTED:
        return {"INFERENCE_PRECISION_HINT": precision}
    if precision == "int8" and int8_rest is not None:
        if int8_rest not in _HINTED:
            raise ConfigError(
                f"unknown int8_rest precision {int8_rest!r}; choose one of: "
                f"{', '.join(_HINTED)} or None (device default)"
            )
        return {"INFERENCE_PRECISION_HINT": int8_rest}
    return {}


def kernel_precision(primitive_type: str, runtime_precision: str = "") -> str:
    """The precision a kernel ran in: the suffix of its name, else ``runtime_precision``.

    ``"brgconv_avx512_1x1_bf16"`` -> "bf16", ``"brgconv_avx512_I8"`` -> "int8",
    ``"gemm_mlas_f32"`` -> "f32"; unknown when neither names a precision.
    """
    suffix = primitive_type.rsplit("_", 1)[-1].lower() if "_" in primitive_type else ""
    if suffix in _TOKENS:
        return _TOKENS[suffix]
    rp = runtime_precision.strip().lower()
    return _TOKENS.get(rp, rp or "unknown")


class MixEntry(TypedDict):
    ops: int
    mac_share: float | None  # None when no MACs were known for these ops


@dataclass(frozen=True)
class ComputeOp:
    """One executed compute node of the runtime model."""

    name: str
    layer_type: str
    kernel: str  # primitiveType
    precision: str
    macs: int | None  # MACs of the original ops fused into it; None when unknown

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer_type": self.layer_type,
            "kernel": self.kernel,
            "precision": self.precision,
            "macs": self.macs,
        }


@dataclass(frozen=True)
class PrecisionSummary:
    """What precision the compiled model runs in, from its runtime model.

    ``executed`` is the dominant precision of the compute ops: weighted by MACs when they were
    given (``weighted_by == "macs"``), else by op count. ``mix`` gives every precision seen
    among compute ops, ``by_type`` the op counts per layer type and precision, ``kernels`` the
    distinct kernel names per precision.
    """

    executed: str
    weighted_by: str  # "macs" or "ops"
    mix: dict[str, MixEntry]
    by_type: dict[str, dict[str, int]]
    kernels: dict[str, list[str]]
    compute_ops: tuple[ComputeOp, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "executed": self.executed,
            "weighted_by": self.weighted_by,
            "mix": {p: dict(e) for p, e in self.mix.items()},
            "by_type": {t: dict(c) for t, c in self.by_type.items()},
            "kernels": {p: list(k) for p, k in self.kernels.items()},
            "compute_ops": [op.to_dict() for op in self.compute_ops],
        }


def _layer_key(layer_type: str) -> str:
    return layer_type.lower().replace("_", "")


def _op_macs(op: Mapping[str, str], macs_by_name: Mapping[str, int]) -> int | None:
    names = [n.strip() for n in op.get("originalLayersNames", "").split(",") if n.strip()]
    found = [macs_by_name[n] for n in names if n in macs_by_name]
    if not found and op.get("name") in macs_by_name:
        found = [macs_by_name[op["name"]]]
    return sum(found) if found else None


def summarize(
    ops: Iterable[Mapping[str, str]], macs_by_name: Mapping[str, int] | None = None
) -> PrecisionSummary:
    """Summarize the precision the runtime model's compute ops ran in.

    ``ops``: one dict per runtime node (see :func:`runtime_ops`). ``macs_by_name``: MACs per
    *original* op name; a runtime node gets the sum over its ``originalLayersNames``. MAC
    weighting is used when at least one compute op matched; ops without MACs then weigh 0.
    A graph with no compute op at all is judged by all its non-plumbing nodes.
    """
    nodes = list(ops)
    chosen = [op for op in nodes if _layer_key(op.get("layerType", "")) in COMPUTE_LAYER_TYPES]
    if not chosen:
        chosen = [
            op for op in nodes if _layer_key(op.get("layerType", "")) not in _PLUMBING_LAYER_TYPES
        ]

    compute = tuple(
        ComputeOp(
            name=op.get("name", ""),
            layer_type=op.get("layerType", ""),
            kernel=op.get("primitiveType", ""),
            precision=kernel_precision(op.get("primitiveType", ""), op.get("runtimePrecision", "")),
            macs=_op_macs(op, macs_by_name) if macs_by_name else None,
        )
        for op in chosen
    )

    counts: dict[str, int] = {}
    macs: dict[str, int] = {}
    by_type: dict[str, dict[str, int]] = {}
    kernels: dict[str, set[str]] = {}
    for op in compute:
        counts[op.precision] = counts.get(op.precision, 0) + 1
        macs[op.precision] = macs.get(op.precision, 0) + (op.macs or 0)
        per_type = by_type.setdefault(op.layer_type, {})
        per_type[op.precision] = per_type.get(op.precision, 0) + 1
        if op.kernel:
            kernels.setdefault(op.precision, set()).add(op.kernel)

    total_macs = sum(macs.values())
    weighted_by = "macs" if total_macs > 0 else "ops"
    weights = macs if weighted_by == "macs" else counts
    # Ties go to the precision seen first in execution order, so the answer is stable.
    executed = max(weights, key=lambda p: weights[p]) if weights else "unknown"

    mix: dict[str, MixEntry] = {
        p: {"ops": n, "mac_share": macs[p] / total_macs if total_macs else None}
        for p, n in counts.items()
    }
    return PrecisionSummary(
        executed=executed,
        weighted_by=weighted_by,
        mix=mix,
        by_type=by_type,
        kernels={p: sorted(k) for p, k in kernels.items()},
        compute_ops=compute,
    )


def verify(requested: str, summary: PrecisionSummary, strict: bool = True) -> None:
    """Check that the device ran what was requested.

    Raises PrecisionError on a mismatch (``strict=True``), or warns with PrecisionWarning
    (``strict=False``). "default" is whatever ran, so it never fails. int8 passes when int8
    (i8/u8) kernels dominate the compute ops.
    """
    check_precision(requested)
    if requested == "default" or summary.executed == requested:
        return
    kernels = summary.kernels.get(summary.executed, [])
    shown = ", ".join(kernels[:4]) + (", ..." if len(kernels) > 4 else "")
    message = f"requested {requested}, the device ran {summary.executed}" + (
        f" (kernels: {shown})" if shown else ""
    )
    if strict:
        raise PrecisionError(message)
    warnings.warn(message, PrecisionWarning, stacklevel=2)


def runtime_ops(compiled_model: Any) -> list[dict[str, str]]:
    """The runtime model of an ``ov.CompiledModel`` as one ``{"name", rt_info...}`` dict per node,
    in execution order, every value a string (the format the C++ engine produces)."""
    out: list[dict[str, str]] = []
    for node in compiled_model.get_runtime_model().get_ordered_ops():
        rt = node.get_rt_info()
        entry = {str(key): str(rt[key].astype(str)) for key in rt.keys()}
        entry["name"] = node.get_friendly_name()
        out.append(entry)
    return out


def summarize_compiled(
    compiled_model: Any, macs_by_name: Mapping[str, int] | None = None
) -> PrecisionSummary:
    """:func:`summarize` of a Python ``ov.CompiledModel``."""
    return summarize(runtime_ops(compiled_model), macs_by_name)


__all__: Sequence[str] = (
    "COMPUTE_LAYER_TYPES",
    "PRECISIONS",
    "ComputeOp",
    "MixEntry",
    "PrecisionSummary",
    "PrecisionWarning",
    "check_precision",
    "compile_properties",
    "kernel_precision",
    "runtime_ops",
    "summarize",
    "summarize_compiled",
    "verify",
)
