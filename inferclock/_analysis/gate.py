"""The CI gate of ``compare``: a pass or fail verdict on a Comparison, and the threshold
checks that the API and ``inferclock compare --fail-above`` share.

A gate fails on a cell slower than the threshold (its whole CI above), on a cell of A that
has no successful counterpart in B (unless allowed), and when nothing was compared: a gate
that compared nothing is never green.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from inferclock._analysis.cell import higher_is_better, judge
from inferclock._common import checks as _checks, parsing
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real

if TYPE_CHECKING:
    from inferclock._analysis.compare import CellComparison, Comparison


@dataclass(frozen=True)
class Gate:
    """A CI gate's verdict on a Comparison (from :meth:`Comparison.gate`).

    ``passed`` is False when a cell is slower by more than ``threshold``, a cell of A has no
    successful counterpart in B (``missing``; unless ``allow_missing``), or nothing was
    compared; ``reasons`` says which, one line each; ``note`` names missing cells allowed.
    """

    passed: bool
    threshold: float
    allow_missing: bool
    compared: int
    regressions: tuple[CellComparison, ...]
    missing: tuple[str, ...]
    reasons: tuple[str, ...]
    note: str = ""

    def summary(self) -> str:
        """``OK: ...`` or ``FAIL: ...`` lines, as the command line prints them."""
        if not self.passed:
            return "\n".join(f"FAIL: {r}" for r in self.reasons)
        ok = (
            f"OK: no cell worse by more than {self.threshold:.1%} in its metric "
            f"({self.compared} compared)"
        )
        return ok + (f"; {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["regressions"] = [c.key for c in self.regressions]
        return d


def _missing_text(c: Comparison) -> str:
    gone = set(c.missing)
    parts = [
        f"{label} " + ", ".join(k for k in keys if k in gone)
        for label, keys in (("only in A:", c.only_a), ("error rows only in B:", c.failed_b))
        if gone & set(keys)
    ]
    return "; ".join(parts)


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


def gate_of(comp: Comparison, threshold: float | None, allow_missing: bool) -> Gate:
    """The gate's verdict on ``comp`` (see :meth:`Comparison.gate`)."""
    t = comp.threshold if threshold is None else check_threshold("threshold", threshold)
    allow = bool(_checks.boolean()("allow_missing", allow_missing))
    slower = tuple(
        c
        for c in comp.cells
        if judge(c.ci_low, c.ci_high, t, higher_is_better(c.metric)) == "slower"
    )
    why = []
    if slower:
        names = ", ".join(f"{c.key} ({c.metric} {c.ratio:.3f}x)" for c in slower)
        why.append(
            f"{len(slower)} cell(s) worse by more than {t:.1%} in their metric (whole interval "
            f"beyond): {names}"
        )
    if comp.missing and not allow:
        why.append(
            f"{len(comp.missing)} cell(s) of A have no successful counterpart in B: "
            + _missing_text(comp)
            + " (allow them with --allow-missing, or allow_missing=True)"
        )
    if not comp.cells:
        why.append("no cell was measured successfully on both sides: nothing was compared")
    return Gate(
        passed=not why,
        threshold=t,
        allow_missing=allow,
        compared=len(comp.cells),
        regressions=slower,
        missing=comp.missing,
        reasons=tuple(why),
        note=(f"{len(comp.missing)} missing cell(s) allowed: {_missing_text(comp)}")
        if comp.missing and allow
        else "",
    )
