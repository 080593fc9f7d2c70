"""int8 models: NNCF post-training quantization, cached on disk.

``quantize(model)`` calibrates on seeded random inputs of the model's input shapes and types
(or on the user's data) and writes the quantized IR under ``<cache>/int8/``, keyed by the
sha256 of the source model and of every setting that changes the result, so a sweep quantizes
each model once. A model that is already quantized is used as it is.

NNCF is an optional dependency (``pip install 'inferclock[int8]'``), imported only here and
only when a model has to be quantized.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import itertools
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import openvino as ov

from inferclock._common.errors import ConfigError, ModelError

DEFAULT_SUBSET_SIZE = 32  # random calibration inputs; enough for stable min/max on CNNs
INSTALL_HINT = "int8 needs NNCF: pip install 'inferclock[int8]'"
_CACHE_FORMAT = 1

_log = logging.getLogger("inferclock.int8")
_quantizations = 0  # nncf.quantize calls made by this process (the cache test reads it)

ModelLike: TypeAlias = "str | os.PathLike[str] | ov.Model"
Shapes: TypeAlias = "Mapping[str, Sequence[int]] | Sequence[int]"


def quantization_count() -> int:
    """How many models this process has quantized (cache hits do not count)."""
    return _quantizations


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``cache_dir``, else ``$INFERCLOCK_CACHE_DIR``, else ``$XDG_CACHE_HOME/inferclock``
    (``~/.cache/inferclock``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    from inferclock.models._cache import cache_dir as user_cache_dir

    return user_cache_dir()


def _model_files(path: Path) -> list[Path]:
    """The files that make up a model on disk: an IR's .xml and .bin, a directory's files."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file())
    files = [path]
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        files.append(path.with_suffix(".bin"))
    return files


def _hash_files(files: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() if f != root else f.suffix.encode())
        h.update(b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def model_sha256(model: ModelLike) -> str:
    """sha256 of a model: of its files (an IR's .xml and .bin), or of an ``ov.Model``
    serialized as IR."""
    if isinstance(model, ov.Model):
        with tempfile.TemporaryDirectory(prefix="inferclock-") as tmp:
            xml = Path(tmp) / "model.xml"
            ov.save_model(model, xml, compress_to_fp16=False)
            return _hash_files(_model_files(xml), Path(tmp))
    path = Path(model)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    return _hash_files(_model_files(path), path if path.is_dir() else path.parent)


def _read(model: ModelLike) -> ov.Model:
    if isinstance(model, ov.Model):
        return model
    path = Path(model)
    if not path.exists():
        raise ModelError(f"model file not found: {path}")
    try:
        return ov.Core().read_model(str(path))
    except RuntimeError as e:
        raise ModelError(f"cannot read model {path}: {e}") from e


_LOW_BIT = frozenset({"i8", "u8", "i4", "u4"})


def is_quantized(model: ModelLike) -> bool:
    """True when the model carries FakeQuantize ops or int8/uint8 (or 4-bit) weight constants:
    quantized already, so it is used as it is."""
    for op in _read(model).get_ops():
        kind = op.get_type_name()
        if kind == "FakeQuantize":
            return True
        if kind == "Constant" and op.get_element_type().get_type_name() in _LOW_BIT:
            return True
    return False


def _input_name(port: Any, index: int) -> str:
    names = port.get_names()
    return str(port.get_any_name()) if names else f"input{index}"


def calibration_shapes(
    model: ov.Model, shapes: Shapes | None = None, batch_size: int = 1
) -> list[tuple[str, list[int], np.dtype[Any]]]:
    """(name, shape, dtype) of each input for random calibration data.

    ``shapes`` gives a shape per input name (or one shape for a single-input model);
    otherwise a dynamic first dimension becomes ``batch_size`` and any other dynamic
    dimension is an error that asks for ``shapes``.
    """
    out: list[tuple[str, list[int], np.dtype[Any]]] = []
    inputs = list(model.inputs)
    by_name: Mapping[str, Sequence[int]] = {}
    if isinstance(shapes, Mapping):
        by_name = shapes
    elif shapes is not None:
        if len(inputs) != 1:
            raise ConfigError(
                f"one shape {list(shapes)} given for a model with {len(inputs)} inputs; "
                "pass shapes={input_name: shape, ...}"
            )
        by_name = {_input_name(inputs[0], 0): shapes}
    for i, port in enumerate(inputs):
        name = _input_name(port, i)
        dtype = np.dtype(port.get_element_type().to_dtype())
        given = next(
            (dims for n, dims in by_name.items() if n == name or n in port.get_names()), None
        )
        if given is not None:
            out.append((name, [int(d) for d in given], dtype))
            continue
        dims: list[int] = []
        for axis, dim in enumerate(port.get_partial_shape()):
            if dim.is_static:
                dims.append(dim.get_length())
            elif axis == 0:
                dims.append(batch_size)
            else:
                raise ConfigError(
                    f"input {name!r} has dynamic dimension {axis} "
                    f"({port.get_partial_shape()}); pass shapes={{{name!r}: [...]}} "
                    "for calibration"
                )
        out.append((name, dims, dtype))
    return out


def _random_item(
    specs: Sequence[tuple[str, list[int], np.dtype[Any]]], rng: np.random.Generator
) -> list[npt.NDArray[Any]]:
    item: list[npt.NDArray[Any]] = []
    for _, shape, dtype in specs:
        if dtype == np.bool_:
            item.append(rng.random(shape) < 0.5)
        elif np.issubdtype(dtype, np.integer):
            item.append(rng.integers(0, 10, size=shape).astype(dtype))
        else:
            item.append(rng.standard_normal(shape).astype(dtype))
    return item


def _hash_item(h: Any, item: Any) -> None:
    """Feed one calibration item (array, sequence or dict of arrays) into hash ``h``."""
    if isinstance(item, Mapping):
        for key in sorted(item, key=str):
            h.update(str(key).encode())
            _hash_item(h, item[key])
    elif isinstance(item, list | tuple):
        for part in item:
            _hash_item(h, part)
    else:
        arr = np.ascontiguousarray(np.asarray(item))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())


def _import_nncf() -> Any:
    try:
        import nncf
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return nncf


def _nncf_version() -> str:
    """NNCF's version without importing it (the import takes over a second)."""
    try:
        return importlib.metadata.version("nncf")
    except importlib.metadata.PackageNotFoundError as e:
        raise ImportError(INSTALL_HINT) from e


def _save_atomically(model: ov.Model, final: Path, meta: Mapping[str, Any]) -> None:
    """Write ``final/model.xml`` (+ .bin, meta.json) via a temporary sibling directory renamed
    into place, so a reader never sees half a model. If another process got there first,
    keep theirs. A directory that cannot be written is a ConfigError naming it."""
    try:
        _save_into(model, final, meta)
    except OSError as e:  # a read-only or full filesystem, a file where a folder should be
        raise _unwritable(final.parent, e) from e


def _unwritable(directory: Path, e: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write the int8 cache {str(directory)!r} ({e.strerror or e}): quantized "
        "models are cached there; set INFERCLOCK_CACHE_DIR (or cache_dir=) to a writable "
        "directory"
    )


def _check_writable(directory: Path) -> None:
    """Create ``directory`` and a file in it, before minutes of quantizing are spent."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        os.rmdir(tempfile.mkdtemp(prefix=".probe-", dir=directory))
    except OSError as e:
        raise _unwritable(directory, e) from e


def _save_into(model: ov.Model, final: Path, meta: Mapping[str, Any]) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=final.parent))
    try:
        # compress_to_fp16=False: f16-stored weights would read as f16 in runtimePrecision.
        ov.save_model(model, tmp / "model.xml", compress_to_fp16=False)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True))
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "model.xml").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def quantize(
    model: ModelLike,
    *,
    calibration: Iterable[Any] | None = None,
    subset_size: int | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike[str] | None = None,
    shapes: Shapes | None = None,
    batch_size: int = 1,
    source: ov.Model | None = None,
) -> Path:
    """Path of an int8 IR of ``model``, quantized with NNCF post-training quantization.

    Calibration uses ``calibration`` (an iterable of inputs as ``infer()`` takes them: an
    array, a list of arrays in input order, or a dict by input name), its first
    ``subset_size`` items; or, by default, ``subset_size`` (default 32) random inputs from a
    generator seeded with ``seed``, shaped by :func:`calibration_shapes`. Dynamic dimensions
    of the model stay dynamic in the quantized IR.

    The result is cached under ``cache_root(cache_dir)/int8/``, keyed by the source model's
    sha256 and the settings; a second call returns the cached path without quantizing. A model
    that is already quantized (:func:`is_quantized`) is returned as it is (an ``ov.Model`` is
    saved to the cache unchanged). ``source``: ``model`` (a path) already read by the caller,
    so it is not read again.
    """
    if subset_size is not None and subset_size < 1:
        raise ConfigError(f"subset_size must be a positive count, got {subset_size}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be a positive count, got {batch_size}")
    borrowed = source is not None or isinstance(model, ov.Model)
    source = source if source is not None else _read(model)
    src_sha = model_sha256(model)
    int8_dir = cache_root(cache_dir) / "int8"

    if is_quantized(source):
        if not isinstance(model, ov.Model):
            _log.info("%s is quantized already; using it as it is", model)
            return Path(model)
        final = int8_dir / f"{src_sha[:20]}-asis"
        if not (final / "model.xml").is_file():
            _save_atomically(source, final, {"format": _CACHE_FORMAT, "source_sha256": src_sha})
        return final / "model.xml"

    settings: dict[str, Any] = {
        "format": _CACHE_FORMAT,
        "source_sha256": src_sha,
        "openvino": ov.get_version(),
        "seed": seed,
    }
    items: list[Any] | None = None
    specs: list[tuple[str, list[int], np.dtype[Any]]] = []
    if calibration is None:
        count = subset_size or DEFAULT_SUBSET_SIZE
        specs = calibration_shapes(source, shapes, batch_size)
        settings |= {
            "calibration": "random",
            "subset_size": count,
            "shapes": {name: dims for name, dims, _ in specs},
        }
    else:
        if isinstance(calibration, np.ndarray | Mapping):
            raise ConfigError(
                "calibration is one input; pass an iterable of inputs, e.g. [array, ...]"
            )
        items = list(itertools.islice(calibration, subset_size) if subset_size else calibration)
        if not items:
            raise ConfigError("calibration is empty; give at least one input")
        h = hashlib.sha256()
        for item in items:
            _hash_item(h, item)
        settings |= {"calibration": h.hexdigest(), "subset_size": len(items)}

    settings["nncf"] = _nncf_version()
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    final = int8_dir / f"{src_sha[:20]}-{key[:20]}"
    if (final / "model.xml").is_file() and (final / "model.bin").is_file():
        _log.info("int8 cache hit: %s", final)
        return final / "model.xml"

    nncf = _import_nncf()
    _check_writable(int8_dir)
    if items is None:
        rng = np.random.default_rng(seed)
        items = [_random_item(specs, rng) for _ in range(settings["subset_size"])]
        if len(specs) == 1:
            items = [item[0] for item in items]
    _log.info("quantizing %s with NNCF %s (%d inputs)", model, nncf.__version__, len(items))
    global _quantizations
    _quantizations += 1
    # NNCF writes rt_info into the model it is given: spare the caller's ov.Model.
    target = source.clone() if borrowed else source
    quantized = nncf.quantize(target, nncf.Dataset(items), subset_size=len(items))
    _save_atomically(quantized, final, settings)
    return final / "model.xml"


__all__: Sequence[str] = (
    "DEFAULT_SUBSET_SIZE",
    "INSTALL_HINT",
    "cache_root",
    "calibration_shapes",
    "is_quantized",
    "model_sha256",
    "quantization_count",
    "quantize",
)
