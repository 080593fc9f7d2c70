"""Built-in models and a MAC counter.

The built-in models are real architectures with random weights from a fixed seed, built with
OpenVINO's opset API (no downloads), f32, NCHW, dynamic batch, batch norm folded into the
convolutions like a deployed IR. They are built once and cached as IR (see `cache_dir()`).

    import inferclock as ic
    ic.models.list()    # ['inception_v3', 'mobilenet_v2', 'resnet50', 'ssdlite_mobilenet_v2']
    m = ic.models.get("resnet50")   # builds on first use (about 1.5 s), then reads the cache
    m.path, m.input_shape, m.published_macs, m.read_model()
    ic.models.macs("resnet50")      # 4_089_184_256 MACs for one 224x224 image (or macs(m))
    ic.models.macs_by_op(m.path, batch_size=8)   # {"conv1": OpMacs("Convolution", ...), ...}

May import: _common.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import openvino as ov

from inferclock._common.errors import ConfigTypeError, ModelError
from inferclock.models import _cache, _inception, _layers, _macs, _mobilenet, _resnet, _ssd
from inferclock.models._cache import cache_dir
from inferclock.models._macs import OpMacs

__all__ = ["BuiltinModel", "OpMacs", "cache_dir", "get", "list", "macs", "macs_by_op", "path"]

SEED = 0


@dataclass(frozen=True)
class _Spec:
    module: ModuleType  # has build(seed) -> ov.Model, PUBLISHED_MACS, MACS_SOURCE
    input_shape: tuple[int, ...]
    outputs: tuple[str, ...]
    description: str
    depends: tuple[ModuleType, ...] = ()  # other builder modules it uses, for the cache key


_SPECS: dict[str, _Spec] = {
    "inception_v3": _Spec(
        _inception, (-1, 3, 299, 299), ("logits",), "Inception-v3, 299x299, 1000 classes"
    ),
    "mobilenet_v2": _Spec(
        _mobilenet, (-1, 3, 224, 224), ("logits",), "MobileNetV2 1.0, 224x224, 1000 classes"
    ),
    "resnet50": _Spec(
        _resnet, (-1, 3, 224, 224), ("logits",), "ResNet-50 v1.5, 224x224, 1000 classes"
    ),
    "ssdlite_mobilenet_v2": _Spec(
        _ssd,
        (-1, 3, 320, 320),
        ("detections",),
        "SSDLite + MobileNetV2 detector, 320x320, 90 COCO classes, DetectionOutput tail",
        depends=(_mobilenet,),
    ),
}


@dataclass(frozen=True)
class BuiltinModel:
    """A built-in model and its cached IR file."""

    name: str
    path: Path
    input_name: str
    input_shape: tuple[int, ...]  # NCHW, -1 for the dynamic batch
    output_names: tuple[str, ...]
    published_macs: int  # per sample, as published (see macs_source)
    macs_source: str
    description: str

    def read_model(self) -> ov.Model:
        """A fresh `ov.Model` read from the cached IR (callers may reshape it freely)."""
        return ov.Core().read_model(str(self.path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.path),
            "input_name": self.input_name,
            "input_shape": builtins.list(self.input_shape),
            "output_names": builtins.list(self.output_names),
            "published_macs": self.published_macs,
            "macs_source": self.macs_source,
            "description": self.description,
        }


def list() -> builtins.list[str]:
    """Names of the built-in models, sorted."""
    return sorted(_SPECS)


def _spec(name: str) -> _Spec:
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        raise ModelError(
            f"unknown built-in model {name!r}; choices: {', '.join(sorted(_SPECS))}"
        ) from None


def path(name: str) -> Path:
    """The cached IR .xml of a built-in model, building it on first use."""
    spec = _spec(name)
    modules = (_layers, spec.module, *spec.depends)
    key = _cache.cache_key(name, SEED, modules)
    return _cache.cached_ir(name, key, lambda: spec.module.build(SEED))


def get(name: str) -> BuiltinModel:
    """A built-in model by name (see `list()`), built and cached on first use."""
    spec = _spec(name)
    return BuiltinModel(
        name=name,
        path=path(name),
        input_name="input",
        input_shape=spec.input_shape,
        output_names=spec.outputs,
        published_macs=int(spec.module.PUBLISHED_MACS),
        macs_source=str(spec.module.MACS_SOURCE),
        description=spec.description,
    )


# An ov.Model, a file OpenVINO reads, a built-in name, or what get() returns.
ModelLike: TypeAlias = "ov.Model | BuiltinModel | str | os.PathLike[str]"


def _as_model(model: ModelLike) -> ov.Model:
    if isinstance(model, ov.Model):
        return model
    if isinstance(model, BuiltinModel):
        return model.read_model()
    if isinstance(model, str) and model in _SPECS:
        return get(model).read_model()
    if not isinstance(model, (str, os.PathLike)):
        raise ConfigTypeError(
            "model must be an openvino.Model, a model file path, a built-in model name "
            f"({', '.join(sorted(_SPECS))}) or what ic.models.get() returns, got "
            f"{type(model).__name__}"
        )
    file = Path(model)
    if not file.is_file():
        raise ModelError(
            f"model {str(model)!r} is neither an existing file nor a built-in model name "
            f"(built-in: {', '.join(sorted(_SPECS))})"
        )
    try:
        return ov.Core().read_model(str(file))
    except RuntimeError as err:
        raise ModelError(f"OpenVINO cannot read model {str(file)!r}: {err}") from err


def macs_by_op(
    model: ModelLike,
    batch_size: int | None = 1,
    *,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, OpMacs]:
    """MACs of each compute op for one inference at `batch_size`: friendly name -> (type, MACs).

    Counts Convolution, GroupConvolution, (Group)ConvolutionBackpropData, MatMul and
    FullyConnected; other ops do no multiply-adds worth counting and are left out. The model
    (an `ov.Model`, a path OpenVINO reads, a built-in name or a `BuiltinModel` from `get`;
    anything else raises ConfigTypeError, a TypeError) is counted on a copy whose
    input dim 0 is set to `batch_size`; `batch_size=None` keeps the model's own batch.
    Inputs with other dynamic dims need `shapes={"input name": [static dims]}`; a dim that is
    still dynamic raises ModelError. The caller's `ov.Model` is not modified.
    """
    return _macs.count_by_op(_macs.with_batch(_as_model(model), batch_size, shapes))


def macs(
    model: ModelLike,
    batch_size: int | None = 1,
    *,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> int:
    """Multiply-accumulates of one inference of a whole batch of `batch_size` samples.

    So `macs(m)` (batch 1) is the per-sample figure papers publish, and achieved throughput is
    `2 * macs(m, b) / latency_s / 1e9` GFLOP/s for a batch-b latency, or
    `2 * macs(m) * samples_per_s / 1e9` from a throughput. Arguments as in `macs_by_op`.
    """
    return sum(op.macs for op in macs_by_op(model, batch_size, shapes=shapes).values())
