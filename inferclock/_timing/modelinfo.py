"""Facts about the models a run or a sweep measures, gathered once per model in the parent.

A model argument (a path OpenVINO reads, a built-in name or an ``ov.Model``) is resolved to a
name and a file, read once, hashed once; its input names, whether it is quantized already,
and its MACs per batch size come from that one read. int8 quantization (NNCF, cached on disk)
happens once per model. Workers get the facts with their run spec and never recount them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferclock._common.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import openvino as ov

Shapes = Mapping[str, Sequence[int]]


@dataclass(frozen=True)
class ModelFacts:
    """What a run needs to know of a model before it starts."""

    name: str  # built-in name or file stem
    path: str  # the file (or SavedModel directory) the worker reads
    sha256: str | None  # over the model's files (IR: .xml and .bin); None for a directory
    input_names: frozenset[str]  # every name of every input (tensor names, node names)
    quantized: bool  # carries FakeQuantize or low-bit weights already


def file_sha256(path: Path) -> str | None:
    """sha256 over a model's files (an IR's .xml and .bin together); None for a directory."""
    if not path.is_file():
        return None
    files = [path]
    if path.suffix == ".xml" and path.with_suffix(".bin").is_file():
        files.append(path.with_suffix(".bin"))
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def resolve_model(model: Any, workdir: str | None = None) -> tuple[str, Path]:
    """(name, path) of a model given as a path, a built-in name, a built-in model object
    (``ic.models.get``) or an ``ov.Model`` (saved as IR under ``workdir``, which must outlive
    the run)."""
    from inferclock import models

    if isinstance(model, models.BuiltinModel):  # what ic.models.get() returns
        return model.name, model.path
    if isinstance(model, (str, os.PathLike)):
        text = os.fspath(model)
        if isinstance(model, str) and text in models.list():
            return text, models.path(text)
        p = Path(text)
        if not p.exists():
            raise ModelError(
                f"model {text!r} is neither a file nor a built-in model; built-in models: "
                f"{', '.join(models.list())}"
            )
        return (p.stem if p.is_file() else p.name), p.resolve()
    import openvino as ov

    if isinstance(model, ov.Model):
        d = workdir or tempfile.mkdtemp(prefix="inferclock-model-")
        xml = Path(d) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=False)
        return model.get_friendly_name() or "model", xml
    kind = type(model).__name__
    raise TypeError(f"model must be a path, a built-in model name or an openvino.Model, got {kind}")


class ModelBook:
    """The models of one run or sweep, each read once; MACs and int8 versions memoized.

    An ``ov.Model`` is saved as IR for the worker under ``workdir``; without one, a temporary
    folder is made on first need and removed by :meth:`close` (a run of model files makes
    none, so a run killed with SIGKILL leaves nothing behind).
    """

    def __init__(self, workdir: str | None = None) -> None:
        self.workdir = workdir
        self._own: str | None = None  # the folder this book made, removed by close()
        self._models: dict[str, ov.Model | None] = {}  # path -> the one read (None: unreadable)
        self._macs: dict[tuple[str, int, str], tuple[int | None, dict[str, int] | None]] = {}
        self._int8: dict[tuple[str, int, int | None], ModelFacts] = {}

    def add(self, model: Any) -> ModelFacts:
        """Resolve, read and hash ``model``; a ModelError when OpenVINO cannot read it."""
        import openvino as ov

        folder = None
        if isinstance(model, ov.Model):
            if self.workdir is None:
                self._own = self.workdir = tempfile.mkdtemp(prefix="inferclock-models-")
            folder = tempfile.mkdtemp(dir=self.workdir)
        name, path = resolve_model(model, folder)

        if isinstance(model, ov.Model):
            read = model  # no need to read back what was just saved
        else:
            read = self._read(path)
        return self._facts(name, path, read)

    def close(self) -> None:
        if self._own is not None:
            shutil.rmtree(self._own, ignore_errors=True)

    def __enter__(self) -> ModelBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, path: Path) -> ov.Model | None:
        import openvino as ov

        key = str(path)
        if key not in self._models:
            try:
                self._models[key] = ov.Core().read_model(key)
            except RuntimeError:
                # The worker reads it again and reports OpenVINO's message with the row.
                self._models[key] = None
        return self._models[key]

    def _facts(self, name: str, path: Path, read: ov.Model | None) -> ModelFacts:
        from inferclock._timing import int8 as _int8

        self._models[str(path)] = read
        names: set[str] = set()
        for port in read.inputs if read is not None else ():
            names |= set(port.get_names())
            names.add(port.get_node().get_friendly_name())
        return ModelFacts(
            name=name,
            path=str(path),
            sha256=file_sha256(path),
            input_names=frozenset(names),
            quantized=read is not None and _int8.is_quantized(read),
        )

    def check_shapes(self, facts: Sequence[ModelFacts], shapes: Shapes | None) -> None:
        """Every name in ``shapes`` must be an input of at least one of the models."""
        for name in shapes or {}:
            if not any(name in f.input_names for f in facts):
                listing = "; ".join(f"{f.name}: {', '.join(sorted(f.input_names))}" for f in facts)
                raise ConfigError(
                    f"shapes names an input {name!r} that none of the models has (inputs: "
                    f"{listing})"
                )

    def shapes_for(
        self, facts: ModelFacts, shapes: Shapes | None, batch: int
    ) -> dict[str, tuple[int, ...]]:
        """This model's part of ``shapes`` (one dict may serve a sweep of several models), its
        batch dimension checked against ``batch``: -1 there takes the batch size; another
        value must equal it (a shape's batch that differs from batch_size would make every
        per-sample figure wrong)."""
        out: dict[str, tuple[int, ...]] = {}
        read = self._models.get(facts.path)
        if read is not None:
            _check_unbatched(read, shapes or {}, batch)
        for name, given in (shapes or {}).items():
            if name not in facts.input_names:
                continue
            dims = list(given)
            at = _batch_index(read, name, len(dims)) if read is not None else None
            if read is not None and dims == _static_dims(read, name):
                pass  # the input's own shape, kept as the model has it (no batch dimension)
            elif at is not None and dims[at] == -1:
                dims[at] = batch
            elif at is not None and dims[at] != batch:
                raise ConfigError(
                    f"shapes[{name!r}] = {list(given)} sets the batch dimension (dim {at}) to "
                    f"{dims[at]}, but batch_size is {batch}: give batch_size={dims[at]}, or -1 "
                    f"at dim {at} to take the batch size"
                )
            if -1 in dims:
                raise ConfigError(
                    f"shapes[{name!r}] = {list(given)}: -1 stands only for the batch "
                    "dimension; give every other dimension"
                )
            out[name] = tuple(dims)
        return out

    def macs(
        self, facts: ModelFacts, batch: int, shapes: Mapping[str, tuple[int, ...]]
    ) -> tuple[int | None, dict[str, int] | None]:
        """MACs per inference at ``batch`` and per op; (None, None) if not countable.
        ``shapes``: this model's, from :meth:`shapes_for`."""
        key = (facts.path, batch, repr(sorted(shapes.items())))
        if key not in self._macs:
            self._macs[key] = self._count(facts, batch, shapes)
        return self._macs[key]

    def _count(
        self, facts: ModelFacts, batch: int, shapes: Shapes
    ) -> tuple[int | None, dict[str, int] | None]:
        from inferclock.models import _macs

        read = self._models.get(facts.path)
        if read is None:
            return None, None
        try:
            by_op = _macs.count_by_op(_macs.with_batch(read, batch, shapes or None))
        except Exception:  # counting is a nicety: never fail a run on it
            return None, None
        total = sum(op.macs for op in by_op.values())
        return (total or None), {k: op.macs for k, op in by_op.items()}

    def int8(
        self,
        facts: ModelFacts,
        *,
        calibration: Sequence[Any] | None,
        seed: int,
        shapes: Shapes | None,
    ) -> ModelFacts:
        """Facts of the int8 version of a model: itself when already quantized, else NNCF's
        quantization (cached on disk; calibrated at batch 1 so that one quantized model, which
        keeps its dynamic batch, serves every batch size)."""
        if facts.quantized:
            return facts
        # The calibration tuple is one object for the whole sweep (the options keep it alive).
        key = (facts.path, seed, None if calibration is None else id(calibration))
        if key not in self._int8:
            from inferclock._timing import int8 as _int8

            path = _int8.quantize(
                Path(facts.path),
                calibration=calibration,
                seed=seed,
                shapes=self.shapes_for(facts, shapes, 1) or None,
                batch_size=1,
                source=self._models.get(facts.path),
            )
            self._int8[key] = self._facts(facts.name, path, self._read(path))
        return self._int8[key]


def _static_dims(model: ov.Model, name: str) -> list[int] | None:
    """The model's own shape of input ``name`` when it is static, else None."""
    for port in model.inputs:
        if name in port.get_names() or name == port.get_node().get_friendly_name():
            ps = port.get_partial_shape()
            return [int(d.get_length()) for d in ps] if ps.is_static else None
    return None


def _check_unbatched(model: ov.Model, shapes: Shapes, batch: int) -> None:
    """Refuse to guess: an input without a layout whose static dim 0 is neither 1 nor the
    batch size may not be a batch dimension at all (an RNN state [2, 1, 128]); the engine
    would set it to the batch size, silently changing the work."""
    import openvino as ov

    for port in model.inputs:
        names = set(port.get_names()) | {port.get_node().get_friendly_name()}
        ps = port.get_partial_shape()
        if names & set(shapes) or not ps.is_static or len(ps) < 2:
            continue
        layout = ov.layout_helpers.get_layout(port)
        if not layout.empty and ov.layout_helpers.has_batch(layout):
            continue
        dims = [int(d.get_length()) for d in ps]
        if dims[0] not in (1, batch):
            name = port.get_any_name() if port.get_names() else next(iter(names))
            raise ConfigError(
                f"input {name!r} has the static shape {dims} and no layout: is its dim 0 "
                f"({dims[0]}) a batch? If it is, give batch_size={dims[0]}; if it is not (a "
                f"state, a table), keep the shape with shapes={{{name!r}: {dims}}}"
            )


def _batch_index(model: ov.Model, name: str, rank: int) -> int | None:
    """Where an input's batch dimension is, as the engine decides: the layout's N, else dim 0
    of an input of rank >= 2; None when it has none."""
    import openvino as ov

    for port in model.inputs:
        if name in port.get_names() or name == port.get_node().get_friendly_name():
            layout = ov.layout_helpers.get_layout(port)
            if not layout.empty and ov.layout_helpers.has_batch(layout):
                return int(ov.layout_helpers.batch_idx(layout)) % rank
            return 0 if rank >= 2 else None
    return None
