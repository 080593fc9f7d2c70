"""What ``ic.tune`` returns: each configuration measured (:class:`TunePoint`) and the answer
(:class:`TuneResult`: the best point, the THROUGHPUT hint's baseline, the gain with its
interval), with their text summary."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferclock._analysis.table import ResultTable
from inferclock._common.text import fmt_num

UNIT = {"throughput": "samples/s", "peak_qps": "queries/s"}


@dataclass(frozen=True)
class TunePoint:
    """One configuration measured: ``config`` its axes' values (the baseline: what the hint
    chose), ``value`` the objective (None: no run succeeded) and its interval."""

    config: dict[str, int]
    value: float | None
    low: float | None
    high: float | None
    key: str  # its cell key in the results file
    runs: int  # runs without error (worker processes; peak_qps: searches)
    errors: int
    multimodal: bool | None = None  # its processes disagree beyond their own intervals


@dataclass(frozen=True)
class TuneResult:
    """What ``tune`` found: ``best`` (a config dict) and its ``value`` with its interval
    (``low``, ``high``), the ``baseline``, ``gain`` = best / baseline with its 95% interval
    (peak_qps: the brackets' ratio), ``points`` in the order measured, ``path`` the local
    search's moves (empty for a grid), ``stop`` "grid", "converged" or "budget"."""

    objective: str
    unit: str
    best: dict[str, int] | None
    value: float | None
    low: float | None
    high: float | None
    baseline: TunePoint
    gain: float | None
    gain_low: float | None
    gain_high: float | None
    search: str  # "grid" or "local"
    stop: str
    space_size: int
    out: str
    points: tuple[TunePoint, ...] = field(default_factory=tuple)
    path: tuple[dict[str, int], ...] = field(default_factory=tuple)

    def table(self) -> ResultTable:
        return ResultTable.load(self.out)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        how = f"grid of {self.space_size} points" if self.search == "grid" else (
            f"local search: {len(self.points)} of {self.space_size} points, {self.stop}"
        )  # fmt: skip
        ci = "bracket" if self.objective == "peak_qps" else "95% CI"
        b = self.baseline
        g = "-" if self.gain is None else f"{self.gain:.3f}x" + _ends(self.gain_low, self.gain_high)
        lines = [
            f"tune {self.objective} in {self.unit} ({how}; {ci} in brackets)",
            f"  best      {_config(self.best)}  {_fig(self.value, self.low, self.high)}",
            f"  baseline  THROUGHPUT hint ({_config(b.config)})  {_fig(b.value, b.low, b.high)}",
            f"  gain      {g}",
            "  points, best first:",
        ]
        for p in sorted(self.points, key=lambda p: -math.inf if p.value is None else -p.value):
            err = f"  ({p.errors} failed)" if p.errors else ""
            err += "  (processes disagree)" if p.multimodal else ""
            lines.append(f"    {_config(p.config):<44} {_fig(p.value, p.low, p.high)}{err}")
        return "\n".join([*lines, f"  rows: {self.out}"])


def _config(cfg: Mapping[str, int] | None) -> str:
    return "-" if not cfg else " ".join(f"{k}={v}" for k, v in cfg.items())


def _ends(low: float | None, high: float | None) -> str:
    return f" [{fmt_num(low)}, {fmt_num(high)}]"


def _fig(value: float | None, low: float | None, high: float | None) -> str:
    return "failed" if value is None else fmt_num(value) + _ends(low, high)
