"""What ``inferclock bisect`` found (``_tracking.bisect``): each commit it measured with its
verdict, each followed cell's judgement against GOOD, and the first bad commit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

Verdict = Literal["good", "bad", "skip"]


@dataclass(frozen=True)
class CellVerdict:
    """One followed cell of a commit against GOOD: ``compare``'s state at ``threshold``, the
    ratio commit/GOOD of ``metric`` with its interval (None when it could not be formed)."""

    key: str
    metric: str
    state: str
    ratio: float | None
    low: float | None
    high: float | None
    threshold: float
    value_good: float | None = None
    value: float | None = None
    #: Each side's standard error of ln(value) (NaN: none): the wider side is measured again.
    se_good: float = math.nan
    se: float = math.nan

    def text(self) -> str:
        if self.ratio is None:
            return f"{self.state}"
        return f"{self.state} {_ratio_text(self.ratio, self.low, self.high)}"


@dataclass(frozen=True)
class Tested:
    """One commit measured: its verdict, how many runs it took, why, each cell's judgement."""

    commit: str
    subject: str
    verdict: Verdict
    runs: int
    reason: str
    cells: tuple[CellVerdict, ...] = ()


@dataclass(frozen=True)
class BisectResult:
    """The search's outcome: ``first_bad`` (None: not found, see ``candidates`` and
    ``reason``), its ``cells`` against GOOD, every commit ``tested`` in order (GOOD and BAD
    first), and the branch or commit the checkout was returned to (``restored``)."""

    good: str
    bad: str
    first_bad: str | None
    subject: str | None
    cells: tuple[CellVerdict, ...]
    tested: tuple[Tested, ...]
    restored: str
    candidates: tuple[str, ...] = ()
    reason: str = ""
    followed: tuple[CellVerdict, ...] = field(default=())  # BAD against GOOD, per cell


def _ratio_text(r: float, lo: float | None, hi: float | None) -> str:
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{r:.3f}"
    return f"{r:.3f} [{lo:.3f}, {hi:.3f}]"
