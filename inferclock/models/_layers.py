"""Shared graph builders for the built-in models (OpenVINO opset API).

Every convolution is emitted the way a deployed IR carries it: batch norm already folded, so
a Convolution (or GroupConvolution) with f32 weights, then an Add of a per-channel bias, then
the activation. Weights are random (He-normal from a seeded numpy Generator): the models time
like the real networks but compute nothing meaningful.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import openvino as ov
import openvino.opset16 as ops

Activation = Literal["relu", "relu6"] | None


class Weights:
    """Draws every weight of one model from a single seeded generator, in build order."""

    def __init__(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)

    def normal(self, shape: tuple[int, ...], std: float) -> np.ndarray:
        return self._rng.standard_normal(shape, dtype=np.float32) * np.float32(std)


def channels(x: ov.Output) -> int:
    """Static channel count (dim 1) of an NCHW tensor."""
    return int(x.get_partial_shape()[1].get_length())


def image_input(name: str, height: int, width: int) -> ov.Node:
    """An f32 NCHW RGB input with a dynamic batch."""
    param = ops.parameter([-1, 3, height, width], ov.Type.f32, name=name)
    param.output(0).set_names({name})
    return param


def conv(
    x: ov.Output,
    w: Weights,
    out_channels: int,
    kernel: int | tuple[int, int],
    *,
    name: str,
    stride: int = 1,
    padding: int | tuple[int, int] | None = None,
    groups: int = 1,
    act: Activation = "relu",
    gain: float = 1.0,
) -> ov.Output:
    """Convolution + folded-BN bias + activation; `padding=None` means k // 2 on each side.

    `gain` scales the He-normal weights: residual branches use a small one so activations
    stay in a sane range through dozens of random blocks.
    """
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    if padding is None:
        ph, pw = kh // 2, kw // 2
    else:
        ph, pw = (padding, padding) if isinstance(padding, int) else padding
    in_channels = channels(x)
    fan_in = in_channels // groups * kh * kw
    std = gain * float(np.sqrt(2.0 / fan_in))
    strides, pads, dilations = [stride, stride], [ph, pw], [1, 1]
    if groups == 1:
        weights = w.normal((out_channels, in_channels, kh, kw), std)
        y = ops.convolution(x, weights, strides, pads, pads, dilations, name=name)
    else:
        shape = (groups, out_channels // groups, in_channels // groups, kh, kw)
        weights = w.normal(shape, std)
        y = ops.group_convolution(x, weights, strides, pads, pads, dilations, name=name)
    bias = w.normal((1, out_channels, 1, 1), 0.01)
    y = ops.add(y, bias, name=f"{name}.bias")
    if act == "relu":
        y = ops.relu(y, name=f"{name}.relu")
    elif act == "relu6":
        y = ops.clamp(y, 0.0, 6.0, name=f"{name}.relu6")
    return y.output(0)


def depthwise(
    x: ov.Output, w: Weights, *, name: str, stride: int = 1, act: Activation = "relu6"
) -> ov.Output:
    """3x3 depthwise convolution (a GroupConvolution with one channel per group)."""
    c = channels(x)
    return conv(x, w, c, 3, name=name, stride=stride, groups=c, act=act)


def max_pool(x: ov.Output, kernel: int, stride: int, padding: int = 0, *, name: str) -> ov.Output:
    pads = [padding, padding]
    pool = ops.max_pool(x, [stride, stride], [1, 1], pads, pads, [kernel, kernel], name=name)
    return pool.output(0)


def avg_pool(x: ov.Output, kernel: int, stride: int, padding: int = 0, *, name: str) -> ov.Output:
    """Average pool counting padded zeros, as torch's default `count_include_pad=True` does."""
    pads = [padding, padding]
    # Dilations must be explicit: an AvgPool-16 left with the default (empty) dilations makes
    # the 2026.4.1 CPU plugin segfault in compile_model.
    pool = ops.avg_pool(
        x, [stride, stride], pads, pads, [kernel, kernel], False, dilations=[1, 1], name=name
    )
    return pool.output(0)


def global_avg_pool(x: ov.Output, *, name: str) -> ov.Output:
    return ops.reduce_mean(x, np.array([2, 3], dtype=np.int64), True, name=name).output(0)


def flatten(x: ov.Output, *, name: str) -> ov.Output:
    """[N, ...] -> [N, prod(...)] keeping the batch dynamic."""
    return ops.reshape(x, np.array([0, -1], dtype=np.int64), True, name=name).output(0)


def concat(xs: list[ov.Output], *, name: str, axis: int = 1) -> ov.Output:
    return ops.concat(xs, axis, name=name).output(0)


def classifier(x: ov.Output, w: Weights, num_classes: int, *, name: str) -> ov.Output:
    """Global average pool, flatten, then a fully connected layer (MatMul + bias) to logits."""
    pooled = flatten(global_avg_pool(x, name=f"{name}.pool"), name=f"{name}.flatten")
    in_features = channels(x)
    weights = w.normal((num_classes, in_features), float(np.sqrt(1.0 / in_features)))
    y = ops.matmul(pooled, weights, False, True, name=name)
    return ops.add(y, w.normal((1, num_classes), 0.01), name=f"{name}.bias").output(0)


def finish(outputs: dict[str, ov.Output], inputs: list[ov.Node], name: str) -> ov.Model:
    """Wrap outputs (keyed by tensor name) into a model with named Result ops."""
    results = []
    for tensor_name, out in outputs.items():
        out.set_names({tensor_name})
        results.append(ops.result(out, name=tensor_name))
    return ov.Model(results, inputs, name)
