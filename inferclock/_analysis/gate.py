"""The CI gate of ``compare``: a pass or fail verdict on a Comparison, and the threshold
checks that the API and ``inferclock compare --fail-above`` share.

The gate never passes what it did not judge. Each cell's state (``_analysis.states``) has an
outcome: same and faster pass; slower fails; a cell without an interval fails when its point
ratio is worse than the threshold; an inconclusive cell passes only when even its interval's
bad end is within the threshold, else fails unless ``allow_inconclusive``; unreadable cells,
cells missing or failed in B, and lines of either file that held no row fail unless
``allow_missing``. A gate that compared nothing is never green.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from inferclock._analysis import states as _states
from inferclock._common import checks as _checks, parsing
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real

if TYPE_CHECKING:
    from inferclock._analysis.compare import CellComparison, Comparison


@dataclass(frozen=True)
class Gate:
    """A CI gate's verdict on a Comparison (from :meth:`Comparison.gate`).

    ``passed`` is True only when every cell's outcome is "pass" or "allowed" and something was
    compared. ``outcomes`` holds each cell's (key, state at this threshold, outcome);
    ``counts`` the cells per state; ``reasons`` one line per kind of failure; ``note`` what the
    allow flags let pass.
    """

    passed: bool
    threshold: float
    allow_missing: bool
    compared: int
    regressions: tuple[CellComparison, ...]
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    note: str = ""
    allow_inconclusive: bool = False
    outcomes: tuple[tuple[str, str, str], ...] = ()
    counts: tuple[tuple[str, int], ...] = ()

    def summary(self) -> str:
        """``OK: ...`` or ``FAIL: ...`` lines, as the command line prints them, then the closing
        line counting each state and naming the allow flags used."""
        rare = ("error in A", "only in B")
        counts = ", ".join(f"{n} {s}" for s, n in self.counts if n or s not in rare)
        flags = [
            f
            for f, on in (
                ("--allow-missing", self.allow_missing),
                ("--allow-inconclusive", self.allow_inconclusive),
            )
            if on
        ]
        used = f"; {' and '.join(flags)} used" if flags else ""
        closing = f"{self.compared} compared: {counts}{used}"
        if not self.passed:
            return "\n".join([*(f"FAIL: {r}" for r in self.reasons), f"FAIL: {closing}"])
        ok = f"OK: no cell worse by more than {self.threshold:.1%} in its metric ({closing})"
        return ok + (f"; {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regressions"] = [c.key for c in self.regressions]
        return d


def check_threshold(name: str, value: Any) -> float:
    """A relative threshold: a finite number in [0, 10) (0.05 is 5%); ConfigError naming
    ``name`` if not (ConfigTypeError for a value that is not a number)."""
    want = f"{name} must be a finite fraction in [0, 10) such as 0.05 (5%)"
    if not is_real(value):
        raise ConfigTypeError(f"{want}, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0 <= v < 10):
        negative = " (a negative threshold makes no sense: it is how much slower B may be)"
        raise ConfigError(f"{want}, got {value!r}{negative if v < 0 else ''}")
    return v


def parse_threshold(name: str, text: str) -> float:
    """Command-line text such as '5%' or '0.05' -> a checked threshold (ConfigError naming
    ``name`` and showing the text when it is not one)."""
    try:
        v = parsing.parse_fraction(text)
    except ConfigError:
        raise ConfigError(
            f"{name} must be a percentage like 5% or a fraction like 0.05, got {text!r}"
        ) from None
    try:
        return check_threshold(name, v)
    except ConfigError as e:
        raise ConfigError(str(e).replace(f"got {v!r}", f"got {text!r}")) from None


def gate_of(
    comp: Comparison, threshold: float | None, allow_missing: bool, allow_inconclusive: bool = False
) -> Gate:
    """The gate's verdict on ``comp`` (see :meth:`Comparison.gate`)."""
    t = comp.threshold if threshold is None else check_threshold("threshold", threshold)
    allow = bool(_checks.boolean()("allow_missing", allow_missing))
    allow_inc = bool(_checks.boolean()("allow_inconclusive", allow_inconclusive))
    judged = {c.key: c for c in comp.cells}
    outcomes: list[tuple[str, str, str]] = []
    for s in comp.states:
        c = judged.get(s.key)
        if c is not None:
            state, out = _states.judge_ratio(
                c.ratio, c.ci_low, c.ci_high, c.metric, t, allow_inconclusive=allow_inc
            )
        else:
            state = s.state
            out = _states.outcome(state, 1.0, t, allow_missing=allow, allow_inconclusive=allow_inc)
        outcomes.append((s.key, state, out))
    by_state: dict[str, list[str]] = {}
    for key, st, o in outcomes:
        if o != "pass":
            by_state.setdefault(f"{st}|{o}", []).append(key)
    why: list[str] = []
    allowed: list[str] = []
    for tag, keys in by_state.items():
        st, o = tag.split("|")
        line = f"{len(keys)} {st} ({_WHY[st]}): {_names(keys, judged)}"
        (allowed if o == "allowed" else why).append(line)
    if comp.skipped:
        text = f"{len(comp.skipped)} line(s) of the files held no row: " + "; ".join(comp.skipped)
        (allowed if allow else why).append(text)
    if not comp.cells:
        why.append("no cell was measured successfully on both sides: nothing was compared")
    hints = {"inconclusive": "--allow-inconclusive", "unreadable": "--allow-missing",
             "missing in B": "--allow-missing", "error in B": "--allow-missing",
             "line(s)": "--allow-missing"}  # fmt: skip
    why = [w + next((f" (let them pass with {f})" for k, f in hints.items() if k in w), "")
           for w in why]  # fmt: skip
    return Gate(
        passed=not why,
        threshold=t,
        allow_missing=allow,
        compared=len(comp.cells),
        regressions=tuple(judged[k] for k, st, o in outcomes if o == "fail" and k in judged),
        missing=comp.missing,
        reasons=tuple(why),
        note=("allowed: " + "; ".join(allowed)) if allowed else "",
        allow_inconclusive=allow_inc,
        outcomes=tuple(outcomes),
        counts=tuple((st, sum(o[1] == st for o in outcomes)) for st in _states.STATES),
    )


_WHY = {
    "slower": "whole interval worse than the threshold",
    "no interval": "no interval, point ratio worse than the threshold",
    "inconclusive": "the interval reaches past the threshold",
    "unreadable": "a value that is not a measurement",
    "missing in B": "B has no row of the cell",
    "error in B": "B has only error rows",
}


def _names(keys: list[str], judged: dict[str, CellComparison]) -> str:
    out = []
    for k in keys:
        c = judged.get(k)
        out.append(f"{k} ({c.metric} {c.ratio:.3f}x)" if c is not None else k)
    return ", ".join(out)
