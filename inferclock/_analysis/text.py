"""Markdown of results: the cell summary, error rows, the open-loop cells' table.

This module owns how results read as GitHub-flavoured markdown; it computes nothing (pooling
is :class:`inferclock._analysis.table.ResultTable`'s; numbers and bare tables are
``_common.text``'s). ``ResultTable.to_markdown`` calls :func:`summary_markdown`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from inferclock._common.text import code_list, fmt_num, markdown_table, md_code, md_text
from inferclock._timing import schema as _schema

if TYPE_CHECKING:
    from inferclock._analysis.rates import RateCurve
    from inferclock._analysis.summary import CellSummary

__all__ = [
    "code_list",
    "errors_markdown",
    "fmt_num",
    "markdown_table",
    "open_loop_markdown",
    "summary_markdown",
]

_SUMMARY_HEADER = (
    "model",
    "device",
    "precision req/exec",
    "batch",
    "mode",
    "median ms [95% CI]",
    "p99 ms",
    "throughput /s [95% CI]",
    "n",
)


def _ms(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e6


def errors_markdown(rows: Sequence[Mapping[str, Any]]) -> str:
    """A table of error rows: cell key, process/repeat, kind and message."""
    body = [
        [
            md_text(_schema.get(r, "key")),
            md_text(f"{_schema.get(r, 'process', '-')}/{_schema.get(r, 'repeat', '-')}"),
            md_text(_schema.get(r, "error_kind") or "-"),
            md_text(" ".join(str(_schema.get(r, "error")).split())[:300]),
        ]
        for r in rows
    ]
    return markdown_table(["cell", "process/repeat", "kind", "error"], body)


def _early_stopping_text(s: CellSummary) -> str:
    if s.early_stopping_percentile is None:
        return "-"
    value = "none" if s.early_stopping_ns is None else fmt_num(_ms(s.early_stopping_ns))
    return f"p{s.early_stopping_percentile:g} {value}"


def _summary_line(s: CellSummary, multi: bool, verdicts: bool, es: bool = False) -> list[str]:
    ci = (
        f" [{fmt_num(_ms(s.ci95_low_ns))}, {fmt_num(_ms(s.ci95_high_ns))}]"
        if s.ci95_low_ns is not None and s.ci95_high_ns is not None
        else ""
    )
    if ci and s.ci_confidence is not None and s.ci_confidence < 0.95 - 1e-9:
        ci += f" ({s.ci_confidence:.1%} CI: too few samples for 95%)"
    tp_ci = (
        f" [{fmt_num(s.throughput_ci_low_fps)}, {fmt_num(s.throughput_ci_high_fps)}]"
        if s.throughput_ci_low_fps is not None and s.throughput_ci_high_fps is not None
        else ""
    )
    line = [
        md_text(s.model),
        md_text(s.device),
        md_text(f"{s.precision_requested}/{s.precision_executed or '?'}"),
        md_text(s.batch_size),
        md_text(s.mode_label),
        f"{fmt_num(_ms(s.median_ns))}{ci}"
        + (" **MULTIMODAL**" if s.multimodal else "")
        + (" **UNSTABLE**" if s.instability else ""),
        fmt_num(_ms(s.p99_ns)),
        *((_early_stopping_text(s),) if es else ()),
        f"{fmt_num(s.throughput_fps)}{tp_ci}",
        str(s.n),
    ]
    if multi:
        line += [f"{s.processes}/{s.runs}", "-" if s.spread is None else f"{s.spread:.1%}"]
    if verdicts:
        line.append(md_text(s.verdict or "-"))
    return line


def summary_markdown(
    summary: Sequence[CellSummary], error_rows: Sequence[Mapping[str, Any]] = ()
) -> str:
    """The cells as a table, then the error rows (if any) under a bold "Errors" line.

    The processes/runs and spread columns appear when any cell combines several runs; a
    verdict column when any (open-loop) cell has a verdict; an early-stopping column (LoadGen's
    estimate of the official percentile: latency p90, open-loop the run's) when any cell has
    one (beside p99); a host column (its label: worker or host name, else machine id) when
    the cells come from several hosts (never pooled);
    multimodal cells are marked, and listed under the table. An open-loop cell's mode carries
    its rate (``server @200 qps``) and its latencies are due-time ones.
    """
    parts: list[str] = []
    if summary:
        multi = any(s.runs > 1 for s in summary)
        hosts = len({(s.host_id, s.host) for s in summary}) > 1
        verdicts = any(s.verdict is not None for s in summary)
        es = any(s.early_stopping_percentile is not None for s in summary)
        header = [
            *_SUMMARY_HEADER,
            *(("processes/runs", "spread") if multi else ()),
            *(("verdict",) if verdicts else ()),
        ]
        if es:  # beside the plain p99
            header.insert(header.index("p99 ms") + 1, "early-stopping estimate ms")
        body = [_summary_line(s, multi, verdicts, es) for s in summary]
        if hosts:
            header.insert(0, "host")
            body = [[md_text(s.host), *line] for s, line in zip(summary, body, strict=True)]
        parts.append(markdown_table(header, body))
        modal = [s for s in summary if s.multimodal]
        if modal:
            parts.append(
                f"**Multimodal ({len(modal)} cells):** their processes fell into separate speed "
                "modes; the combined figure is not a typical one: "
                + code_list(s.key for s in modal)
            )
        shaky = [s for s in summary if s.instability]
        if shaky:
            parts.append(
                f"**Unstable ({len(shaky)} cells):** "
                + "; ".join(f"{md_code(s.key)}: {md_text(', '.join(s.instability))}" for s in shaky)
            )
    else:
        parts.append("_No successful measurements._")
    if error_rows:
        parts.append(f"**Errors ({len(error_rows)} rows):**")
        parts.append(errors_markdown(error_rows))
    return "\n\n".join(parts) + "\n"


def _us(ns: float | None) -> float | None:
    return None if ns is None else ns / 1e3


_OPEN_LOOP_HEADER = (
    "cell",
    "offered qps (asked / taken up)",
    "achieved qps",
    "due p50 ms",
    "due p99 ms [95% CI]",
    "issue p50 ms",
    "issue p99 ms",
    "issue delay p50/p99 us",
    "max queue",
    "verdict",
    "reason",
)


def open_loop_markdown(curves: Sequence[RateCurve]) -> str:
    """The open-loop cells, one line each (grouped by curve, ascending rate), then each
    curve's knee and peak. Due-time latency runs from a query's due time (queueing in it),
    issue-time from its start on an infer request; the issue delay is the issuer's lateness."""
    body = []
    notes = []
    for c in curves:
        for p in c.points:
            ci = (
                f" [{fmt_num(_ms(p.due_p99_ci[0]))}, {fmt_num(_ms(p.due_p99_ci[1]))}]"
                if p.due_p99_ci
                else ""
            )
            body.append(
                [
                    md_text(f"{c.model} {c.device} {c.precision} b{c.batch_size} {c.mode}"),
                    f"{p.qps:g} / {fmt_num(p.offered_qps)}",
                    fmt_num(p.achieved_qps),
                    fmt_num(_ms(p.due_p50_ns)),
                    fmt_num(_ms(p.due_p99_ns)) + ci,
                    fmt_num(_ms(p.issue_p50_ns)),
                    fmt_num(_ms(p.issue_p99_ns)),
                    f"{fmt_num(_us(p.delay_p50_ns))} / {fmt_num(_us(p.delay_p99_ns))}",
                    "-" if p.max_queue_depth is None else str(p.max_queue_depth),
                    md_text(p.verdict or "-"),
                    md_text(" ".join((p.reason or "-").split())[:300]),
                ]
            )
        knee, peak = c.knee_qps, c.peak_qps
        notes.append(
            f"- {md_text(c.title)}"
            + (f" [{md_text(c.host)}]" if c.host and len({x.host for x in curves}) > 1 else "")
            + ": knee "
            + ("-" if knee is None else f"{knee:g} qps")
            + ", peak (highest VALID) "
            + ("-" if peak is None else f"{peak:g} qps")
            + (f", bound {', '.join(f'{b:g}' for b in c.bounds_ms)} ms" if c.bounds_ms else "")
        )
    return markdown_table(_OPEN_LOOP_HEADER, body) + "\n\n" + "\n".join(notes)
