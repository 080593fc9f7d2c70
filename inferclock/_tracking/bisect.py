"""``inferclock bisect``: the first commit that made a measurement slower, found by ``git bisect``
with the interval verdict of ``compare``.

The search (docs/history.md, "Bisect"):

1. GOOD and BAD are checked out and measured (the command: ``_tracking.bisect_command``). The
   cells to follow are those where BAD is *slower* than GOOD beyond ``threshold`` (the whole
   interval of the ratio BAD/GOOD above ``1 + threshold``; ``compare``'s verdict). None: there
   is nothing to bisect.
2. ``git bisect`` picks a commit; it is measured and each followed cell judged against GOOD at
   that cell's *midpoint threshold*, ``sqrt(s) - 1`` where ``s`` is BAD's slow-down (a 30% step:
   14%), by ``_tracking.bisect_judge``: ``slower`` makes the commit bad, ``same`` or ``faster``
   (in every cell) good. A commit neither (``inconclusive``, no interval, a cell missing) is
   measured again, or GOOD is where GOOD's interval is the wider, the runs of each side pooled,
   up to ``runs`` rounds; then it is skipped. A commit whose command fails is skipped at once.
   (The ends are judged the same way: while BAD is undecided, the wider end is measured again.)
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
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from inferclock._analysis import cell as _cell
from inferclock._analysis.gate import check_threshold
from inferclock._common import checks as _checks
from inferclock._common.errors import ConfigError, ConfigTypeError, HistoryError, Terminated
from inferclock._common.jsonl import Row
from inferclock._timing import schema as _schema
from inferclock._tracking import bisect_command as _command, bisect_judge as _judge
from inferclock._tracking.bisect_result import BisectResult, CellVerdict, Tested, Verdict
from inferclock._tracking.git import Mark, Repo

__all__ = ["BisectResult", "CellVerdict", "Tested", "bisect"]

#: The most runs of the command at one commit.
MAX_RUNS = 20


def check_runs(runs: Any, name: str = "runs") -> int:
    got: int = _checks.integer(1, MAX_RUNS)(name, runs)
    return got


def _numbered(runs: list[list[Row]]) -> list[Row]:
    """The rows of several runs as one batch, each run's process indices after those of the
    runs before it: the history combines one run's rows by process, and two runs' process 0
    are two processes."""
    out: list[Row] = []
    offset = 0
    for rows in runs:
        used = [p for r in rows if isinstance(p := _schema.get(r, "process"), int)]
        out += [{**r, "process": p + offset} if isinstance(p := _schema.get(r, "process"), int)
                else r for r in rows]  # fmt: skip
        offset += max(used) + 1 if used else 0
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
        self.good = ""
        self.good_runs: list[list[Row]] = []
        self.followed: dict[str, float] = {}  # cell -> its midpoint threshold
        self.tested: list[Tested] = []

    # -- measuring ---------------------------------------------------------------------------

    def _run(self, commit: str) -> tuple[list[Row], Row | None, str | None]:
        """One run of the command at ``commit`` (checked out): its rows, header, failure."""
        got = _command.run_once(self.argv, self.repo.path, self.work, commit, self.timeout)
        changed = self.repo.changed()
        if changed:
            # The tree was clean when bisect began: these are the command's own changes.
            self.repo.discard()
            raise ConfigError(
                f"the command changed tracked files at {commit[:12]} ({', '.join(changed[:5])}),"
                " over which the next commit cannot be checked out: bisect put them back as "
                "committed and stopped; make the command write outside tracked files"
            )
        if got.failure is not None:
            return [], None, got.failure
        rows = got.rows
        if self.key is not None:
            rows = [r for r in rows if _schema.get(r, "key") == self.key]
            if not rows:
                return [], got.header, f"its results have no cell {self.key!r}"
        return rows, got.header, None

    def _end(self, label: str, commit: str) -> list[Row]:
        """A run at GOOD or BAD, added to the history: the command must not fail there."""
        self.repo.checkout(commit)
        rows, header, failure = self._run(commit)
        if failure is not None:
            raise ConfigError(
                f"the command failed at {label} {commit[:12]} ({self.repo.subject(commit)!r}): "
                f"{failure}; bisect needs results at both ends"
            )
        self._add_history(label, commit, [rows], header)
        return rows

    def _add_history(
        self, label: str, commit: str, runs: list[list[Row]], header: Row | None
    ) -> None:
        rows = _numbered(runs)
        if self.history is None or not rows:
            return
        try:
            self.history.add(rows, header=header, source=f"inferclock bisect: {label} "
                             f"{commit[:12]}", commit=commit)  # fmt: skip
        except HistoryError as e:  # the search goes on; its verdicts do not need the history
            self.say(f"warning: {label} {commit[:12]}: rows not added to the history: {e}")

    # -- judging -----------------------------------------------------------------------------

    def _cells(
        self, runs: list[list[Row]], thresholds: dict[str, float]
    ) -> tuple[CellVerdict, ...]:
        return tuple(_judge.judge(self.good_runs, runs, k, self.metric, t)
                     for k, t in thresholds.items())  # fmt: skip

    @staticmethod
    def _good_wider(cells: tuple[CellVerdict, ...]) -> bool:
        """Whether GOOD's interval is the wider one in an undecided cell: measure it again."""
        return any(c.state in _judge.UNDECIDED and c.se_good > c.se for c in cells
                   if not math.isnan(c.se_good) and not math.isnan(c.se))  # fmt: skip

    def _good_again(self, back_to: str) -> None:
        self.say(f"  GOOD {self.good[:12]} measured again (its interval is the wider)")
        self.good_runs.append(self._end("GOOD", self.good))
        self.repo.checkout(back_to)

    # -- the ends ----------------------------------------------------------------------------

    def ends(self, good: str, bad: str) -> tuple[CellVerdict, ...]:
        """Measure GOOD and BAD; the cells BAD is slower in (followed), judged at the
        threshold. While no cell is slower and one is undecided, the end with the wider
        interval is measured again (``runs`` rounds in all)."""
        self.good = good
        self.good_runs = [self._end("GOOD", good)]
        if self.key is None:
            keys = _judge.keys_of(self.good_runs)
        elif _judge.keys_of(self.good_runs) == [self.key]:
            keys = [self.key]
        else:
            raise ConfigError(f"--key {self.key!r}: GOOD's results have no such cell")
        bad_runs = [self._end("BAD", bad)]
        cells: tuple[CellVerdict, ...] = ()
        for round_ in range(1, self.runs + 1):
            cells = self._cells(bad_runs, dict.fromkeys(keys, self.threshold))
            self.say(f"BAD against GOOD at {self.threshold:.1%} (round {round_}): "
                     + "; ".join(f"{c.key} {c.text()}" for c in cells))  # fmt: skip
            slower = any(c.state == "slower" for c in cells)
            if slower or not any(c.state in _judge.UNDECIDED for c in cells):
                break
            if round_ == self.runs:
                break
            if self._good_wider(cells):
                self._good_again(bad)
            else:
                self.say(f"  BAD {bad[:12]} measured again")
                bad_runs.append(self._end("BAD", bad))
        for c in cells:
            if c.state == "slower" and c.ratio is not None:
                slowdown = 1.0 / c.ratio if _cell.higher_is_better(c.metric) else c.ratio
                self.followed[c.key] = math.sqrt(slowdown) - 1.0
        verdict: Verdict = "bad" if self.followed else "skip"
        self.tested.append(Tested(good, self.repo.subject(good), "good", len(self.good_runs),
                                  "GOOD"))  # fmt: skip
        self.tested.append(Tested(bad, self.repo.subject(bad), verdict, len(bad_runs), "BAD",
                                  cells))  # fmt: skip
        return cells

    # -- one commit --------------------------------------------------------------------------

    def test(self, commit: str, step: int) -> Tested:
        """Measure ``commit`` (checked out) and judge it; while undecided, measure the side
        with the wider interval again (``runs`` rounds in all), then skip it."""
        subject = self.repo.subject(commit)
        head = f"[{step}] {commit[:12]} {subject[:40]!r}"
        rows, header, failure = self._run(commit)
        runs = [rows]
        cells: tuple[CellVerdict, ...] = ()
        verdict: Verdict | None = "skip" if failure is not None else None
        reason = failure or ""
        round_ = 1
        while verdict is None:
            cells = self._cells(runs, self.followed)
            text = "; ".join(f"{c.key} {c.text()}" for c in cells)
            if any(c.state == "slower" for c in cells):
                verdict, reason = "bad", text
            elif all(c.state in ("same", "faster") for c in cells):
                verdict, reason = "good", text
            elif round_ == self.runs:
                verdict, reason = "skip", f"still undecided after {round_} rounds: {text}"
            else:
                self.say(f"{head}: round {round_}: {text}")
                round_ += 1
                if self._good_wider(cells):
                    self._good_again(commit)
                    continue
                self.say(f"  {commit[:12]} measured again")
                more, h, failure = self._run(commit)
                if failure is not None:
                    verdict, reason = "skip", failure
                runs.append(more)
                header = header or h
        self.say(f"{head}: {reason} -> {verdict}")
        self._add_history("commit", commit, runs, header)
        return Tested(commit, subject, verdict, len([r for r in runs if r]), reason, cells)

    def run(self, good: str, bad: str) -> tuple[Mark, tuple[CellVerdict, ...]]:
        self.repo.start()
        followed = self.ends(good, bad)
        if not self.followed:
            return Mark(), followed
        judged = (f"{k} (commits judged at {t:.1%}: the step's midpoint)"
                  for k, t in self.followed.items())  # fmt: skip
        self.say("following " + "; ".join(judged))
        self.repo.mark("bad", bad)
        mark = self.repo.mark("good", good)
        step = 0
        while mark.next is not None:
            step += 1
            t = self.test(mark.next, step)
            self.tested.append(t)
            mark = self.repo.mark(t.verdict, t.commit)
        return mark, followed


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated("stopped by SIGTERM")


def _restore(repo: Repo, main: bool, previous: Any) -> str | None:
    """``git bisect reset`` with Ctrl-C and SIGTERM held off (a second Ctrl-C must not leave
    the checkout mid-way); the previous SIGTERM handler back. Why it failed, or None."""
    if not main:
        return repo.reset() if repo.bisecting() else None
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        return repo.reset() if repo.bisecting() else None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


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
    start = r.where()
    store = None
    if history is not None:
        from inferclock._tracking.history import History

        store = History(history)  # opened first: a history that cannot be used stops here
    work = Path(tempfile.mkdtemp(prefix="inferclock-bisect-"))
    main = threading.current_thread() is threading.main_thread()  # signals: main thread only
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if main else None
    search = _Search(r, argv, work, threshold=threshold, metric=metric, runs=runs, key=key,
                     history=store, timeout=timeout, say=say)  # fmt: skip
    try:
        say(f"bisect: {r.between(g, b)} commit(s) after GOOD {g[:12]} up to BAD {b[:12]} in "
            f"{str(r.top)!r} (checked out: {start})")  # fmt: skip
        mark, followed = search.run(g, b)
    finally:
        why = _restore(r, main, previous)
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
