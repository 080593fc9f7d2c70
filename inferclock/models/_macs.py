"""Multiply-accumulate counts of an OpenVINO model, from its shapes alone.

Counted (one MAC = one multiply and one add; FLOPs are 2x):
- Convolution: every output element costs C_in * prod(kernel).
- GroupConvolution: every output element costs C_in/groups * prod(kernel).
- ConvolutionBackpropData / GroupConvolutionBackpropData (deconvolution): every input element
  is scattered to prod(kernel) positions of C_out (/groups) channels.
- MatMul, and CPU-plugin FullyConnected: every output element costs K (the reduced dim).
Everything else (pooling, elementwise, activations, softmax, NMS) counts zero: it is memory
bound and is not what "GMACs" figures in papers count either.

Counts are for one inference of the whole batch (all samples together).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import openvino as ov

from inferclock._common.errors import ConfigError, ModelError


class OpMacs(NamedTuple):
    """One compute op's share: its type name and MACs for the whole batch."""

    type: str
    macs: int


def _static_shape(port: ov.Output | ov.Input, node: ov.Node) -> list[int]:
    shape = port.get_partial_shape()
    if shape.is_dynamic:
        raise ModelError(
            f"cannot count MACs of {node.get_type_name()} '{node.get_friendly_name()}': "
            f"shape {shape} is still dynamic after setting the batch; pass static `shapes=`"
        )
    return [int(d) for d in shape.to_shape()]


def _conv_macs(node: ov.Node, grouped: bool) -> int:
    out = _static_shape(node.output(0), node)
    weights = _static_shape(node.input(1), node)
    # Convolution: [C_out, C_in, *k]; GroupConvolution: [G, C_out/G, C_in/G, *k]
    per_output = math.prod(weights[2:]) if grouped else math.prod(weights[1:])
    return math.prod(out) * per_output


def _deconv_macs(node: ov.Node, grouped: bool) -> int:
    data = _static_shape(node.input(0), node)
    weights = _static_shape(node.input(1), node)
    # ConvolutionBackpropData: [C_in, C_out, *k]; grouped: [G, C_in/G, C_out/G, *k]
    per_input = math.prod(weights[2:]) if grouped else math.prod(weights[1:])
    return math.prod(data) * per_input


def _matmul_macs(node: ov.Node) -> int:
    a = _static_shape(node.input(0), node)
    out = _static_shape(node.output(0), node)
    transpose_a = bool(node.get_attributes().get("transpose_a", False))
    k = a[-2] if transpose_a and len(a) > 1 else a[-1]
    return math.prod(out) * k


def _fully_connected_macs(node: ov.Node) -> int:
    a = _static_shape(node.input(0), node)
    out = _static_shape(node.output(0), node)
    return math.prod(out) * a[-1]


def op_macs(node: ov.Node) -> int | None:
    """MACs of one node with static shapes, or None when it is not a compute op."""
    kind = node.get_type_name()
    if kind == "Convolution":
        return _conv_macs(node, grouped=False)
    if kind == "GroupConvolution":
        return _conv_macs(node, grouped=True)
    if kind == "ConvolutionBackpropData":
        return _deconv_macs(node, grouped=False)
    if kind == "GroupConvolutionBackpropData":
        return _deconv_macs(node, grouped=True)
    if kind == "MatMul":
        return _matmul_macs(node)
    if kind == "FullyConnected":
        return _fully_connected_macs(node)
    return None


def with_batch(
    model: ov.Model,
    batch_size: int | None,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> ov.Model:
    """A copy of `model` with dim 0 of every input set to `batch_size` (None: leave it).

    `shapes` gives full static shapes per input name, for inputs whose other dims are dynamic
    or whose dim 0 is not a batch. The caller's model is never reshaped.
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
        raise ConfigError(f"batch_size must be a positive int or None, got {batch_size!r}")
    shapes = dict(shapes or {})
    names = {name for port in model.inputs for name in port.get_names()}
    unknown = sorted(set(shapes) - names)
    if unknown:
        raise ConfigError(f"shapes names unknown inputs {unknown}; model inputs: {sorted(names)}")
    new_shapes: dict[ov.Output, ov.PartialShape] = {}
    for port in model.inputs:
        given = next((shapes[n] for n in port.get_names() if n in shapes), None)
        shape = port.get_partial_shape()
        if given is not None:
            shape = ov.PartialShape(list(given))
        elif batch_size is not None and shape.rank.is_static and shape.rank.get_length() > 0:
            shape = ov.PartialShape(shape)
            shape[0] = ov.Dimension(batch_size)
        if shape.is_dynamic:
            raise ModelError(
                f"input '{port.get_any_name()}' has shape {shape} with dynamic dims besides "
                f"the batch; pass shapes={{'{port.get_any_name()}': [...]}} with static dims"
            )
        new_shapes[port] = shape
    copy = model.clone()
    copy_shapes = {copy.input(i): s for i, s in enumerate(new_shapes.values())}
    try:
        copy.reshape(copy_shapes)
    except RuntimeError as err:
        raise ModelError(f"cannot reshape model '{model.get_friendly_name()}': {err}") from err
    return copy


def count_by_op(model: ov.Model) -> dict[str, OpMacs]:
    """Per compute op of a statically shaped model: friendly name -> (type, MACs).

    Friendly names are normally unique; a repeated one gets a `#k` suffix so no op is lost.
    """
    breakdown: dict[str, OpMacs] = {}
    for node in model.get_ordered_ops():
        macs = op_macs(node)
        if macs is None:
            continue
        key = node.get_friendly_name()
        k = 1
        while key in breakdown:
            k += 1
            key = f"{node.get_friendly_name()}#{k}"
        breakdown[key] = OpMacs(node.get_type_name(), macs)
    return breakdown
