"""The published dashboard from plain inputs: :func:`write_site` writes every file of it.

This module owns what the site holds and how it is written: ``index.html``,
``regressions.html``, ``feed.xml`` and the ``cells/``, ``models/`` and ``runs/`` pages, each
written by temporary file and rename. The records it takes (:class:`CellData`,
:class:`Point`, :class:`StepMark`) and the pages' names are
:mod:`inferclock._render.dash_records`' (named here too); filling them from a history is
:mod:`inferclock._render.publish`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from inferclock._common.outfile import write_atomic
from inferclock._render import dash_index, dash_pages, feed
from inferclock._render.dash_records import (
    CellData,
    Point,
    StepMark,
    cell_file,
    facets,
    model_file,
    run_file,
)

__all__ = [
    "CellData",
    "Point",
    "StepMark",
    "cell_file",
    "facets",
    "model_file",
    "run_file",
    "write_site",
]


def write_site(cells: Sequence[CellData], out: Path, *, title: str = "inferclock") -> Path:
    """Write the site into the existing directory ``out``: ``index.html``, ``regressions.html``,
    ``feed.xml`` and the ``cells/``, ``models/`` and ``runs/`` pages; returns the index's path.
    Cells without points are left out. Each file is written by temporary file and rename: a
    failed write (a full disk) leaves the old file or none, never half."""
    shown = [c for c in cells if c.points]
    files = {
        **dash_pages.cell_pages(shown, title),
        **dash_pages.model_pages(shown, title),
        **dash_pages.run_pages(shown, title),
        "regressions.html": dash_pages.regressions_page(shown, title),
        "feed.xml": feed.atom(shown, title),
    }
    for folder in ("cells", "models", "runs"):
        (out / folder).mkdir(exist_ok=True)
    for rel, text in files.items():
        write_atomic(out / rel, text)
    return write_atomic(out / "index.html", dash_index.index_page(shown, title))
