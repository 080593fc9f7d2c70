"""Progress display for sweeps: a rich bar, a tqdm bar, a plain stderr line, or nothing.

All of them show the current cell, finished and failed counts and an ETA, and print notes
(messages about the sweep) above the bar so the two never garble each other.
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


def _fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


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
    """One self-overwriting stderr line: ``[3/8, 1 failed, ETA 42s] resnet50|CPU|...``."""

    def __init__(self) -> None:
        super().__init__()
        self.label = ""
        self._width = 0

    def start(self, total: int) -> None:
        self.total = total
        self.t0 = time.monotonic()

    def _draw(self) -> None:
        text = (
            f"[{self.done}/{self.total} done, {self.failed} failed, ETA {_fmt_eta(self.eta())}] "
            f"{self.label}"
        )
        cols = shutil.get_terminal_size((100, 20)).columns - 1
        text = text[:cols]
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
    """A rich progress bar on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._console = Console(stderr=True)
        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self._console,
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
        self._bar = self._tqdm.tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True)

    def running(self, label: str) -> None:
        self._bar.set_description_str(label)

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
