"""The record of an interleaved A/B (``ic.ab``): each pair, the paired ratio with its
interval, the state and gate outcome ``compare`` would give it, and why it stopped."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from inferclock._analysis.states import Outcome, State

#: Why an A/B stopped: its interval reached the target, the fixed count of pairs was run,
#: a budget ran out, Ctrl-C, or a measurement's error after some pairs completed.
StopReason = Literal["target", "pairs", "max_pairs", "max_total_time", "interrupted", "error"]

_STOPS = {
    "target": "the interval is within {target}",
    "pairs": "the pairs asked for were run",
    "max_pairs": "max_pairs reached; the interval is wider than {target}",
    "max_total_time": "max_total_time reached (a further pair would end past it); the interval "
    "is wider than {target}",
    "interrupted": "interrupted (Ctrl-C); the pairs completed are counted",
    "error": "a measurement failed (the gate fails); the pairs completed are counted",
}


def value_text(value: float, metric: str) -> str:
    """A side's value of ``metric``: latency in ms, throughput in samples per second."""
    if metric == "throughput":
        return f"{value:.1f} fps"
    return f"{value / 1e6:.4g} ms"


@dataclass(frozen=True)
class ABPair:
    """One pair: both sides' values of the metric (ns, or samples/s for throughput), in the
    order they ran ("AB" or "BA"), with each side's sample count and the pair's wall time."""

    index: int
    order: str
    a_value: float
    b_value: float
    ratio: float  # b_value / a_value
    seconds: float
    a_n: int
    b_n: int


@dataclass(frozen=True)
class ABResult:
    """An interleaved A/B: the ratio B/A of ``metric`` (the geometric mean over the pairs)
    with its ``confidence`` interval (NaN bounds below two pairs), ``half_width`` its relative
    half-width, the ``state`` ``compare`` gives such a ratio at ``threshold`` and the gate's
    ``outcome`` ("pass", "fail", "allowed"), and ``stop_reason``."""

    metric: str
    a: str  # what side A ran: model, interpreter, versions
    b: str
    pairs: tuple[ABPair, ...]
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    half_width: float
    target: float | None  # None: a fixed number of pairs
    threshold: float
    state: State
    outcome: Outcome
    stop_reason: StopReason
    elapsed_s: float
    error: str | None = None  # stop_reason "error": which pair and what went wrong

    @property
    def passed(self) -> bool:
        """As ``compare``'s gate: "pass" or "allowed"."""
        return self.outcome != "fail"

    @property
    def exit_code(self) -> int:
        """``inferclock ab --fail-above``'s status: 0 passed, 1 failed."""
        return 0 if self.passed else 1

    @property
    def interrupted(self) -> bool:
        return self.stop_reason == "interrupted"

    def side_value(self, side: str) -> float:
        """A side's value over the pairs: the geometric mean of its per-pair values."""
        vs = [p.a_value if side == "A" else p.b_value for p in self.pairs]
        return math.exp(math.fsum(map(math.log, vs)) / len(vs)) if vs else math.nan

    def summary(self) -> str:
        """A few lines: each side, the ratio with its interval, the state, why it stopped."""
        what = "throughput" if self.metric == "throughput" else f"{self.metric} latency"
        n = len(self.pairs)
        lines = []
        for label, text in (("A", self.a), ("B", self.b)):
            v = self.side_value(label)
            shown = value_text(v, self.metric) if math.isfinite(v) else "-"
            lines.append(f"{text}: {what} {shown}")
        if math.isfinite(self.ci_low):
            ci = (
                f" [{self.ci_low:.4f}, {self.ci_high:.4f}] ({self.confidence:.0%} CI over {n} "
                f"pairs, +-{self.half_width:.1%})"
            )
        else:
            ci = f" (no interval: {n} pair{'s' if n != 1 else ''})"
        lines.append(
            f"B/A {what}: {self.ratio:.4f}{ci}: {self.state} at threshold {self.threshold:.1%}"
            f" (gate: {self.outcome})"
        )
        why = _STOPS.get(self.stop_reason, self.stop_reason)
        if self.target is None:  # a fixed count: no target to miss
            why = why.partition(";")[0]
        why = why.format(target=f"+-{self.target or 0:.1%}")
        lines.append(f"stopped after {n} pairs, {self.elapsed_s:.1f} s: {why}")
        if self.error:
            lines.append(f"error: {self.error}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pairs"] = [asdict(p) for p in self.pairs]
        d["passed"] = self.passed
        for k in ("ratio", "ci_low", "ci_high", "half_width"):  # JSON has no NaN or inf
            d[k] = d[k] if math.isfinite(d[k]) else None
        return d
