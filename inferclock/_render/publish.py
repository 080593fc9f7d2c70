"""``ic.publish``: a history as a static dashboard to copy to any web server.

This module owns the glue from :class:`inferclock._tracking.history.History` to the site's plain
records (:class:`inferclock._render.dash_records.CellData`) and the argument checks; the pages
and charts are :func:`inferclock._render.site.write_site`'s.
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
from inferclock._render.dash_records import CellData, Point, StepMark
from inferclock._render.site import write_site
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


def _latest(h: Any, key: str, host: str | None) -> Any:
    """The cell's newest stored row on ``host`` (a pandas Series), or None."""
    rows = h.query(key=key, host=host)
    if len(rows) == 0:
        return None
    if "added_at" in rows:
        rows = rows.sort_values("added_at", kind="stable")
    return rows.iloc[-1]


def _percentiles(last: Any) -> tuple[tuple[str, float, float | None, float | None], ...]:
    """The latest stored row's latency percentiles of the cell, in ms."""
    column = _schema.name("latency_percentiles")
    if last is None or column not in last:
        return ()
    pct = last[column]
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
            (
                str(name),
                value / 1e6,
                None if lo is None else lo / 1e6,
                None if hi is None else hi / 1e6,
            )
        )
    return tuple(out)


def _params(last: Any) -> dict[str, Any]:
    """The cell's parameters from its newest row (None where the row lacks one)."""
    got: dict[str, Any] = {}
    for attr, field in (("model", "model"), ("device", "device"),
                        ("precision", "precision_requested"), ("mode", "mode"),
                        ("host_name", "host_name")):  # fmt: skip
        column = _schema.name(field)
        got[attr] = _str(last[column]) if last is not None and column in last else None
    column = _schema.name("batch_size")
    batch = _num(last[column]) if last is not None and column in last else None
    got["batch_size"] = None if batch is None else int(batch)
    return got


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
                openvino=_str(r.openvino_version),
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
        last = _latest(h, key, host)
        cells.append(
            CellData(key, host, name, unit, points, marks, _percentiles(last), **_params(last))
        )
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
    ``index.html`` (the newest steps, filters by host, model, precision and mode, and a card
    per cell and host with its sparkline, latest value and interval), ``cells/*.html`` (the
    history on a commit axis with its interval band, a hover per point and the steps marked;
    the latest run's percentiles on a log axis; the runs), ``models/*.html`` (each cell of a
    model as a line of one chart), ``runs/*.html``, ``regressions.html`` and the Atom feed
    ``feed.xml`` of the detected steps. Charts are inline SVG, links relative, no script
    runs and nothing is fetched at view time: copy the folder to any static host.
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
    for folder in ("cells", "models", "runs"):  # pages go in real folders, never through a link
        if (out / folder).is_symlink():
            raise ConfigError(f"publish: {str(out / folder)!r} is a symlink; remove it first")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return write_site(cells, out, title=title)
    except OSError as e:
        raise ConfigError(f"publish: cannot write to out_dir {str(out)!r}: {e}") from e
