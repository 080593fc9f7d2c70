"""Plots and a markdown report of a result table.

``report(table, out_dir)`` writes, as PNG and SVG:

* ``latency``: median latency with 95% CI bars and p99 markers against batch size, one line
  per precision (and mode: latency in the precision's colour, filled circles, solid;
  throughput darker, open squares, dashed; ``_render.ticks``), one panel per (model, device);
* ``throughput``: samples per second against batch size, laid out the same way;
* ``latency_cdf``: the latency distribution of each cell, one panel per (model, device, mode,
  batch size), one curve per precision, from the raw samples when the rows saved them, else
  drawn through the recorded percentiles (marked "approx.");
* ``startup``: read, reshape, compile and first inference of each cell as stacked bars;
* ``serve_latency`` (when the table has open-loop cells: server, multistream): due-time and
  issue-time p50/p99 against the offered rate, with the knee, the peak and the latency bound,
  and a table of those cells (``_render.serve_plots`` defines the knee and the peak);
* ``tuning`` (when throughput rows differ in streams, requests or threads, as a tune file's
  do): throughput over streams x requests;
* ``profile_top_layers`` and ``profile_by_type`` (given ``profiles=``, ``ic.profile``
  results): each profile's top layers, and every profile's time by layer type
  (``_render.profile_plots``), in a "Profiles" section with their tables;
* ``phases`` (given ``phases=``, ``{batch size: ic.measure result}`` of a step with
  ``ic.phase`` marks): a stacked bar of the step's phases per batch size (``_render.phase_plots``),
  in a "Phases" section with their table;

and ``report.md`` with the summary table, the executed precisions, the environment, the
images and the error rows. Open-loop cells stay out of the batch-size plots and the CDFs:
their latencies are due-time ones at a given rate, drawn against the rate instead; so do
the cells of one configuration (a tune point's ``|streams=2,requests=4`` key). Axes go
logarithmic where the values span more than 20x, labelled with plain numbers (``600``, not
``6x10^2``). The figures themselves are drawn by ``_render.plots`` and
``_render.serve_plots``; this module assembles the markdown around them.
Past 24 panels a figure draws every cell in one panel (``_render.overview_plots``).

Several hosts (two machines, or two Dask workers of a cluster sweep on one; ``_platform.host``) are
never pooled: the summary table gets a host column, ``latency``, ``throughput``,
``latency_cdf`` and ``startup`` are drawn once per host, each file named after its host
(``latency_w1.png``, ``latency_w2.png``; ``_render.plot_hosts``), and ``serve_latency`` and
``tuning`` have a panel per host, its name in the panel's title. One host: the files above.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferclock._analysis.rates import group, rate_curves, tune_surfaces
from inferclock._analysis.table import CellSummary, ResultTable
from inferclock._analysis.text import errors_markdown, open_loop_markdown
from inferclock._common.errors import ConfigError
from inferclock._common.outfile import write_atomic
from inferclock._common.text import code_list, markdown_table, md_code, md_text
from inferclock._platform import host as _host
from inferclock._profiling.record import Profile, load_all
from inferclock._render.literal import literal_text
from inferclock._render.overview_plots import (
    COMBINED_NOTE,
    PANELS_MAX,
    plot_cdf,
    plot_startup,
    plot_vs_batch,
)
from inferclock._render.plot_hosts import HostSlice, host_slices
from inferclock._render.plots import LATENCY, THROUGHPUT, cell_name, figure_cls, prepare_dir
from inferclock._render.serve_plots import plot_tuning, plot_vs_rate
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from inferclock._timing.measure import Measurement

__all__ = ["report"]


def _env_lines(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_env_lines(v, name + "."))
            continue
        if isinstance(v, (list, tuple)):
            text = ", ".join(str(x) for x in v)
            if len(text) > 160:
                text = text[:157] + f"... ({len(v)} items)"
        else:
            text = json.dumps(v) if not isinstance(v, str) else v
        out.append((name, text))
    return out


def _hints_text(rows: Sequence[Mapping[str, Any]]) -> str:
    hints = {str(h) for r in rows if (h := _schema.get(r, "precision_hint"))}
    return "/".join(sorted(hints)) or "-"


def _mix_text(precision_mix: Any) -> str:
    """ "f32: 53 ops, 100% MACs" from a row's ``precision_mix`` (its ``mix`` part)."""
    mix = precision_mix.get("mix") if isinstance(precision_mix, Mapping) else None
    if not isinstance(mix, Mapping) or not mix:
        return "-"
    parts = []
    items = sorted(
        mix.items(),
        key=lambda kv: -(kv[1].get("mac_share") or 0) if isinstance(kv[1], Mapping) else 0,
    )
    for prec, info in items:
        if isinstance(info, Mapping):
            bits = []
            if info.get("ops") is not None:
                bits.append(f"{info['ops']} ops")
            share = info.get("mac_share")
            if isinstance(share, (int, float)):
                bits.append(f"{share:.0%} MACs")
            parts.append(f"{prec}: " + ", ".join(bits) if bits else str(prec))
        else:
            parts.append(f"{prec}: {info}")
    return "; ".join(parts)


def _images_md(title: str, names: Sequence[str]) -> str:
    png = next(n for n in names if n.endswith(".png"))
    svg = next(n for n in names if n.endswith(".svg"))
    return f"![{title}]({png})\n\n[{title} (SVG)]({svg})"


def _images_section(heading: str, title: str, names: Sequence[str]) -> list[str]:
    """A ``###`` section showing one plot, or nothing when the plot was not drawn."""
    return ["", f"### {heading}", "", _images_md(title, names)] if names else []


def _cdf_section(
    fig_cls: type[Figure], t: ResultTable, cells: Sequence[CellSummary], out: Path, h: HostSlice
) -> list[str]:
    """The latency CDFs of ``cells`` (host ``h``'s) and where each came from; [] without
    cells."""
    if not cells:
        return []
    names, sources = plot_cdf(fig_cls, t, cells, out, h)
    md = ["", "### Latency distributions" + _on(h), ""]
    if names:
        md.append(_images_md("Latency CDF", names))
    notes = []
    if sources["raw"]:
        notes.append(f"{len(sources['raw'])} cell(s) drawn from raw per-inference samples")
    if sources["percentiles"]:
        notes.append(
            "approximated from recorded percentiles (no raw latencies saved): "
            + code_list(sources["percentiles"])
        )
    if sources["skipped"]:
        notes.append(
            "skipped (neither raw samples nor percentiles): " + code_list(sources["skipped"])
        )
    return [*md, "", "CDF sources: " + "; ".join(notes) + "."]


def _on(h: HostSlice) -> str:
    """A heading's host suffix: `` on w1`` (nothing with one host)."""
    return "" if h.label is None else f" on {md_text(h.label)}"


def _plots_section(
    fig_cls: type[Figure], t: ResultTable, summ: Sequence[CellSummary], out: Path
) -> list[str]:
    """The batch-size, tuning, CDF and start-up figures: with several hosts, one set per host."""
    slices = host_slices(summ)
    md = ["", "## Plots"]
    if len(slices) > 1:
        md += [
            "",
            f"Results of {len(slices)} hosts, never pooled: the latency, throughput, "
            "distribution and start-up figures are drawn once per host (file names end in the "
            "host's name); open-loop and tuning figures have a panel per host. Hosts: "
            + ", ".join(f"{md_text(h.label)} ({md_code(h.slug)})" for h in slices)
            + ".",
        ]
    closed = [s for s in summ if s.qps is None and s.config is None]
    if len(summ) > PANELS_MAX:
        md += ["", COMBINED_NOTE]
    for h in slices:
        latency = plot_vs_batch(fig_cls, h.of(closed), out, LATENCY, h)
        md += _images_section("Latency vs batch size" + _on(h), "Latency vs batch size", latency)
        throughput = plot_vs_batch(fig_cls, h.of(closed), out, THROUGHPUT, h)
        md += _images_section("Throughput vs batch size" + _on(h), "Throughput", throughput)
    surfaces = plot_tuning(fig_cls, tune_surfaces(t), out)
    md += _images_section("Tuning surface", "Throughput by streams x requests", surfaces)
    for h in slices:
        md += _cdf_section(fig_cls, t, h.of(closed), out, h)
    for h in slices:
        startup = plot_startup(fig_cls, h.of(summ), out, h)
        md += _images_section("Start-up" + _on(h), "Start-up breakdown", startup)
    return md


def _open_loop_section(fig_cls: type[Figure], t: ResultTable, out: Path) -> list[str]:
    """The open-loop cells' table and latency-vs-rate figure; [] when there are none."""
    curves = rate_curves(t)
    if not curves:
        return []
    md = [
        "",
        "## Open-loop runs",
        "",
        "Offered rate: the schedule's (asked) rate, then the rate the issuer took queries up "
        "at; due-time latency counts from each query's due time (its queueing included), "
        "issue-time latency from its start on an infer request (what a closed-loop tool "
        "reports); issue delay: how late the issuer took a query up. Knee: the lowest rate "
        "whose due-time p99 exceeds twice its value at the lowest rate; peak: the highest "
        "VALID rate.",
        "",
        open_loop_markdown(curves),
    ]
    names = plot_vs_rate(fig_cls, curves, out)
    return md + _images_section("Latency vs offered rate", "Latency vs offered rate", names)


def _profiles_section(fig_cls: type[Figure], profiles: Sequence[Profile], out: Path) -> list[str]:
    """The profiles' figures (top layers, time by layer type) and their tables."""
    from inferclock._render.profile_plots import plot_by_type, plot_top_layers

    md = ["", "## Profiles", "", PROFILES_NOTE]
    md += _images_section("Top layers", "Top layers", plot_top_layers(fig_cls, profiles, out))
    md += _images_section(
        "Time by layer type", "Time by layer type", plot_by_type(fig_cls, profiles, out)
    )
    for p in profiles:
        md += ["", p.to_markdown().rstrip()]
    return md


PROFILES_NOTE = (
    "Per-layer performance counters (`ic.profile`), run apart from the measurements above: "
    "counters cost time, so a profile's end-to-end time is not a latency figure. Layer times "
    "are medians over rounds (each on a fresh compile) with 95% intervals; see "
    "docs/profiling.md."
)


PHASES_NOTE = (
    "A timed callable's phases (`ic.phase` / `ic.mark` inside `ic.measure`), per batch size: "
    "each phase's time per step, stacked, and its share of the step; `(other)` is the step's "
    "time outside every phase. See docs/profiling.md."
)


@literal_text  # model names and other values are labels, never mathtext
def report(
    table: ResultTable | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    title: str = "inferclock report",
    profiles: Sequence[Profile | str | os.PathLike[str]] | Profile | None = None,
    phases: Mapping[int, Measurement] | None = None,
) -> Path:
    """Write plots (PNG and SVG) and ``report.md`` for ``table`` into ``out_dir``.

    ``table`` is a ResultTable, a results file path, or a list of paths. ``out_dir`` is
    created if needed. Returns the path of ``report.md``. Tables with only error rows, or a
    single cell, give a report too (without the plots that have nothing to show).
    ``profiles``: ``ic.profile`` results (or their saved JSON paths) to add as a "Profiles"
    section: each one's top layers and time by layer type, drawn and tabulated.
    ``phases``: ``{batch size: ic.measure result}`` of a step timed with ``ic.phase`` marks,
    added as a "Phases" section: a stacked bar per batch size and a table of each phase's
    median, interval and share.
    """
    profile_list = load_all(profiles) if profiles else []
    if phases is not None:
        from inferclock._render.phase_plots import checked

        checked(phases, "phases")  # refused before anything is drawn
    if isinstance(table, ResultTable):
        t = table
    elif isinstance(table, (str, os.PathLike)):
        t = ResultTable.load(table)
    elif isinstance(table, Sequence):
        t = ResultTable.load(*table)
    else:
        raise ConfigError(
            f"report: expected a ResultTable or results file path(s), got {type(table).__name__}"
        )
    out = prepare_dir(out_dir)
    fig_cls = figure_cls()
    summ = t.summary()
    ok, errs = t.ok(), t.errors()

    md = [f"# {md_text(title)}", ""]
    src = code_list(t.paths) or "(in-memory table)"
    bad = len(t.invalid())
    md.append(
        f"Source: {src}. {len(t)} rows: {len(ok)} measured, {len(errs)} errors, "
        + (f"{bad} not valid measurements (left out), " if bad else "")
        + f"{len(summ)} cells."
    )
    md += [line for note in t.notes() for line in ("", f"**Note:** {md_text(note)}.")]
    interrupted = [_schema.at(r, "key") for r in ok if _schema.get(r, "interrupted")]
    if interrupted:
        md.append("")
        md.append("Interrupted (partial) measurements: " + code_list(interrupted))
    md += ["", "## Results", "", t.to_markdown(errors=False).rstrip()]
    if any(s.runs > 1 for s in summ):
        md += [
            "",
            "Cells with several runs (processes x repeats): the median and throughput combine "
            "the runs on a log scale, and their 95% intervals the variation within and "
            "between processes (the larger of the two standard errors; t quantile with k - 1 "
            "degrees of freedom when the spread between processes sets the width); spread = "
            "(max - min) / median of the run medians. **MULTIMODAL** marks a cell whose "
            "processes fall into separate speed modes (two groups more than 10% apart, their "
            "intervals disjoint): its combined figure is not a typical one; a spread between "
            "processes is not flagged, the interval carries it (see docs/statistics.md).",
        ]

    if summ:
        md += _open_loop_section(fig_cls, t, out)
        md += _plots_section(fig_cls, t, summ, out)

        md += ["", "## Executed precisions", ""]
        rows_of = group(ok, lambda r: (_schema.at(r, "key"), *_host.group_key(r)))
        several = len(host_slices(summ)) > 1
        md.append(
            markdown_table(
                ["cell", "requested", "executed", "hint", "ops by precision"],
                [
                    [
                        md_text(cell_name(s)) + (f" [{md_text(s.host)}]" if several else ""),
                        md_text(s.precision_requested),
                        md_text(s.precision_executed or "-"),
                        md_text(_hints_text(rows_of[(s.key, s.host_id, s.host)])),
                        md_text(
                            _mix_text(
                                _schema.get(rows_of[(s.key, s.host_id, s.host)][0], "precision_mix")
                            )
                        ),
                    ]
                    for s in summ
                ],
            )
        )
    else:
        md += ["", "No cell was measured successfully, so there are no plots."]

    if errs:
        md += ["", "## Errors", "", errors_markdown(errs.rows)]
    if profile_list:
        md += _profiles_section(fig_cls, profile_list, out)
    if phases:
        from inferclock._render.phase_plots import phase_table, plot_phases

        md += ["", "## Phases", "", PHASES_NOTE]
        md += _images_section("Phases of a step", "Phases of a step", plot_phases(phases, out))
        md += ["", phase_table(phases).rstrip()]

    md += ["", "## Environment"]
    for i, h in enumerate(t.headers):
        label = f" ({md_text(t.paths[i].name)})" if len(t.headers) > 1 and i < len(t.paths) else ""
        lines = [(k, v) for k, v in _env_lines(h) if k != "kind"]
        md += [
            "",
            f"### Header{label}",
            "",
            markdown_table(["field", "value"], [[md_text(k), md_text(v)] for k, v in lines]),
        ]
    if not t.headers:
        md += ["", "(no header: in-memory table)"]
    path = write_atomic(out / "report.md", "\n".join(md) + "\n")  # never through a symlink
    from inferclock._render.html import write_html

    write_html(path, title)  # report.html beside it: the same page, self-contained
    return path
