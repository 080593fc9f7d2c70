"""Edits of a saved baseline for the pytest-plugin tests: a row scaled to the clean timing a
spin gets on a quiet machine (a spin never runs short, so a session timed against it is at
least as slow as the spins' ratio however loaded the machine is)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path


def edit_rows(path: Path, edit: Callable[[dict[str, object]], None]) -> None:
    header, *rows = (json.loads(line) for line in path.read_text().splitlines())
    for row in rows:
        edit(row)
    path.write_text("".join(json.dumps(o) + "\n" for o in (header, *rows)))


def clean(median_ns: float) -> Callable[[dict[str, object]], None]:
    """Scale a saved row's latencies so that its median is ``median_ns``: the baseline a spin
    of that length gets on a quiet machine. A spin never runs short, so a session timed
    against it is at least as slow as the spins' ratio, however loaded the machine is."""

    def edit(row: dict[str, object]) -> None:
        median = row["latency_median_ns"]
        assert isinstance(median, (int, float))
        k = median_ns / median
        for name, value in list(row.items()):
            if name.startswith("latency_") and name.endswith("_ns") and value is not None:
                row[name] = value * k  # type: ignore[operator]
        for p in row["latency_percentiles"].values():  # type: ignore[union-attr]
            for f in ("value_ns", "low_ns", "high_ns"):
                p[f] = None if p[f] is None else p[f] * k

    return edit
