"""The published dashboard's ``index.html``: the newest steps, the filters, a grid of cells.

This module owns the index: the newest detected steps first (linking to the regressions
page), then one card per cell and host with its sparkline, latest value and interval, and
newest step, the cells with a step first (the newest step first). The filters by host,
model, precision and mode need no script: each value is a radio button (hidden, its label
shown) and a generated CSS rule hides the cards that lack the chosen value
(``#f-model-X:checked ~ .grid .card:not(.f-model-X)``), so the filters combine and work
opened from disk under the site's Content-Security-Policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from inferclock._render import dash_charts as ch
from inferclock._render.dash_records import (
    CellData,
    cell_file,
    facets,
    model_file,
    newest_steps,
    run_key,
    site_page,
)
from inferclock._render.svg import esc

__all__ = ["FILTERS", "filter_id", "index_page"]

#: The facets the index filters by, in the order shown.
FILTERS = ("host", "model", "precision", "mode")
NEWEST = 8  # steps listed at the top


def filter_id(dim: str, value: str) -> str:
    """The radio button's id (and the cards' class) for ``dim`` = ``value``: a hash, so any
    value gives a valid, safe id."""
    return f"f-{dim}-{hashlib.sha256(value.encode()).hexdigest()[:10]}"


def _filters(cells: Sequence[CellData]) -> tuple[str, str, str]:
    """The radio buttons, their labels, and the CSS that makes them filter."""
    inputs, rows, css = [], [], []
    on = "{background:#0969da;color:#fff;border-color:#0969da}"
    for dim in FILTERS:
        values = sorted({facets(c)[dim] for c in cells})
        all_id = f"f-{dim}-all"
        inputs.append(f'<input class="f" type="radio" name="f-{dim}" id="{all_id}" checked>')
        labels = [f'<label for="{all_id}">all</label>']
        css.append(f'#{all_id}:checked~.filters label[for="{all_id}"]{on}')
        for v in values:
            fid = filter_id(dim, v)
            inputs.append(f'<input class="f" type="radio" name="f-{dim}" id="{fid}">')
            labels.append(f'<label for="{fid}">{esc(v)}</label>')
            css.append(
                f"#{fid}:checked~.grid .card:not(.{fid}){{display:none}}"
                f'#{fid}:checked~.filters label[for="{fid}"]{on}'
            )
        rows.append(f'<div class="filter-{dim}">{dim}: {" ".join(labels)}</div>')
    return "".join(inputs), f'<div class="filters">{"".join(rows)}</div>', "\n".join(css)


def _card(c: CellData) -> str:
    f, last = facets(c), c.points[-1]
    classes = " ".join(filter_id(d, f[d]) for d in FILTERS)
    step = ""
    if c.steps:
        st = c.steps[-1]
        where = st.commit[:7] if st.commit else ch.commit_label(c.points[st.index])[0]
        more = f" ({len(c.steps)} steps)" if len(c.steps) > 1 else ""
        step = (
            f'<div class="step {esc(st.direction)}">{esc(st.direction)} '
            f"{100 * (st.ratio - 1):+.1f}% at {esc(where)}{more}</div>"
        )
        classes += f" has-{esc(st.direction)}"
    href = cell_file(c)
    return (
        f'<div class="card {classes}"><a class="name" href="{href}">{esc(c.key)}</a>'
        f'<div class="meta">host {esc(f["host"])} · {esc(c.metric)} ({esc(c.unit)}) · '
        f'{len(c.points)} runs</div><a href="{href}">{ch.sparkline(c)}</a>'
        f"<div>latest {esc(ch.interval_text(last.value, last.low, last.high))} "
        f"{esc(c.unit)}</div>{step}</div>"
    )


def _order(cells: Sequence[CellData]) -> list[CellData]:
    """Cells with a step first, the newest step first; the others by key and host."""
    newest: dict[int, int] = {}
    for rank, (c, _, _) in enumerate(newest_steps(cells)):
        newest.setdefault(id(c), rank)
    return sorted(cells, key=lambda c: (newest.get(id(c), len(cells)), c.key, c.host or ""))


def index_page(cells: Sequence[CellData], title: str) -> str:
    """The site's index (see the module docstring)."""
    steps = newest_steps(cells)
    listed = "".join(
        f'<li><span class="{esc(st.direction)}">{esc(st.direction)} '
        f"{100 * (st.ratio - 1):+.1f}%</span> "
        f'<a href="{cell_file(c)}">{esc(c.key)}</a> (host {esc(facets(c)["host"])}) at '
        f"<code>{esc(st.commit[:7] if st.commit else ch.commit_label(p)[0])}</code>, "
        f"{esc(p.at[:10])}</li>"
        for c, st, p in steps[:NEWEST]
    )
    inputs, labels, css = _filters(cells)
    models = sorted({facets(c)["model"] for c in cells})
    model_links = ", ".join(f'<a href="{model_file(m)}">{esc(m)}</a>' for m in models)
    newest = max((run_key(c.points[-1]) for c in cells), default=("", 0, ""))
    body = (
        f"<h1>{esc(title)}</h1>\n<p>{len(cells)} cells, {sum(bool(c.steps) for c in cells)} "
        f"with a detected step; newest run added {esc(newest[0][:19] or '-')}. Each chart: "
        "one point per run, oldest first, the band its 95% interval, a dashed line a step "
        "(a change of level larger than the noise).</p>\n"
        f"<h2>Newest steps</h2>\n"
        + (f'<ol class="newest">{listed}</ol>' if listed else '<p class="muted">None.</p>')
        + f'\n<p><a href="regressions.html">all {len(steps)} steps</a> · models: '
        f"{model_links}</p>\n<h2>Cells</h2>\n"
        f'<div class="dash">{inputs}{labels}<div class="grid">\n'
        + "\n".join(_card(c) for c in _order(cells))
        + "\n</div></div>"
    )
    return site_page(title, body, root="", css=css, site_title=title)
