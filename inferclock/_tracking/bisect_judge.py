"""One cell of a commit judged against GOOD for ``inferclock bisect``.

Each side is the runs of the command at that commit so far. A run's rows of the cell are
combined as ``compare`` combines a side (``_analysis.states.read_side``: its processes, within
and between); the runs are pooled by a random-effects meta-analysis (``_common.pool``: a run
disturbed by load, with a wide interval of its own, counts little; runs that disagree widen
the interval). The ratio commit/GOOD gets its interval as ``compare``'s does
(``_common.intervals.ratio``) and the state ``compare`` would give it at the threshold
(``_analysis.states.judged_state``): with one run a side, exactly ``compare``'s verdict.
"""

from __future__ import annotations

import math

from inferclock._analysis import cell as _cell
from inferclock._analysis.states import judged_state, read_side, row_problem
from inferclock._common.intervals import Combined, ratio
from inferclock._common.jsonl import Row
from inferclock._common.pool import pool
from inferclock._timing import schema as _schema
from inferclock._tracking.bisect_result import CellVerdict

CONFIDENCE = 0.95
#: States of a cell that decide nothing: the commit is measured again.
UNDECIDED = frozenset({"inconclusive", "no interval", "missing", "error", "unreadable"})


def keys_of(runs: list[list[Row]]) -> list[str]:
    """The cells measured (rows without an error) in any run, first seen first."""
    rows = (r for run in runs for r in run)
    return list(dict.fromkeys(_schema.at(r, "key") for r in rows
                              if _schema.get(r, "error") is None))  # fmt: skip


def side(runs: list[list[Row]], key: str, metric: str) -> tuple[Combined | None, str, str]:
    """The cell's figure over ``runs`` (pooled), the metric judged, and why there is none."""
    parts: list[Combined] = []
    m = metric
    why = "missing"
    for rows in runs:
        mine = [r for r in rows if _schema.get(r, "key") == key]
        ok = [r for r in mine if _schema.get(r, "error") is None]
        if mine and not ok:
            why = "error"  # this run's rows of the cell are errors: other runs may measure it
            continue
        if not ok:
            continue
        m = _cell.metric_for(metric, _schema.get(ok[0], "mode"))
        bad = next((p for r in ok if (p := row_problem(r)) is not None), None)
        got, problem = (None, bad) if bad is not None else read_side(ok, m, CONFIDENCE)
        if got is None:
            return None, m, f"unreadable ({problem})"
        parts.append(got)
    if not parts:
        return None, m, why
    return pool(parts, CONFIDENCE), m, ""


def judge(
    good: list[list[Row]], runs: list[list[Row]], key: str, metric: str, threshold: float
) -> CellVerdict:
    """Cell ``key`` of ``runs`` against GOOD's at ``threshold`` (``metric``: checked)."""
    a, m, _ = side(good, key, metric)
    b, m, why_b = side(runs, key, metric)
    if b is None:  # "missing", "error" or "unreadable (why)" at this commit
        return CellVerdict(key, m, why_b.split(" (")[0], None, None, None, threshold)
    if a is None:
        return CellVerdict(key, m, "unreadable", None, None, None, threshold)
    r, lo, hi = ratio(a, b, CONFIDENCE)
    state = judged_state(r, math.nan if lo is None else lo, math.nan if hi is None else hi, m,
                         threshold)  # fmt: skip
    return CellVerdict(key, m, state, r, lo, hi, threshold, a.estimate, b.estimate,
                       se_good=a.log_se, se=b.log_se)  # fmt: skip
