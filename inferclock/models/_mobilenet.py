"""MobileNetV2 1.0 (Sandler et al. 2018, "MobileNetV2: Inverted Residuals and Linear Bottlenecks").

Input `input` [N, 3, 224, 224] f32, output `logits` [N, 1000].
Published cost: 300 M multiply-adds per 224x224 image (the paper's Table 4; torchvision lists
0.30 G), convolutions plus the classifier; our counter gives 300,774,272 MACs.
The backbone is shared with the SSDLite detector (`features`).
"""

from __future__ import annotations

import openvino as ov
import openvino.opset16 as ops

from inferclock.models import _layers as L

PUBLISHED_MACS = 300_000_000
MACS_SOURCE = "Sandler et al. 2018 (arXiv:1801.04381), Table 4: MobileNetV2 300M MAdds"

# (expansion t, output channels c, repeats n, first stride s), the paper's Table 2
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
             (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))  # fmt: skip
LAST_CHANNELS = 1280
# Index (0-based, over all inverted-residual blocks) of the first stride-32 block: the SSDLite
# head taps its expansion output ("layer_15/expansion_output" in TF's naming).
_C4_BLOCK = 13


def _inverted_residual(
    x: ov.Output, w: L.Weights, t: int, out: int, stride: int, name: str
) -> tuple[ov.Output, ov.Output | None]:
    """One block; also returns its expansion output (None when t == 1)."""
    hidden = L.channels(x) * t
    expanded = L.conv(x, w, hidden, 1, act="relu6", name=f"{name}.expand") if t != 1 else None
    y = L.depthwise(expanded if expanded is not None else x, w, stride=stride, name=f"{name}.dw")
    y = L.conv(y, w, out, 1, act=None, gain=0.5, name=f"{name}.project")
    if stride == 1 and L.channels(x) == out:
        y = ops.add(x, y, name=f"{name}.add").output(0)
    return y, expanded


def features(image: ov.Output, w: L.Weights) -> tuple[ov.Output, ov.Output]:
    """The backbone: (expansion output of the first stride-32 block, final 1280-channel map)."""
    x = L.conv(image, w, 32, 3, stride=2, act="relu6", name="features.0")
    c4: ov.Output | None = None
    block = 0
    for t, c, n, s in _SETTINGS:
        for i in range(n):
            x, expanded = _inverted_residual(
                x, w, t, c, s if i == 0 else 1, f"features.{block + 1}"
            )
            if block == _C4_BLOCK:
                c4 = expanded
            block += 1
    assert c4 is not None
    x = L.conv(x, w, LAST_CHANNELS, 1, act="relu6", name=f"features.{block + 1}")
    return c4, x


def build(seed: int) -> ov.Model:
    w = L.Weights(seed)
    image = L.image_input("input", 224, 224)
    _, x = features(image.output(0), w)
    logits = L.classifier(x, w, 1000, name="classifier")
    return L.finish({"logits": logits}, [image], "mobilenet_v2")
