"""``ic.publish``: a history as a static dashboard to copy to any web server.

This module owns the glue from :class:`inferclock._tracking.history.History` to the site's plain
records (:class:`inferclock._render.site.CellData`) and the argument checks; the pages and
charts are :mod:`inferclock._render.site`'s.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError
from inferclock._common.secrets import mask_url
from inferclock._render.site import CellData, Point, StepMark, write_site
from inferclock._timing import schema as _schema

__all__ = ["cells_from_history", "publish"]


def _unit(metric: str) -> tuple[str, float]:
    """The unit a metric is shown in and the factor from its stored values (latencies are
    stored in ns, throughput in inferences per second)."""
    if metric == "throughput":
        return "/s", 1.0
    return "ms", 1e-6


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _scaled(v: Any, k: float) -> float | None:
    f = _num(v)
    return None if f is None else f * k


_DIRECTION = {"slower": "regression", "faster": "improvement"}


def _str(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _percentiles(
    h: Any, key: str, host: str | None
) -> tuple[tuple[str, float, float | None, float | None], ...]:
    """The latest stored row's latency percentiles of the cell, in ms."""
    rows = h.query(key=key, host=host)
    column = _schema.name("latency_percentiles")
    if len(rows) == 0 or column not in rows:
        return ()
    if "added_at" in rows:
        rows = rows.sort_values("added_at", kind="stable")
    pct = rows[column].iloc[-1]
    if isinstance(pct, str):
        pct = json.loads(pct)
    if not isinstance(pct, dict):
        return ()
    out = []
    for name, p in pct.items():
        value = _num(p.get("value_ns")) if isinstance(p, dict) else _num(p)
        if value is None:
            continue
        lo = _num(p.get("low_ns")) if isinstance(p, dict) else None
        hi = _num(p.get("high_ns")) if isinstance(p, dict) else None
        out.append(
            (name, value / 1e6, None if lo is None else lo / 1e6, None if hi is None else hi / 1e6)
        )
    return tuple(out)


def cells_from_history(h: Any, *, metric: str = "auto") -> list[CellData]:
    """Every (cell, host) of the open history ``h`` as the site's records."""
    steps: dict[tuple[str, str | None], list[Any]] = {}
    for s in h.regressions(metric=metric):
        steps.setdefault((s.key, s.host), []).append(s)
    cells = []
    for key, host in h.cells():
        df = h.series(key, host=host, metric=metric)
        if len(df) == 0:
            continue
        found = steps.get((key, host), [])
        name = str(df["metric"].iloc[0]) if "metric" in df else metric
        unit, k = _unit(name)
        pos = {str(r): i for i, r in enumerate(df["run_id"])}

        points = tuple(
            Point(
                run_id=str(r.run_id), at=str(r.at), commit=_str(r.commit),
                version=_str(r.inferclock_version), value=float(r.value) * k,
                low=_scaled(r.low, k), high=_scaled(r.high, k),
            )
            for r in df.itertuples(index=False)
        )  # fmt: skip
        marks = tuple(
            StepMark(
                index=pos.get(str(s.run_id), int(s.index)), before=float(s.before) * k,
                after=float(s.after) * k, ratio=float(s.ratio),
                direction=_DIRECTION.get(str(s.direction), str(s.direction)),
                commit=_str(s.commit), version=_str(s.version),
            )
            for s in found
        )  # fmt: skip
        cells.append(CellData(key, host, name, unit, points, marks, _percentiles(h, key, host)))
    return cells


def publish(
    history: Any,
    out_dir: str | os.PathLike[str],
    *,
    title: str = "inferclock",
    metric: str = "auto",
) -> Path:
    """Write a static dashboard of ``history`` into ``out_dir``; returns ``index.html``'s path.

    ``history``: a SQLite file, a ``postgresql://`` URL, or an open ``History``. The site is
    ``index.html`` (each cell and host: the latest value with its interval, any detected step)
    and ``cells/*.html`` (the history plot with the steps marked, the latest run's
    percentiles, the runs); charts are inline SVG, links relative, nothing is fetched at view
    time: copy the folder to any static host.
    """
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"publish: out_dir {str(out)!r} exists and is not a directory")
    if isinstance(history, (str, os.PathLike)):
        target = os.fspath(history)
        if "://" not in target and not Path(target).is_file():
            raise ConfigError(f"publish: history {target!r} is not a file")
        hist_mod = importlib.import_module("inferclock._tracking.history")
        with hist_mod.History(target, read_only=True) as h:  # a read-only mount is fine
            cells = cells_from_history(h, metric=metric)
        name = mask_url(target)
    else:
        cells = cells_from_history(history, metric=metric)
        name = type(history).__name__
    if not cells:
        raise ConfigError(f"publish: history {name!r} holds no results to publish")
    if (out / "cells").is_symlink():  # the pages go in a real folder, never through a link
        raise ConfigError(f"publish: {str(out / 'cells')!r} is a symlink; remove it first")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write_site(cells, out, title=title)
    except OSError as e:
        raise ConfigError(f"publish: cannot write to out_dir {str(out)!r}: {e}") from e
