"""SSDLite with a MobileNetV2 backbone at 320x320 (Sandler et al. 2018, section 6.2).

The detector of the MobileNetV2 paper, laid out as TensorFlow's Object Detection API config
`ssdlite_mobilenet_v2_coco` does it:
- backbone: MobileNetV2 1.0; the first head taps the expansion output of the first stride-32
  block (576 channels at 20x20), the second the final 1x1 conv (1280 channels at 10x10);
- four extra feature maps (512, 256, 256, 128 channels at 5x5, 3x3, 2x2, 1x1), each a 1x1 conv
  to half depth then a depthwise-separable 3x3 stride-2 conv;
- SSDLite heads: per feature map, a 3x3 depthwise + 1x1 conv for box offsets and another for
  class scores (90 COCO classes + background); 3 anchors per cell on the first map, 6 on the
  others (2034 priors in all);
- the tail in OpenVINO's own ops: PriorBoxClustered anchors (scales 0.2..0.95, aspect ratios
  1, 2, 1/2, 3, 1/3 as TF's ssd_anchor_generator), sigmoid scores, DetectionOutput (box decode
  and per-class NMS, at most 100 detections per image).
Input `input` [N, 3, 320, 320] f32; output `detections` [1, 1, N * 100, 7], rows of
(image_id, label, score, x_min, y_min, x_max, y_max) ending with an image_id of -1.

Published cost: 0.8 B multiply-adds per 320x320 image (Sandler et al. 2018, arXiv:1801.04381,
Table 6, "MNet V2 + SSDLite: 4.3M params, 0.8B MAdds"). Counting every Convolution and
GroupConvolution (the tail has no multiply-adds) gives 804,397,504 MACs here (+0.55%): the
backbone is 611.2 M of it, the extra layers 38.6 M, the box and class heads 154.6 M.
"""

from __future__ import annotations

import math

import numpy as np
import openvino as ov
import openvino.opset16 as ops

from inferclock.models import _layers as L, _mobilenet

PUBLISHED_MACS = 800_000_000
MACS_SOURCE = "Sandler et al. 2018 (arXiv:1801.04381), Table 6: MNet V2 + SSDLite 0.8B MAdds"

IMAGE_SIZE = 320
NUM_CLASSES = 91  # 90 COCO classes + background (label 0)
KEEP_TOP_K = 100
_EXTRA_DEPTHS = (512, 256, 256, 128)
_MIN_SCALE, _MAX_SCALE = 0.2, 0.95
_ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)


def _anchor_sizes(level: int, levels: int) -> list[tuple[float, float]]:
    """(width, height) of each anchor at one level, as fractions of the image (TF's rules)."""
    scales = [_MIN_SCALE + (_MAX_SCALE - _MIN_SCALE) * i / (levels - 1) for i in range(levels)]
    scales.append(1.0)
    scale = scales[level]
    if level == 0:  # reduce_boxes_in_lowest_layer: three boxes, a small square and two 1:2
        pairs = [(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
    else:
        pairs = [(scale, ar) for ar in _ASPECT_RATIOS]
        pairs.append((math.sqrt(scale * scales[level + 1]), 1.0))
    return [(s * math.sqrt(ar), s / math.sqrt(ar)) for s, ar in pairs]


def _to_rows(x: ov.Output, *, name: str) -> ov.Output:
    """[N, A*k, H, W] -> [N, H*W*A*k]: anchor-major within each cell, like PriorBoxClustered."""
    nhwc = ops.transpose(x, np.array([0, 2, 3, 1], dtype=np.int64), name=f"{name}.nhwc")
    return L.flatten(nhwc.output(0), name=f"{name}.flatten")


def _head(x: ov.Output, w: L.Weights, outputs: int, name: str) -> ov.Output:
    """SSDLite predictor: 3x3 depthwise (+BN, ReLU6) then a linear 1x1 conv."""
    y = L.depthwise(x, w, name=f"{name}_depthwise")
    return _to_rows(L.conv(y, w, outputs, 1, act=None, name=name), name=name)


def _extra(x: ov.Output, w: L.Weights, depth: int, name: str) -> ov.Output:
    y = L.conv(x, w, depth // 2, 1, act="relu6", name=f"{name}_1x1")
    y = L.depthwise(y, w, stride=2, name=f"{name}_3x3_s2_depthwise")
    return L.conv(y, w, depth, 1, act="relu6", name=f"{name}_3x3_s2")


def _priors(feature: ov.Output, level: int, levels: int, name: str) -> ov.Output:
    sizes = _anchor_sizes(level, levels)
    hw = [int(d.get_length()) for d in feature.get_partial_shape()[2:]]
    # The op's attributes are "width"/"height" (in pixels); the "widths"/"heights" named in
    # the Python docstring are silently ignored and give zero priors.
    attrs = {
        "width": [wd * IMAGE_SIZE for wd, _ in sizes],
        "height": [ht * IMAGE_SIZE for _, ht in sizes],
        "clip": False,
        "offset": 0.5,
        "variance": [0.1, 0.1, 0.2, 0.2],  # TF's box coder scales (10, 10, 5, 5)
    }
    output_size = ops.constant(np.array(hw, dtype=np.int64))
    image_size = ops.constant(np.array([IMAGE_SIZE, IMAGE_SIZE], dtype=np.int64))
    return ops.prior_box_clustered(output_size, image_size, attrs, name=name).output(0)


def build(seed: int) -> ov.Model:
    w = L.Weights(seed)
    image = L.image_input("input", IMAGE_SIZE, IMAGE_SIZE)
    c4, c5 = _mobilenet.features(image.output(0), w)
    maps = [c4, c5]
    for i, depth in enumerate(_EXTRA_DEPTHS, start=2):
        maps.append(_extra(maps[-1], w, depth, f"extra.layer_19_{i - 1}"))
    boxes, scores, priors = [], [], []
    for level, fmap in enumerate(maps):
        anchors = len(_anchor_sizes(level, len(maps)))
        prefix = f"BoxPredictor_{level}"
        boxes.append(_head(fmap, w, anchors * 4, f"{prefix}.BoxEncodingPredictor"))
        scores.append(_head(fmap, w, anchors * NUM_CLASSES, f"{prefix}.ClassPredictor"))
        priors.append(_priors(fmap, level, len(maps), f"{prefix}.priors"))
    box_logits = L.concat(boxes, name="box_encodings")
    class_preds = ops.sigmoid(L.concat(scores, name="class_logits"), name="class_scores")
    proposals = ops.unsqueeze(L.concat(priors, name="priors"), np.int64(0), name="proposals")
    attrs = {
        "background_label_id": 0,
        "top_k": KEEP_TOP_K,  # per class, before NMS
        "keep_top_k": [KEEP_TOP_K],
        "code_type": "caffe.PriorBoxParameter.CENTER_SIZE",
        "share_location": True,
        "nms_threshold": 0.6,
        "confidence_threshold": 0.3,
        "clip_after_nms": True,
        "normalized": True,
    }
    detections = ops.detection_output(box_logits, class_preds, proposals, attrs, name="detections")
    return L.finish({"detections": detections.output(0)}, [image], "ssdlite_mobilenet_v2")
