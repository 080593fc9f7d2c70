"""Progress display for sweeps: a rich bar, a tqdm bar, a plain stderr line, or nothing.

All of them show finished and failed counts and an ETA first, then the current cell, cut
with an ellipsis to the terminal's width (a cell name can be longer than a terminal: the
count and ETA are what must stay readable at 80 columns), and print notes (messages about
the sweep) above the bar so the two never garble each other.
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def running(self, label: str) -> None: ...
    def advance(self, failed: bool) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


ELLIPSIS = "\u2026"


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, its last one an ellipsis where it was cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def line(done: int, total: int, failed: int, eta: float | None, label: str, width: int) -> str:
    """The plain progress line in ``width`` columns: ``[3/8, 1 failed, ETA 42s] cell…``; the
    counts and the ETA come first, the cell name takes what is left."""
    head = f"[{done}/{total}" + (f", {failed} failed" if failed else "")
    head += f", ETA {_fmt_eta(eta)}]"
    if not label:
        return fit(head, width)
    return fit(f"{head} {fit(label, width - len(head) - 1)}", width)


def columns() -> int:
    """The terminal's width (``COLUMNS`` first, as ``shutil.get_terminal_size`` reads it)."""
    return shutil.get_terminal_size((80, 20)).columns


class _Counts:
    """Finished/failed counts and an ETA from the mean time of a finished run so far."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()

    def eta(self) -> float | None:
        if not self.done:
            return None
        return (time.monotonic() - self.t0) / self.done * (self.total - self.done)


class Quiet:
    """No progress; notes still go to stderr (they tell the user what happened)."""

    def __init__(self, notes: bool = False) -> None:
        self._notes = notes

    def start(self, total: int) -> None:
        pass

    def running(self, label: str) -> None:
        pass

    def advance(self, failed: bool) -> None:
        pass

    def note(self, message: str) -> None:
        if self._notes:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class Plain(_Counts):
    """One self-overwriting stderr line: ``[3/8, 1 failed, ETA 42s] resnet50|CPU|…``."""

    def __init__(self) -> None:
        super().__init__()
        self.label = ""
        self._width = 0

    def start(self, total: int) -> None:
        self.total = total
        self.t0 = time.monotonic()

    def _draw(self) -> None:
        # One column short of the width: a line that fills the last column wraps on some
        # terminals, and the next "\r" then rewrites the wrong line.
        text = line(self.done, self.total, self.failed, self.eta(), self.label, columns() - 1)
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def running(self, label: str) -> None:
        self.label = label
        self._draw()

    def advance(self, failed: bool) -> None:
        self.done += 1
        self.failed += int(failed)
        self._draw()

    def note(self, message: str) -> None:
        sys.stderr.write("\r" + " " * self._width + "\r" + message + "\n")
        self._width = 0
        self._draw()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


class Rich:
    """A rich progress bar on stderr: ``3/32 1 failed ETA 0:01:10 ━━━   resnet50|CPU|f3…``.

    ``console``: where it draws (default: a rich ``Console`` on stderr, as wide as the
    terminal).
    """

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        self._console = Console(stderr=True) if console is None else console
        # Counts and ETA first, at their own widths; the cell name takes the rest and is cut
        # with an ellipsis (rich gives a ratio column what the others leave).
        self._bar = Progress(
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            BarColumn(bar_width=12),
            TextColumn(
                "[bold]{task.description}",
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1),
            ),
            console=self._console,
            expand=True,
        )
        self._task: Any = None
        self._failed = 0

    def start(self, total: int) -> None:
        self._bar.start()
        self._task = self._bar.add_task("starting", total=total, failed=0)

    def running(self, label: str) -> None:
        self._bar.update(self._task, description=label)

    def advance(self, failed: bool) -> None:
        self._failed += int(failed)
        self._bar.update(self._task, advance=1, failed=self._failed)

    def note(self, message: str) -> None:
        self._console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        self._bar.stop()


class Tqdm:
    """A tqdm progress bar on stderr."""

    def __init__(self) -> None:
        import tqdm  # type: ignore[import-untyped,unused-ignore]

        self._tqdm = tqdm
        self._bar: Any = None
        self._failed = 0

    def start(self, total: int) -> None:
        # Counts and ETA first; the cell name (the description) last, cut to what is left.
        self._bar = self._tqdm.tqdm(
            total=total,
            unit="run",
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{n_fmt}/{total_fmt}{postfix} ETA {remaining} |{bar:10}| {desc}",
            postfix="0 failed",
        )

    def running(self, label: str) -> None:
        # What the rest of the line takes: the format above with its widest fields.
        n = len(str(self._bar.total))
        rest = 2 * n + len(f", {self._failed} failed") + len(" ETA 00:00:00 |") + 10 + 3
        self._bar.set_description_str(fit(label, columns() - 1 - rest))

    def advance(self, failed: bool) -> None:
        self._failed += int(failed)
        self._bar.set_postfix_str(f"{self._failed} failed")
        self._bar.update(1)

    def note(self, message: str) -> None:
        self._tqdm.tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


def make(quiet: bool | None) -> Progress:
    """The best display available; ``quiet=None`` means quiet when stderr is not a terminal."""
    if quiet is None:
        quiet = not sys.stderr.isatty()
    if quiet:
        return Quiet()
    for cls in (Rich, Tqdm):
        try:
            return cls()
        except ImportError:
            continue
    return Plain()
