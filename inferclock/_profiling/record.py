"""The profile record: per-layer counters of a profiled run, their totals by layer type and by
kernel, and the run's end-to-end time beside them (:class:`Profile`), with a versioned JSON form.

Times are medians over *rounds* with their distribution-free interval: OpenVINO's CPU plugin
reports each layer's running mean since compile (``_profiling.run`` says why that makes rounds
necessary), so one round's figure per layer is its mean over that round's iterations. The
end-to-end time is also kept per iteration. Rendering (summary text, markdown) is
``_profiling.text``'s.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from inferclock._common import intervals as _intervals
from inferclock._common.errors import ConfigError
from inferclock._timing.precision import COMPUTE_LAYER_TYPES

FORMAT = "inferclock-profile"
VERSION = 1


@dataclass(frozen=True)
class Median:
    """A median in ns with its distribution-free interval over ``n`` values (rounds or
    iterations); ``confidence`` is the coverage the interval has (below 0.95: n too small)."""

    ns: float
    low_ns: float
    high_ns: float
    n: int
    confidence: float

    @classmethod
    def of(cls, values: npt.ArrayLike) -> Median:
        x = np.asarray(values, dtype=np.float64).ravel()
        if x.size == 0:
            nan = float("nan")
            return cls(nan, nan, nan, 0, 0.0)
        low, high, coverage = _intervals.quantile_ci(x, 0.5)
        return cls(float(np.median(x)), low, high, int(x.size), coverage)

    @property
    def ms(self) -> float:
        return self.ns / 1e6


def _key(layer_type: str) -> str:
    return layer_type.lower().replace("_", "")


@dataclass(frozen=True)
class Layer:
    """One node of the executed graph as the performance counters report it."""

    name: str
    type: str  # as the counters name it (benchmark_app's layer type): GroupConvolution, Reorder
    kernel: str  # the implementation that ran (exec_type), e.g. brgconv_avx512_amx_1x1_bf16
    precision: str  # executed: the kernel name's suffix, else the runtime model's precision
    runtime_precision: str  # the runtime model's runtimePrecision ("": not a runtime node)
    runtime_type: str  # the runtime model's layerType ("" likewise)
    status: str  # EXECUTED, NOT_RUN (fused into another, or under 1 us), OPTIMIZED_OUT
    fused_into: str | None  # the executed layer it was fused into (not a runtime node)
    real: Median  # over rounds, each round's mean real time
    cpu: Median  # the CPU time alike (the CPU plugin reports its real time there)
    rounds_ns: tuple[float, ...]  # each round's mean real time

    @property
    def executed(self) -> bool:
        return self.status == "EXECUTED" or self.real.ns > 0

    @property
    def compute(self) -> bool:
        """A compute layer (convolution, matmul, fully connected, attention, RNN)."""
        return _key(self.type) in COMPUTE_LAYER_TYPES or _key(self.runtime_type) in (
            COMPUTE_LAYER_TYPES
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rounds_ns"] = list(self.rounds_ns)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Layer:
        f = dict(d)
        f["real"], f["cpu"] = Median(**f["real"]), Median(**f["cpu"])
        f["rounds_ns"] = tuple(float(v) for v in f["rounds_ns"])
        return cls(**f)


@dataclass(frozen=True)
class Total:
    """The time of a group of layers (one layer type, or one kernel): the median over rounds
    of the group's per-round sum, and its share of the layers' total."""

    key: str
    layers: int  # executed layers in the group
    time: Median
    share: float  # of the layers' total (medians)


@dataclass(frozen=True)
class Profile:
    """Per-layer counters of a model on a device, and the end-to-end time of the same
    iterations (a profiled run: counters cost time, so this is not the model's latency).

    ``layers`` are in the order the counters list them (execution order, fused nodes after the
    node they were fused into). ``layers_total`` is the median over rounds of the sum of the
    layers' round means; ``end_to_end_rounds`` the median of each round's mean end-to-end time
    (the same iterations), ``unaccounted`` the median of their per-round difference: time in no
    layer (see :meth:`difference_text`). ``end_to_end`` is the median over every iteration.
    """

    model: str
    model_path: str
    model_sha256: str | None
    device: str
    batch_size: int
    precision_requested: str
    precision_executed: str | None
    iterations: int
    rounds: int
    warmup_count: int  # inferences before the first round (the run's warm-up)
    layers: tuple[Layer, ...]
    end_to_end: Median
    end_to_end_rounds: Median
    layers_total: Median
    unaccounted: Median
    end_to_end_ns: tuple[int, ...]  # every profiled iteration, in order
    openvino: str
    config: dict[str, str] = field(default_factory=dict)
    inputs: tuple[dict[str, Any], ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    cpus: tuple[int, ...] | None = None
    graph_path: str | None = None
    started_at: str = ""
    finished_at: str = ""
    env: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ views

    @property
    def executed_layers(self) -> tuple[Layer, ...]:
        return tuple(layer for layer in self.layers if layer.executed)

    def top(self, n: int = 10) -> tuple[Layer, ...]:
        """The ``n`` executed layers with the longest median real time, longest first."""
        return tuple(sorted(self.executed_layers, key=lambda x: -x.real.ns)[:n])

    def _totals(self, key: Callable[[Layer], str]) -> tuple[Total, ...]:
        groups: dict[str, list[Layer]] = {}
        for layer in self.executed_layers:
            groups.setdefault(key(layer), []).append(layer)
        whole = self.layers_total.ns
        out = []
        for k, members in groups.items():
            per_round = np.sum([m.rounds_ns for m in members], axis=0)
            t = Median.of(per_round)
            out.append(Total(k, len(members), t, t.ns / whole if whole > 0 else float("nan")))
        return tuple(sorted(out, key=lambda t: -t.time.ns))

    def by_type(self) -> tuple[Total, ...]:
        """Executed layers' time by layer type, longest first."""
        return self._totals(lambda x: x.type)

    def by_kernel(self) -> tuple[Total, ...]:
        """Executed layers' time by kernel (exec_type), longest first."""
        return self._totals(lambda x: x.kernel)

    def layer(self, name: str) -> Layer:
        for x in self.layers:
            if x.name == name:
                return x
        raise ConfigError(f"the profile of {self.model!r} has no layer {name!r}")

    @property
    def label(self) -> str:
        """``resnet50 bf16 b1 CPU`` (what a diff calls this profile)."""
        prec = self.precision_executed or self.precision_requested
        return f"{self.model} {prec} b{self.batch_size} {self.device}"

    def summary(self, top: int = 10) -> str:
        from inferclock._profiling.text import summary_text

        return summary_text(self, top)

    def to_markdown(self, top: int = 10) -> str:
        from inferclock._profiling.text import profile_markdown

        return profile_markdown(self, top)

    def difference_text(self) -> str:
        from inferclock._profiling.text import difference_text

        return difference_text(self)

    def __str__(self) -> str:
        return self.summary()

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"format": FORMAT, "version": VERSION}
        for name in self.__dataclass_fields__:
            d[name] = getattr(self, name)
        d["layers"] = [layer.to_dict() for layer in self.layers]
        for name in ("end_to_end", "end_to_end_rounds", "layers_total", "unaccounted"):
            d[name] = asdict(d[name])
        d["end_to_end_ns"] = list(self.end_to_end_ns)
        d["inputs"] = [dict(i) for i in self.inputs]
        d["cpus"] = None if self.cpus is None else list(self.cpus)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Profile:
        """The inverse of ``to_dict``; refuses what is not a profile, or a newer format."""
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ConfigError("not an inferclock profile (no 'format': 'inferclock-profile')")
        if not isinstance(d.get("version"), int) or d["version"] > VERSION:
            raise ConfigError(
                f"profile format version {d.get('version')!r} is newer than this inferclock "
                f"reads ({VERSION}): upgrade inferclock"
            )
        f = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        try:
            f["layers"] = tuple(Layer.from_dict(x) for x in f["layers"])
            for name in ("end_to_end", "end_to_end_rounds", "layers_total", "unaccounted"):
                f[name] = Median(**f[name])
            f["end_to_end_ns"] = tuple(int(v) for v in f["end_to_end_ns"])
            f["inputs"] = tuple(dict(i) for i in f.get("inputs", ()))
            f["cpus"] = None if f.get("cpus") is None else tuple(f["cpus"])
            return cls(**f)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"a damaged profile record: {e}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the profile as JSON (``Profile.load`` reads it back)."""
        p = Path(path)
        try:
            p.write_text(json.dumps(self.to_dict(), indent=1, default=_json_default) + "\n")
        except OSError as e:
            raise ConfigError(f"cannot write {str(p)!r}: {e}") from e
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"profile file {str(p)!r} not found") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read profile {str(p)!r}: {e}") from None
        try:
            return cls.from_dict(data)
        except ConfigError as e:
            raise ConfigError(f"{str(p)!r}: {e}") from None


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def load_all(
    items: Iterable[Profile | str | os.PathLike[str]] | Profile | str | os.PathLike[str],
) -> list[Profile]:
    """Profiles given as records or JSON paths (one, or several)."""
    if isinstance(items, (Profile, str, os.PathLike)):
        items = [items]
    out = []
    for item in items:
        if isinstance(item, Profile):
            out.append(item)
        elif isinstance(item, (str, os.PathLike)):
            out.append(Profile.load(item))
        else:
            raise ConfigError(
                f"expected a Profile or a profile JSON path, got {type(item).__name__}"
            )
    return out


__all__: Sequence[str] = ("FORMAT", "VERSION", "Layer", "Median", "Profile", "Total", "load_all")
