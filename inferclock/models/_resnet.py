"""ResNet-50 v1.5 (He et al. 2016, as in torchvision: stride 2 on the bottleneck's 3x3 conv).

Input `input` [N, 3, 224, 224] f32, output `logits` [N, 1000].
Published cost: 4.09 GMACs per 224x224 image (torchvision model table, ResNet50_Weights,
"GFLOPS 4.09", which counts one multiply-add as one operation), i.e. convolutions plus the
final fully connected layer; our counter gives 4,089,184,256 MACs.
"""

from __future__ import annotations

import openvino as ov
import openvino.opset16 as ops

from inferclock.models import _layers as L

PUBLISHED_MACS = 4_090_000_000
MACS_SOURCE = "torchvision ResNet50_Weights.IMAGENET1K_V2 meta: 4.09 G (multiply-adds)"

# (bottleneck width, blocks, stride of the first block) per stage
_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))
_EXPANSION = 4


def _bottleneck(x: ov.Output, w: L.Weights, width: int, stride: int, name: str) -> ov.Output:
    out_channels = width * _EXPANSION
    y = L.conv(x, w, width, 1, name=f"{name}.conv1")
    y = L.conv(y, w, width, 3, stride=stride, name=f"{name}.conv2")
    y = L.conv(y, w, out_channels, 1, act=None, gain=0.2, name=f"{name}.conv3")
    if stride != 1 or L.channels(x) != out_channels:
        shortcut = L.conv(x, w, out_channels, 1, stride=stride, act=None, name=f"{name}.downsample")
    else:
        shortcut = x
    return ops.relu(ops.add(y, shortcut), name=f"{name}.relu").output(0)


def build(seed: int) -> ov.Model:
    w = L.Weights(seed)
    image = L.image_input("input", 224, 224)
    x = L.conv(image.output(0), w, 64, 7, stride=2, name="conv1")
    x = L.max_pool(x, 3, 2, 1, name="maxpool")
    for stage, (width, blocks, stride) in enumerate(_STAGES, start=1):
        for block in range(blocks):
            x = _bottleneck(x, w, width, stride if block == 0 else 1, f"layer{stage}.{block}")
    logits = L.classifier(x, w, 1000, name="fc")
    return L.finish({"logits": logits}, [image], "resnet50")
