"""The published dashboard's pages other than the index: a cell, a model, a run, the steps.

This module owns what each page holds. A cell page (``cells/``): its parameters, the steps,
the history chart on a commit axis, the latest percentiles on a log axis, and every run. A
model page (``models/``): each of its cells as a line of one chart over the commits (batch
size, precision, mode and device are the lines), and the latest values by batch size. A run
page (``runs/``): the commit, date and versions of one run and each cell it measured. The
regressions page: every detected step, the newest first. Each returns ``{path: page}``
relative to the site root; every value from results is escaped (``svg.esc``), every link is
one of the site's own files.
"""

from __future__ import annotations

from collections.abc import Sequence

from inferclock._render import dash_charts as ch
from inferclock._render.dash_records import (
    CellData,
    Point,
    cell_file,
    facets,
    model_file,
    newest_steps,
    run_file,
    run_key,
    site_page,
)
from inferclock._render.svg import esc

__all__ = ["cell_pages", "model_pages", "regressions_page", "run_pages"]

UP = "../"
PARAMS = ("host", "device", "precision", "batch", "mode")


def _params(c: CellData, skip: Sequence[str] = ()) -> str:
    """The cell's parameters as text (not escaped: the caller escapes where it writes it)."""
    f = facets(c)
    return ", ".join(f"{k} {f[k]}" for k in PARAMS if k not in skip)


def _versions(p: Point) -> str:
    return ", ".join(f"{n} {v}" for n, v in (("inferclock", p.version), ("openvino", p.openvino))
                     if v) or "-"  # fmt: skip


def _run_link(p: Point, root: str = UP) -> str:
    return f'<a href="{root}{run_file(p.run_id)}">{esc(p.run_id)}</a>'


def _cell_page(c: CellData, title: str) -> str:
    f = facets(c)
    steps = "".join(
        f'<li class="{esc(st.direction)}">{esc(ch.step_text(c, st))}</li>' for st in c.steps
    )
    pct = ch.percentile_chart(c)
    order = _pct_names(c)
    by_name = {n: (v, lo, hi) for n, v, lo, hi in c.percentiles}
    pct_rows = "".join(
        f"<tr><td>{esc(n)}</td><td>{esc(ch.interval_text(*by_name[n]))}</td></tr>" for n in order
    )
    latest = (
        f"<h2>Latest distribution</h2>\n{pct}\n<table><thead><tr><th>percentile</th>"
        f"<th>{esc(c.unit)} [95% CI]</th></tr></thead><tbody>{pct_rows}</tbody></table>"
        if pct
        else '<h2>Latest distribution</h2>\n<p class="muted">No percentiles stored.</p>'
    )
    runs = "\n".join(
        f'<tr id="run-{esc(p.run_id)}"><td>{i + 1}</td><td>{_run_link(p)}</td>'
        f"<td>{esc(p.at)}</td><td><code>{esc((p.commit or '-')[:10])}</code></td>"
        f"<td>{esc(_versions(p))}</td>"
        f"<td>{esc(ch.interval_text(p.value, p.low, p.high))}</td></tr>"
        for i, p in reversed(list(enumerate(c.points)))
    )
    body = (
        f'<h1>{esc(c.key)}</h1>\n<p>Model <a href="{UP}{model_file(f["model"])}">'
        f"{esc(f['model'])}</a>; {esc(_params(c))}. "
        f"Tracked by {esc(c.metric)} ({esc(c.unit)}).</p>\n"
        + (f'<ul class="steps">{steps}</ul>\n' if steps else '<p class="muted">No step.</p>\n')
        + '<h2>History</h2>\n<p class="muted">One point per run, oldest first, labelled by '
        "its commit and the date the run was added; the band and whiskers are the 95% "
        "intervals, a dashed line a detected step. Hover a point for its commit, versions, "
        "value and interval; click it for the run.</p>\n"
        f"{ch.history_chart(c, lambda p: UP + run_file(p.run_id))}\n{latest}\n<h2>Runs</h2>\n"
        "<table><thead><tr><th>#</th><th>run</th><th>added</th><th>commit</th>"
        f"<th>versions</th><th>{esc(c.metric)} ({esc(c.unit)}) [95% CI]</th></tr></thead>"
        f"<tbody>\n{runs}\n</tbody></table>"
    )
    return site_page(f"{c.key} - {title}", body, root=UP, site_title=title)


def _pct_names(c: CellData) -> list[str]:
    """The percentile names in the chart's order (increasing), those with no value last."""
    shown = [n for n, v, _, _ in c.percentiles if v > 0]
    shown.sort(key=ch.pct_order)
    return shown + [n for n, v, _, _ in c.percentiles if not v > 0]


def cell_pages(cells: Sequence[CellData], title: str) -> dict[str, str]:
    return {cell_file(c): _cell_page(c, title) for c in cells}


def _group(cells: Sequence[CellData]) -> dict[tuple[str, str, str], list[CellData]]:
    """The cells of one model by (host, metric, unit): what one chart can hold."""
    got: dict[tuple[str, str, str], list[CellData]] = {}
    for c in cells:
        got.setdefault((facets(c)["host"], c.metric, c.unit), []).append(c)
    return got


def _shared(group: Sequence[CellData]) -> tuple[str, ...]:
    """The parameters every cell of ``group`` shares (a line's name leaves them out); the
    host alone for a single cell."""
    if len(group) < 2:
        return ("host",)
    return tuple(k for k in PARAMS if len({facets(c)[k] for c in group}) == 1)


def _over_commits(group: Sequence[CellData], metric: str, unit: str) -> str:
    """Each cell of ``group`` as a line over the union of their runs (a commit axis)."""
    runs = sorted({run_key(p): p for c in group for p in c.points}.items())
    pos = {k: i for i, (k, _) in enumerate(runs)}
    same = _shared(group)
    series = [
        ch.Series(
            _params(c, same),
            tuple(
                ch.Mark(
                    pos[run_key(p)],
                    p.value,
                    p.low,
                    p.high,
                    ch.point_title(c, p),
                    UP + run_file(p.run_id),
                )
                for p in c.points
            ),
        )
        for c in group
    ]
    chart = ch.lines_chart(
        series, [ch.commit_label(p) for _, p in runs], y_title=f"{metric} ({unit})",
        x_title="commit (date of the run)", label=f"{metric} of each cell by commit",
    )  # fmt: skip
    return chart + ch.legend(series)


def _by_batch(group: Sequence[CellData], metric: str, unit: str) -> str:
    """The latest value of each cell against its batch size, a line per precision, mode and
    device; "" when the cells share one batch size."""
    batches = sorted(
        {facets(c)["batch"] for c in group}, key=lambda b: (not b.isdigit(), b.zfill(9))
    )
    if len(batches) < 2:
        return ""
    lines: dict[str, list[ch.Mark]] = {}
    for c in group:
        f, p = facets(c), c.points[-1]
        name = f"precision {f['precision']}, mode {f['mode']}, device {f['device']}"
        lines.setdefault(name, []).append(
            ch.Mark(batches.index(f["batch"]), p.value, p.low, p.high,
                    f"batch {f['batch']}\n{ch.point_title(c, p)}", UP + cell_file(c))
        )  # fmt: skip
    series = [ch.Series(n, tuple(sorted(ms, key=lambda m: m.i))) for n, ms in lines.items()]
    chart = ch.lines_chart(
        series, [(b, "") for b in batches], y_title=f"{metric} ({unit})", x_title="batch size",
        label=f"latest {metric} by batch size",
    )  # fmt: skip
    return "<h3>Latest run by batch size</h3>\n" + chart + ch.legend(series)


def model_pages(cells: Sequence[CellData], title: str) -> dict[str, str]:
    """One page per model: a chart per host and metric, each cell a line over the commits."""
    models: dict[str, list[CellData]] = {}
    for c in cells:
        models.setdefault(facets(c)["model"], []).append(c)
    pages = {}
    for model, mine in models.items():
        parts = []
        for (host, metric, unit), group in _group(mine).items():
            links = "".join(
                f'<li><a href="{UP}{cell_file(c)}">{esc(c.key)}</a></li>' for c in group
            )
            parts.append(
                f"<h2>Host {esc(host)}: {esc(metric)} ({esc(unit)})</h2>\n"
                "<h3>Every cell by commit</h3>\n"
                f"{_over_commits(group, metric, unit)}\n{_by_batch(group, metric, unit)}\n"
                f"<ul>{links}</ul>"
            )
        body = f"<h1>Model {esc(model)}</h1>\n" + "\n".join(parts)
        pages[model_file(model)] = site_page(f"{model} - {title}", body, root=UP,
                                             site_title=title)  # fmt: skip
    return pages


def run_pages(cells: Sequence[CellData], title: str) -> dict[str, str]:
    """One page per run: its commit, date and versions, each cell it measured, and links to
    the runs before and after it."""
    runs: dict[str, list[tuple[CellData, int]]] = {}
    for c in cells:
        for i, p in enumerate(c.points):
            runs.setdefault(p.run_id, []).append((c, i))
    order = sorted(runs, key=lambda r: run_key(runs[r][0][0].points[runs[r][0][1]]))
    pages = {}
    for k, run_id in enumerate(order):
        got = runs[run_id]
        first = got[0][0].points[got[0][1]]
        near = " · ".join(
            f'<a href="{UP}{run_file(order[j])}">{label} (run {esc(order[j])})</a>'
            for j, label in ((k - 1, "&larr; previous"), (k + 1, "next &rarr;"))
            if 0 <= j < len(order)
        )
        rows = []
        for c, i in got:
            p = c.points[i]
            step = next((st for st in c.steps if st.index == i), None)
            rows.append(
                f'<tr><td><a href="{UP}{cell_file(c)}#run-{esc(run_id)}">{esc(c.key)}</a></td>'
                f"<td>{esc(facets(c)['host'])}</td><td>{esc(c.metric)} ({esc(c.unit)})</td>"
                f"<td>{esc(ch.interval_text(p.value, p.low, p.high))}</td>"
                + (f'<td class="{esc(step.direction)}">{esc(ch.step_text(c, step))}</td>'
                   if step else "<td>-</td>") + "</tr>"
            )  # fmt: skip
        body = (
            f"<h1>Run {esc(run_id)}</h1>\n<p>Commit <code>{esc(first.commit or '-')}</code>, "
            f"added {esc(first.at)}; {esc(_versions(first))}.</p>\n<table><thead><tr>"
            "<th>cell</th><th>host</th><th>metric</th><th>value [95% CI]</th>"
            "<th>step starting here</th></tr></thead><tbody>\n" + "\n".join(rows)
            + f'\n</tbody></table>\n<p class="near">{near}</p>'
        )  # fmt: skip
        pages[run_file(run_id)] = site_page(f"run {run_id} - {title}", body, root=UP,
                                            site_title=title)  # fmt: skip
    return pages


def regressions_page(cells: Sequence[CellData], title: str) -> str:
    """Every detected step, the newest first: slower ones (regressions) and faster ones."""
    rows = "\n".join(
        f'<tr class="stepRow"><td>{esc(p.at[:19])}</td><td class="{esc(st.direction)}">'
        f"{esc(st.direction)} {100 * (st.ratio - 1):+.1f}%</td>"
        f'<td><a href="{cell_file(c)}">{esc(c.key)}</a></td><td>{esc(facets(c)["host"])}</td>'
        f"<td>{esc(ch.interval_text(st.before, None, None))} -&gt; "
        f"{esc(ch.interval_text(st.after, None, None))} {esc(c.unit)}</td>"
        f"<td><code>{esc((st.commit or p.commit or '-')[:10])}</code></td>"
        f"<td>{esc(_versions(p))}</td><td>{_run_link(p, '')}</td></tr>"
        for c, st, p in newest_steps(cells)
    )
    n = len(newest_steps(cells))
    body = (
        f"<h1>Detected steps</h1>\n<p>{n} step{'s' if n != 1 else ''}, the newest first: a "
        'change of level larger than the cell\'s noise, slower (<span class="regression">'
        'regression</span>) or faster (<span class="improvement">improvement</span>). '
        'Also as an <a href="feed.xml">Atom feed</a>.</p>\n<table><thead><tr><th>run added</th>'
        "<th>step</th><th>cell</th><th>host</th><th>before -&gt; after</th><th>commit</th>"
        f"<th>versions</th><th>run</th></tr></thead><tbody>\n{rows}\n</tbody></table>"
    )
    return site_page(f"regressions - {title}", body, root="", site_title=title)
