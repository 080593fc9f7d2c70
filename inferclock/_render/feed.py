"""The published dashboard's ``feed.xml``: the detected steps as an Atom 1.0 feed (RFC 4287).

This module owns the feed: one entry per step, the newest first, titled by its direction,
change and cell, linking (relatively, as every link of the site) to the cell's page, dated
by the run where the step starts, with a stable ``urn:uuid`` id so a reader shows each step
once however often the site is published. Every text passes ``svg.esc``, which also drops
the characters XML cannot hold, so a model named with a control character still gives a
feed that parses.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from inferclock._render.dash_charts import step_text
from inferclock._render.dash_records import CellData, cell_file, facets, newest_steps, run_key
from inferclock._render.svg import esc

__all__ = ["atom", "rfc3339"]

NS = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/inferclock/inferclock#published-steps")
EPOCH = "1970-01-01T00:00:00+00:00"


def rfc3339(text: str) -> str:
    """A run's time as an RFC 3339 date-time (UTC when it names no zone; the epoch when it
    is not a time at all: Atom requires one)."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return EPOCH
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.isoformat(timespec="seconds")


def atom(cells: Sequence[CellData], title: str) -> str:
    """The feed of every step in ``cells`` (see the module docstring)."""
    entries = []
    for c, st, p in newest_steps(cells):
        host = facets(c)["host"]
        ident = uuid.uuid5(NS, f"{c.key}\0{c.host or ''}\0{p.run_id}\0{st.direction}")
        entries.append(
            "<entry>"
            f"<title>{esc(f'{st.direction} {100 * (st.ratio - 1):+.1f}%: {c.key} on {host}')}"
            f"</title><id>urn:uuid:{ident}</id><updated>{rfc3339(p.at)}</updated>"
            f'<link rel="alternate" type="text/html" href="{cell_file(c)}"/>'
            f'<summary type="text">{esc(f"{step_text(c, st)}; host {host}")}</summary>'
            "</entry>"
        )
    newest = max((run_key(c.points[-1])[0] for c in cells), default="")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{esc(title)}: detected steps</title>"
        f"<id>urn:uuid:{uuid.uuid5(NS, 'feed:' + title)}</id>"
        f"<updated>{rfc3339(newest) if newest else EPOCH}</updated>"
        "<author><name>inferclock</name></author><generator>inferclock</generator>"
        '<link rel="alternate" type="text/html" href="regressions.html"/>'
        '<link rel="self" type="application/atom+xml" href="feed.xml"/>\n'
        + "\n".join(entries)
        + "\n</feed>\n"
    )
