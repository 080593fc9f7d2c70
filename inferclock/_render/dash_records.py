"""The published dashboard's records, file names and page frame.

This module owns the site's records (:class:`CellData`: one cell on one host, its runs'
values with intervals, the detected steps, the latest run's percentiles and the cell's
parameters), where each page lives (:func:`cell_file`, :func:`model_file`, :func:`run_file`:
readable names with a hash, safe on any server), the page frame every page shares (one
inline stylesheet, a Content-Security-Policy that allows no script and no fetch, relative
links only). What the pages hold is :mod:`inferclock._render.dash_pages`' and
:mod:`inferclock._render.dash_index`'s, the Atom feed :mod:`inferclock._render.feed`'s;
writing them all is :func:`inferclock._render.site.write_site`'s.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from inferclock._render.html import CSS
from inferclock._render.svg import esc

__all__ = [
    "CellData",
    "Point",
    "StepMark",
    "cell_file",
    "facets",
    "model_file",
    "newest_steps",
    "run_file",
    "run_key",
    "site_page",
]


@dataclass(frozen=True)
class Point:
    """One run of a cell: its value and interval (in the cell's ``unit``) and where it came from
    (the run, when it was added, the commit, the inferclock and OpenVINO versions)."""

    run_id: str
    at: str
    commit: str | None
    version: str | None
    value: float
    low: float | None = None
    high: float | None = None
    openvino: str | None = None


@dataclass(frozen=True)
class StepMark:
    """A detected step: it starts at ``points[index]``; ``ratio`` = after / before."""

    index: int
    before: float
    after: float
    ratio: float
    direction: str  # "regression" or "improvement"
    commit: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class CellData:
    """One cell on one host, as the site shows it. ``percentiles``: (name, value, low, high)
    of the latest run, in ``unit``. The parameters (``model`` ... ``mode``) default to the
    parts of a sweep's key (``model|device|precision|batch|mode|socket``); ``host_name``
    names the host where it is known."""

    key: str
    host: str | None
    metric: str
    unit: str
    points: tuple[Point, ...]
    steps: tuple[StepMark, ...] = ()
    percentiles: tuple[tuple[str, float, float | None, float | None], ...] = ()
    model: str | None = None
    device: str | None = None
    precision: str | None = None
    batch_size: int | None = None
    mode: str | None = None
    host_name: str | None = None


def facets(cell: CellData) -> dict[str, str]:
    """The cell's parameters as text: host, model, device, precision, batch, mode (from its
    fields, else from its key; ``-`` where neither says)."""
    parts = cell.key.rsplit("|", 5)
    from_key = dict(zip(("model", "device", "precision", "batch", "mode"), parts, strict=False))
    if len(parts) < 6:
        from_key = {"model": cell.key}
    host = cell.host_name or cell.host
    got = {
        "host": host if host else "-",
        "model": cell.model,
        "device": cell.device,
        "precision": cell.precision,
        "batch": None if cell.batch_size is None else str(cell.batch_size),
        "mode": cell.mode,
    }
    return {k: v if v is not None else from_key.get(k) or "-" for k, v in got.items()}


def _name(text: str, ident: str, empty: str = "cell") -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.")[:60] or empty
    return f"{stem}-{hashlib.sha256(ident.encode()).hexdigest()[:8]}"


def cell_file(cell: CellData) -> str:
    """The cell page's path relative to the site root: readable, unique, safe on any server."""
    ident = f"{cell.key}\0{cell.host or ''}"  # the same name as before: old links still work
    return f"cells/{_name(cell.key, ident)}.html"


def model_file(model: str) -> str:
    """The model page's path relative to the site root."""
    return f"models/{_name(model, model, 'model')}.html"


def run_key(p: Point) -> tuple[str, int, str]:
    """The order of runs across cells: when added, then the run id (numerically)."""
    return p.at, int(p.run_id) if p.run_id.isdigit() else -1, p.run_id


def newest_steps(cells: Sequence[CellData]) -> list[tuple[CellData, StepMark, Point]]:
    """Every step of every cell with the run where it starts, the newest first."""
    got = [(c, st, c.points[st.index]) for c in cells for st in c.steps
           if 0 <= st.index < len(c.points)]  # fmt: skip
    return sorted(got, key=lambda t: run_key(t[2]), reverse=True)


def run_file(run_id: str) -> str:
    """The run page's path relative to the site root."""
    return f"runs/{_name(f'run-{run_id}', run_id)}.html"


# No script may run and nothing may be fetched: the pages are text, inline CSS and inline SVG.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

SITE_CSS = """
header.site{display:flex;gap:1rem;align-items:baseline;border-bottom:1px solid #d0d7de;
padding-bottom:.4rem;margin-bottom:1rem}header.site strong{font-size:1.1rem}
svg text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:11px;fill:#57606a}
svg text.axis{font-size:12px;fill:#1f2328}svg text.steplabel{font-size:11px;font-weight:600}
svg .regression text{fill:#b3261e}svg .improvement text{fill:#1a7f37}
svg tspan.sub{fill:#8c959f;font-size:10px}
svg.chart{display:block;margin:.5rem 0}svg.swatch{vertical-align:-2px}
.pt:hover circle,.pt:hover rect,.pt:hover path{stroke:#1f2328;stroke-width:1.5}
ul.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3rem 1.2rem;font-size:.85rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(16.5rem,1fr));gap:.7rem}
.card{border:1px solid #d0d7de;border-radius:6px;padding:.45rem .6rem;font-size:.85rem}
.card a.name{font-weight:600;word-break:break-all}.card .meta{color:#656d76}
.card.has-regression{border-color:#b3261e}.card.has-improvement{border-color:#1a7f37}
.filters div{margin:.2rem 0}.filters label{display:inline-block;padding:0 .45rem;margin:.1rem;
border:1px solid #d0d7de;border-radius:1rem;cursor:pointer;font-size:.85rem}
input.f{position:absolute;opacity:0;pointer-events:none}
"""


def site_page(title: str, body: str, *, root: str, css: str = "", site_title: str = "") -> str:
    """A complete page of the site: the shared header (links to the index, the regressions
    and the feed, ``root`` the relative way up to the site root), ``body``, inline CSS only."""
    nav = (
        f'<header class="site"><strong>{esc(site_title or title)}</strong>'
        f'<a href="{root}index.html">cells</a><a href="{root}regressions.html">regressions</a>'
        f'<a href="{root}feed.xml">Atom feed</a></header>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="alternate" type="application/atom+xml" title="detected steps" '
        f'href="{root}feed.xml">\n<style>{CSS}{SITE_CSS}{css}</style>\n</head>\n'
        f"<body>\n{nav}\n{body}\n</body>\n</html>\n"
    )
