"""``inferclock bisect``: the first commit that made a measurement slower, found by ``git bisect``
with the interval verdict of ``compare``.

The search (docs/history.md, "Bisect"):

1. GOOD and BAD are checked out and measured (the command: ``_tracking.bisect_command``). The
   cells to follow are those where BAD is *slower* than GOOD beyond ``threshold`` (the whole
   interval of the ratio BAD/GOOD above ``1 + threshold``; ``compare``'s verdict). None: there
   is nothing to bisect (while a cell is inconclusive both ends are measured again, up to
   ``runs`` times each).
2. ``git bisect`` picks a commit; it is measured and each followed cell judged against GOOD at
   that cell's *midpoint threshold*, ``sqrt(s) - 1`` where ``s`` is BAD's slow-down (a 30% step:
   14%): its verdict ``slower`` makes the commit bad, ``same`` or ``faster`` (in every cell)
   good. A commit neither (``inconclusive``, no interval, a cell missing) is measured again, its
   rows added to the ones before, up to ``runs`` runs; then it is skipped. A commit whose
   command fails is skipped at once.
3. The first bad commit is named with each cell's ratio to GOOD and its interval; where only
   skipped commits are left, the candidates are.

The checkout is left as found: a bisect starts only in a clean work tree (tracked files) with
no bisect under way, and ``git bisect reset`` runs in a ``finally`` (errors, Ctrl-C, SIGTERM).
Each commit's rows are added to ``history`` (when given) as one run with that commit.
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Literal

from inferclock._analysis import cell as _cell
from inferclock._analysis.compare import compare
from inferclock._analysis.gate import check_threshold
from inferclock._analysis.table import ResultTable
from inferclock._common import checks as _checks
from inferclock._common.errors import ConfigError, ConfigTypeError, HistoryError, Terminated
from inferclock._common.jsonl import Row
from inferclock._timing import schema as _schema
from inferclock._tracking import bisect_command as _command
from inferclock._tracking.git import Mark, Repo

__all__ = ["BisectResult", "CellVerdict", "Tested", "bisect"]

Verdict = Literal["good", "bad", "skip"]
#: The most runs of the command at one commit.
MAX_RUNS = 20


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


def check_runs(runs: Any, name: str = "runs") -> int:
    got: int = _checks.integer(1, MAX_RUNS)(name, runs)
    return got


def _renumbered(rows: list[Row], before: list[Row]) -> list[Row]:
    """``rows`` of a further run with their process indices after those of ``before``: each
    run's processes stay separate processes when the runs' rows are combined."""
    used = [p for r in before if isinstance(p := _schema.get(r, "process"), int)]
    offset = max(used) + 1 if used else 0
    out = []
    for r in rows:
        p = _schema.get(r, "process")
        out.append({**r, "process": p + offset} if isinstance(p, int) and offset else r)
    return out


class _Search:
    def __init__(
        self,
        repo: Repo,
        argv: tuple[str, ...],
        work: Path,
        *,
        threshold: float,
        metric: str,
        runs: int,
        key: str | None,
        history: Any,
        timeout: float | None,
        say: Callable[[str], None],
    ) -> None:
        self.repo, self.argv, self.work = repo, argv, work
        self.threshold, self.metric, self.runs, self.key = threshold, metric, runs, key
        self.history, self.timeout, self.say = history, timeout, say
        self.good_rows: list[Row] = []
        self.followed: dict[str, float] = {}  # cell -> its midpoint threshold
        self.tested: list[Tested] = []

    # -- measuring ---------------------------------------------------------------------------

    def _run(self, commit: str, rows: list[Row]) -> tuple[list[Row], Row | None, str | None]:
        """One more run at ``commit`` (checked out): the rows so far plus its own."""
        got = _command.run_once(self.argv, self.repo.path, self.work, commit, self.timeout)
        changed = self.repo.changed()
        if changed:
            raise ConfigError(
                f"the command changed tracked files at {commit[:12]} ({', '.join(changed[:5])}):"
                " bisect cannot check out the next commit over them; undo them (git checkout "
                "-- .), then 'git bisect reset'; make the command write outside tracked files"
            )
        if got.failure is not None:
            return rows, None, got.failure
        new = got.rows
        if self.key is not None:
            new = [r for r in new if _schema.get(r, "key") == self.key]
            if not new:
                return rows, got.header, f"its results have no cell {self.key!r}"
        return rows + _renumbered(new, rows), got.header, None

    def _add_history(self, label: str, commit: str, rows: list[Row], header: Row | None) -> None:
        if self.history is None or not rows:
            return
        try:
            self.history.add(rows, header=header, source=f"inferclock bisect: {label} "
                             f"{commit[:12]}", commit=commit)  # fmt: skip
        except HistoryError as e:  # the search goes on; its verdicts do not need the history
            self.say(f"warning: {label} {commit[:12]}: rows not added to the history: {e}")

    # -- judging -----------------------------------------------------------------------------

    def _judge(self, rows: list[Row], key: str, threshold: float) -> CellVerdict:
        a = ResultTable([r for r in self.good_rows if _schema.get(r, "key") == key])
        b = ResultTable([r for r in rows if _schema.get(r, "key") == key])
        comp = compare(a, b, threshold, metric=self.metric, allow_mixed=True)
        state = comp.state_of(key)
        c = next((c for c in comp.cells if c.key == key), None)
        metric = c.metric if c is not None else self.metric
        if c is None:
            why = state.state if state is not None else "missing"
            return CellVerdict(key, metric, why, None, None, None, threshold)
        lo = None if math.isnan(c.ci_low) else c.ci_low
        hi = None if math.isnan(c.ci_high) else c.ci_high
        return CellVerdict(key, metric, c.state, c.ratio, lo, hi, threshold, c.value_a, c.value_b)

    def _verdict(self, rows: list[Row]) -> tuple[Verdict | None, tuple[CellVerdict, ...]]:
        cells = tuple(self._judge(rows, k, t) for k, t in self.followed.items())
        if any(c.state == "slower" for c in cells):
            return "bad", cells
        if all(c.state in ("same", "faster") for c in cells):
            return "good", cells
        return None, cells

    # -- the ends ----------------------------------------------------------------------------

    def _end(self, label: str, commit: str, rows: list[Row]) -> tuple[list[Row], Row | None]:
        self.repo.checkout(commit)
        rows, header, failure = self._run(commit, rows)
        if failure is not None:
            raise ConfigError(
                f"the command failed at {label} {commit[:12]} ({self.repo.subject(commit)!r}): "
                f"{failure}; bisect needs results at both ends"
            )
        return rows, header

    def ends(self, good: str, bad: str) -> tuple[CellVerdict, ...]:
        """Measure GOOD and BAD; the cells BAD is slower in (followed), judged at the
        threshold. Both ends are measured again while no cell is slower and one is
        inconclusive."""
        good_rows: list[Row] = []
        bad_rows: list[Row] = []
        cells: tuple[CellVerdict, ...] = ()
        for run in range(1, self.runs + 1):
            good_rows, gh = self._end("GOOD", good, good_rows)
            if run == 1:
                self._check_key(good_rows)
            bad_rows, bh = self._end("BAD", bad, bad_rows)
            self.good_rows = good_rows
            keys = list(dict.fromkeys(_schema.at(r, "key") for r in good_rows
                                      if _schema.get(r, "error") is None))  # fmt: skip
            cells = tuple(self._judge(bad_rows, k, self.threshold) for k in keys)
            self.say(f"run {run}: BAD against GOOD at {self.threshold:.1%}: "
                     + "; ".join(f"{c.key} {c.text()}" for c in cells))  # fmt: skip
            if any(c.state == "slower" for c in cells) or not any(
                c.state in ("inconclusive", "no interval") for c in cells
            ):
                break
            if run < self.runs:
                self.say("  inconclusive: both ends measured again")
        self._add_history("GOOD", good, good_rows, gh)
        self._add_history("BAD", bad, bad_rows, bh)
        for c in cells:
            if c.state == "slower" and c.ratio is not None:
                slowdown = 1.0 / c.ratio if _cell.higher_is_better(c.metric) else c.ratio
                self.followed[c.key] = math.sqrt(slowdown) - 1.0
        verdict: Verdict = "bad" if self.followed else "skip"
        self.tested.append(Tested(good, self.repo.subject(good), "good", run, "GOOD"))
        self.tested.append(Tested(bad, self.repo.subject(bad), verdict, run, "BAD", cells))
        return cells

    def _check_key(self, rows: list[Row]) -> None:
        if self.key is not None and not any(_schema.get(r, "key") == self.key for r in rows):
            raise ConfigError(f"--key {self.key!r}: GOOD's results have no such cell")

    # -- one commit --------------------------------------------------------------------------

    def test(self, commit: str, step: int) -> Tested:
        subject = self.repo.subject(commit)
        head = f"[{step}] {commit[:12]} {subject[:40]!r}"
        rows: list[Row] = []
        header: Row | None = None
        cells: tuple[CellVerdict, ...] = ()
        verdict: Verdict | None = None
        reason = ""
        run = 0
        for run in range(1, self.runs + 1):
            rows, h, failure = self._run(commit, rows)
            header = header or h
            if failure is not None:
                verdict, reason = "skip", failure
                break
            verdict, cells = self._verdict(rows)
            text = "; ".join(f"{c.key} {c.text()}" for c in cells)
            if verdict is not None:
                reason = text
                break
            reason = f"still undecided after {run} run(s): {text}"
            if run < self.runs:
                self.say(f"{head}: run {run}: {text}: measuring again")
        verdict = verdict or "skip"
        self.say(f"{head}: {reason} -> {verdict}")
        self._add_history("commit", commit, rows, header)
        return Tested(commit, subject, verdict, run, reason, cells)

    def run(self, good: str, bad: str) -> tuple[Mark, tuple[CellVerdict, ...]]:
        self.repo.start()
        followed = self.ends(good, bad)
        if not self.followed:
            return Mark(), followed
        judged = (f"{k} (commits judged at {t:.1%}: the step's midpoint)"
                  for k, t in self.followed.items())  # fmt: skip
        self.say("following " + "; ".join(judged))
        mark = self.repo.mark("bad", bad)
        mark = self.repo.mark("good", good)
        step = 0
        while mark.next is not None:
            step += 1
            t = self.test(mark.next, step)
            self.tested.append(t)
            mark = self.repo.mark(t.verdict)
        return mark, followed


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated("stopped by SIGTERM")


def bisect(
    good: str,
    bad: str,
    command: Sequence[str],
    *,
    repo: str | os.PathLike[str] = ".",
    threshold: float = 0.05,
    metric: str = "auto",
    runs: int = 3,
    key: str | None = None,
    history: str | os.PathLike[str] | None = None,
    timeout: float | None = None,
    say: Callable[[str], None] = print,
) -> BisectResult:
    """Find the first commit after ``good`` up to ``bad`` whose measurement by ``command`` is
    slower than ``good``'s beyond its interval (module docstring). Every argument is checked,
    and the repository too, before anything is checked out."""
    threshold = check_threshold("threshold", threshold)
    metric = _cell.check_metric(metric)
    runs = check_runs(runs)
    timeout = _checks.seconds(optional=True)("timeout", timeout)
    if key is not None and (not isinstance(key, str) or not key):
        err = ConfigError if isinstance(key, str) else ConfigTypeError
        raise err(f"key must be a cell key (a non-empty string) or None, got {key!r}")
    if isinstance(command, str) or not all(isinstance(a, str) for a in command):
        raise ConfigTypeError(f"command must be a list of strings (argv), got {command!r}")
    argv = _command.check_command(list(command))
    r = Repo(repo)
    g, b = r.commit(good, "GOOD"), r.commit(bad, "BAD")
    r.check_range(g, b)
    r.check_clean()
    store = None
    if history is not None:
        from inferclock._tracking.history import History

        store = History(history)  # opened first: a history that cannot be used stops here
    start = r.where()
    work = Path(tempfile.mkdtemp(prefix="inferclock-bisect-"))
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    search = _Search(r, argv, work, threshold=threshold, metric=metric, runs=runs, key=key,
                     history=store, timeout=timeout, say=say)  # fmt: skip
    say(f"bisect: {r.between(g, b)} commit(s) after GOOD {g[:12]} up to BAD {b[:12]} in "
        f"{str(r.top)!r} (checked out: {start})")  # fmt: skip
    try:
        mark, followed = search.run(g, b)
    finally:
        signal.signal(signal.SIGTERM, previous)
        why = r.reset() if r.bisecting() else None
        shutil.rmtree(work, ignore_errors=True)
        if store is not None:
            store.close()
        if why is not None:
            message = f"could not return the checkout to {start}: git bisect reset: {why}"
            if sys.exc_info()[0] is None:
                raise ConfigError(message)
            say(f"error: {message}")
    return _result(g, b, mark, followed, search, start)


def _result(
    good: str, bad: str, mark: Mark, followed: tuple[CellVerdict, ...], search: _Search, start: str
) -> BisectResult:
    tested = tuple(search.tested)
    found = next((t for t in tested if t.commit == mark.first_bad), None)
    if not search.followed:
        reason = (
            f"BAD is not slower than GOOD beyond {search.threshold:.1%} in any cell (whole "
            "interval): nothing to bisect"
        )
    elif mark.first_bad is None:
        reason = "only skipped commits are left: the first bad commit is one of the candidates"
    else:
        reason = ""
    return BisectResult(
        good=good, bad=bad, first_bad=mark.first_bad,
        subject=found.subject if found else None, cells=found.cells if found else (),
        tested=tested, restored=start, candidates=mark.candidates, reason=reason,
        followed=followed,
    )  # fmt: skip
