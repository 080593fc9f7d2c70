"""Two profiles side by side (:class:`ProfileDiff`): two precisions, two OpenVINO versions, two
batch sizes, matched layer by layer where the executed graphs allow it.

Matching rule: an executed layer of A and one of B with the same name *and* the same layer
type are one row; every executed layer left over on either side is pooled by layer type into
one row per type ("Reorder": the bf16 graph's extra conversions, whose names differ). Two
graphs that share no layer name (two versions that renamed their nodes) are thus compared by
type only. With different batch sizes, times are per sample (``per_sample``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from inferclock._common.errors import ConfigError
from inferclock._profiling.record import Layer, Median, Profile, load_all


@dataclass(frozen=True)
class DiffRow:
    """One matched layer, or one layer type's unmatched layers, in A and in B."""

    key: str  # the layer's name, or the layer type for a row matched by type
    type: str
    matched: str  # "layer" or "type"
    kernel_a: str
    kernel_b: str
    precision_a: str
    precision_b: str
    layers_a: int
    layers_b: int
    a_ns: float  # median (per sample when the diff is)
    b_ns: float
    share_of_a: float  # (b - a) over A's layers' total
    clear: bool  # the two medians' 95% intervals do not overlap

    @property
    def delta_ns(self) -> float:
        return self.b_ns - self.a_ns

    @property
    def ratio(self) -> float:
        """B / A (below 1: B is faster); NaN when A has no time here."""
        return self.b_ns / self.a_ns if self.a_ns > 0 else math.nan

    @property
    def speedup(self) -> float:
        """A / B (above 1: B is faster); NaN when B has no time here."""
        return self.a_ns / self.b_ns if self.b_ns > 0 else math.nan


@dataclass(frozen=True)
class ProfileDiff:
    """Where two profiles differ: ``rows`` holds the matched layers, then the rest by type;
    ``by_type`` every executed layer pooled by type, whatever the matching."""

    a_label: str
    b_label: str
    per_sample: bool
    rows: tuple[DiffRow, ...]
    by_type: tuple[DiffRow, ...]
    total_a_ns: float  # the layers' totals (medians over rounds)
    total_b_ns: float
    e2e_a_ns: float  # end-to-end medians
    e2e_b_ns: float
    matched_layers: int
    unmatched_a: int
    unmatched_b: int

    @property
    def by_type_rows(self) -> int:
        return sum(r.matched == "type" for r in self.rows)

    @property
    def total_speedup(self) -> float:
        return self.total_a_ns / self.total_b_ns if self.total_b_ns > 0 else math.nan

    @property
    def e2e_speedup(self) -> float:
        return self.e2e_a_ns / self.e2e_b_ns if self.e2e_b_ns > 0 else math.nan

    def faster(self) -> tuple[DiffRow, ...]:
        """Rows that took less time in B, the largest gain first."""
        return tuple(sorted((r for r in self.rows if r.delta_ns < 0), key=lambda r: r.delta_ns))

    def slower(self) -> tuple[DiffRow, ...]:
        """Rows that took more time in B, the largest loss first."""
        return tuple(sorted((r for r in self.rows if r.delta_ns > 0), key=lambda r: -r.delta_ns))

    def largest(self, n: int = 15) -> tuple[DiffRow, ...]:
        """The ``n`` rows whose time changed most, either way."""
        return tuple(sorted(self.rows, key=lambda r: -abs(r.delta_ns))[:n])

    def row(self, key: str) -> DiffRow:
        for r in self.rows:
            if r.key == key:
                return r
        raise ConfigError(f"the diff has no row {key!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        d["by_type"] = [asdict(r) for r in self.by_type]
        return d

    def summary(self, top: int = 15) -> str:
        from inferclock._profiling.text import diff_summary

        return diff_summary(self, top)

    def to_markdown(self, top: int = 15) -> str:
        from inferclock._profiling.text import diff_markdown

        return diff_markdown(self, top)

    def __str__(self) -> str:
        return self.summary()


def _pooled(layers: Sequence[Layer], rounds: int) -> Median:
    if not layers:
        return Median(0.0, 0.0, 0.0, rounds, 0.0)
    return Median.of(np.sum([x.rounds_ns for x in layers], axis=0))


def _row(
    key: str,
    typ: str,
    matched: str,
    a: Sequence[Layer],
    b: Sequence[Layer],
    scale: tuple[float, float],
    whole_a: float,
    rounds: tuple[int, int],
) -> DiffRow:
    ma, mb = _pooled(a, rounds[0]), _pooled(b, rounds[1])
    a_ns, b_ns = ma.ns / scale[0], mb.ns / scale[1]
    apart = (ma.high_ns / scale[0] < mb.low_ns / scale[1]) or (
        mb.high_ns / scale[1] < ma.low_ns / scale[0]
    )
    return DiffRow(
        key=key, type=typ, matched=matched,
        kernel_a=_joined(x.kernel for x in a), kernel_b=_joined(x.kernel for x in b),
        precision_a=_joined(x.precision for x in a), precision_b=_joined(x.precision for x in b),
        layers_a=len(a), layers_b=len(b), a_ns=a_ns, b_ns=b_ns,
        share_of_a=(b_ns - a_ns) / whole_a if whole_a > 0 else math.nan, clear=bool(apart),
    )  # fmt: skip


def _joined(values: Iterable[str]) -> str:
    return ",".join(dict.fromkeys(v for v in values if v))


def _by_type(layers: Iterable[Layer]) -> dict[str, list[Layer]]:
    out: dict[str, list[Layer]] = {}
    for x in layers:
        out.setdefault(x.type, []).append(x)
    return out


def profile_diff(
    a: Profile | str | os.PathLike[str],
    b: Profile | str | os.PathLike[str],
    *,
    per_sample: bool | None = None,
) -> ProfileDiff:
    """Compare profile ``a`` (the baseline) with ``b``: records or saved profile JSON paths.

    Layers are matched by name and type where both graphs have them, the rest by layer type
    (see the module docstring). ``per_sample``: divide times by each profile's batch size
    (default: when the batch sizes differ). Speedup = A / B; a row's change is (B - A) as a
    share of A's layers' total.
    """
    pa, pb = load_all([a, b])
    if per_sample is None:
        per_sample = pa.batch_size != pb.batch_size
    elif not isinstance(per_sample, bool):
        raise ConfigError(f"per_sample must be True, False or None, got {per_sample!r}")
    scale = (float(pa.batch_size), float(pb.batch_size)) if per_sample else (1.0, 1.0)
    whole_a = pa.layers_total.ns / scale[0]
    rounds = (pa.rounds, pb.rounds)
    ea, eb = pa.executed_layers, pb.executed_layers
    b_keys = {(x.name, x.type): x for x in eb}
    rows: list[DiffRow] = []
    matched: set[tuple[str, str]] = set()
    for x in ea:
        y = b_keys.get((x.name, x.type))
        if y is not None and (x.name, x.type) not in matched:
            matched.add((x.name, x.type))
            rows.append(_row(x.name, x.type, "layer", [x], [y], scale, whole_a, rounds))
    rest_a = _by_type(x for x in ea if (x.name, x.type) not in matched)
    rest_b = _by_type(y for y in eb if (y.name, y.type) not in matched)
    for typ in dict.fromkeys([*rest_a, *rest_b]):
        rows.append(
            _row(typ, typ, "type", rest_a.get(typ, []), rest_b.get(typ, []), scale, whole_a,
                 rounds)
        )  # fmt: skip
    all_a, all_b = _by_type(ea), _by_type(eb)
    by_type = [
        _row(t, t, "type", all_a.get(t, []), all_b.get(t, []), scale, whole_a, rounds)
        for t in dict.fromkeys([*all_a, *all_b])
    ]
    return ProfileDiff(
        a_label=pa.label, b_label=pb.label, per_sample=per_sample, rows=tuple(rows),
        by_type=tuple(sorted(by_type, key=lambda r: -max(r.a_ns, r.b_ns))),
        total_a_ns=whole_a, total_b_ns=pb.layers_total.ns / scale[1],
        e2e_a_ns=pa.end_to_end.ns / scale[0], e2e_b_ns=pb.end_to_end.ns / scale[1],
        matched_layers=len(matched), unmatched_a=sum(len(v) for v in rest_a.values()),
        unmatched_b=sum(len(v) for v in rest_b.values()),
    )  # fmt: skip


__all__ = ["DiffRow", "ProfileDiff", "profile_diff"]
