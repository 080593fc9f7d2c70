"""Inception-v3 (Szegedy et al. 2016), the inference graph of torchvision's `inception_v3`.

Input `input` [N, 3, 299, 299] f32, output `logits` [N, 1000]. The auxiliary classifier is a
training-only branch and is left out, as it is from a deployed model; so is torchvision's
`transform_input` re-normalization (a few elementwise ops, no MACs).
Published cost: 5.71 GMACs per 299x299 image (torchvision model table, Inception_V3_Weights,
"GFLOPS 5.71", one multiply-add counted as one operation): convolutions plus the classifier;
our counter gives 5,713,216,096 MACs.
"""

from __future__ import annotations

import openvino as ov

from inferclock.models import _layers as L

PUBLISHED_MACS = 5_710_000_000
MACS_SOURCE = "torchvision Inception_V3_Weights.IMAGENET1K_V1 meta: 5.71 G (multiply-adds)"


def _branch_pool(x: ov.Output, w: L.Weights, out: int, name: str) -> ov.Output:
    pooled = L.avg_pool(x, 3, 1, 1, name=f"{name}.pool")
    return L.conv(pooled, w, out, 1, name=f"{name}.branch_pool")


def _inception_a(x: ov.Output, w: L.Weights, pool_features: int, name: str) -> ov.Output:
    b1 = L.conv(x, w, 64, 1, name=f"{name}.branch1x1")
    b5 = L.conv(x, w, 48, 1, name=f"{name}.branch5x5_1")
    b5 = L.conv(b5, w, 64, 5, name=f"{name}.branch5x5_2")
    b3 = L.conv(x, w, 64, 1, name=f"{name}.branch3x3dbl_1")
    b3 = L.conv(b3, w, 96, 3, name=f"{name}.branch3x3dbl_2")
    b3 = L.conv(b3, w, 96, 3, name=f"{name}.branch3x3dbl_3")
    bp = _branch_pool(x, w, pool_features, name)
    return L.concat([b1, b5, b3, bp], name=name)


def _inception_b(x: ov.Output, w: L.Weights, name: str) -> ov.Output:
    b3 = L.conv(x, w, 384, 3, stride=2, padding=0, name=f"{name}.branch3x3")
    bd = L.conv(x, w, 64, 1, name=f"{name}.branch3x3dbl_1")
    bd = L.conv(bd, w, 96, 3, name=f"{name}.branch3x3dbl_2")
    bd = L.conv(bd, w, 96, 3, stride=2, padding=0, name=f"{name}.branch3x3dbl_3")
    bp = L.max_pool(x, 3, 2, name=f"{name}.pool")
    return L.concat([b3, bd, bp], name=name)


def _inception_c(x: ov.Output, w: L.Weights, c7: int, name: str) -> ov.Output:
    b1 = L.conv(x, w, 192, 1, name=f"{name}.branch1x1")
    b7 = L.conv(x, w, c7, 1, name=f"{name}.branch7x7_1")
    b7 = L.conv(b7, w, c7, (1, 7), name=f"{name}.branch7x7_2")
    b7 = L.conv(b7, w, 192, (7, 1), name=f"{name}.branch7x7_3")
    bd = L.conv(x, w, c7, 1, name=f"{name}.branch7x7dbl_1")
    bd = L.conv(bd, w, c7, (7, 1), name=f"{name}.branch7x7dbl_2")
    bd = L.conv(bd, w, c7, (1, 7), name=f"{name}.branch7x7dbl_3")
    bd = L.conv(bd, w, c7, (7, 1), name=f"{name}.branch7x7dbl_4")
    bd = L.conv(bd, w, 192, (1, 7), name=f"{name}.branch7x7dbl_5")
    bp = _branch_pool(x, w, 192, name)
    return L.concat([b1, b7, bd, bp], name=name)


def _inception_d(x: ov.Output, w: L.Weights, name: str) -> ov.Output:
    b3 = L.conv(x, w, 192, 1, name=f"{name}.branch3x3_1")
    b3 = L.conv(b3, w, 320, 3, stride=2, padding=0, name=f"{name}.branch3x3_2")
    b7 = L.conv(x, w, 192, 1, name=f"{name}.branch7x7x3_1")
    b7 = L.conv(b7, w, 192, (1, 7), name=f"{name}.branch7x7x3_2")
    b7 = L.conv(b7, w, 192, (7, 1), name=f"{name}.branch7x7x3_3")
    b7 = L.conv(b7, w, 192, 3, stride=2, padding=0, name=f"{name}.branch7x7x3_4")
    bp = L.max_pool(x, 3, 2, name=f"{name}.pool")
    return L.concat([b3, b7, bp], name=name)


def _inception_e(x: ov.Output, w: L.Weights, name: str) -> ov.Output:
    b1 = L.conv(x, w, 320, 1, name=f"{name}.branch1x1")
    b3 = L.conv(x, w, 384, 1, name=f"{name}.branch3x3_1")
    b3 = L.concat(
        [
            L.conv(b3, w, 384, (1, 3), name=f"{name}.branch3x3_2a"),
            L.conv(b3, w, 384, (3, 1), name=f"{name}.branch3x3_2b"),
        ],
        name=f"{name}.branch3x3",
    )
    bd = L.conv(x, w, 448, 1, name=f"{name}.branch3x3dbl_1")
    bd = L.conv(bd, w, 384, 3, name=f"{name}.branch3x3dbl_2")
    bd = L.concat(
        [
            L.conv(bd, w, 384, (1, 3), name=f"{name}.branch3x3dbl_3a"),
            L.conv(bd, w, 384, (3, 1), name=f"{name}.branch3x3dbl_3b"),
        ],
        name=f"{name}.branch3x3dbl",
    )
    bp = _branch_pool(x, w, 192, name)
    return L.concat([b1, b3, bd, bp], name=name)


def build(seed: int) -> ov.Model:
    w = L.Weights(seed)
    image = L.image_input("input", 299, 299)
    x = L.conv(image.output(0), w, 32, 3, stride=2, padding=0, name="Conv2d_1a_3x3")
    x = L.conv(x, w, 32, 3, padding=0, name="Conv2d_2a_3x3")
    x = L.conv(x, w, 64, 3, name="Conv2d_2b_3x3")
    x = L.max_pool(x, 3, 2, name="maxpool1")
    x = L.conv(x, w, 80, 1, name="Conv2d_3b_1x1")
    x = L.conv(x, w, 192, 3, padding=0, name="Conv2d_4a_3x3")
    x = L.max_pool(x, 3, 2, name="maxpool2")
    x = _inception_a(x, w, 32, "Mixed_5b")
    x = _inception_a(x, w, 64, "Mixed_5c")
    x = _inception_a(x, w, 64, "Mixed_5d")
    x = _inception_b(x, w, "Mixed_6a")
    for c7, name in ((128, "Mixed_6b"), (160, "Mixed_6c"), (160, "Mixed_6d"), (192, "Mixed_6e")):
        x = _inception_c(x, w, c7, name)
    x = _inception_d(x, w, "Mixed_7a")
    x = _inception_e(x, w, "Mixed_7b")
    x = _inception_e(x, w, "Mixed_7c")
    logits = L.classifier(x, w, 1000, name="fc")
    return L.finish({"logits": logits}, [image], "inception_v3")
