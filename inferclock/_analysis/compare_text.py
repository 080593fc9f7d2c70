"""``Comparison.to_markdown``: one table of every cell with its state and the reason, the count
of each state, the lines skipped, the notes on rows, hosts and machines."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferclock._analysis.states import STATES
from inferclock._common.text import fmt_num, markdown_table, md_text

if TYPE_CHECKING:
    from inferclock._analysis.compare import CellComparison, Comparison


_RARE = ("error in A", "only in B")  # counted only when some cell is in them


def _value(metric: str, v: float) -> str:
    return f"{fmt_num(v)} /s" if metric == "throughput" else f"{fmt_num(v / 1e6)} ms"


def _judged(c: CellComparison, reason: str) -> list[str]:
    interval = "no interval" if c.state == "no interval" else f"[{c.ci_low:.3f}, {c.ci_high:.3f}]"
    state = c.state + (f" ({c.verdict} on the point)" if c.state == "no interval" else "")
    return [
        md_text(c.key),
        md_text(c.metric),
        _value(c.metric, c.value_a) + (" (multimodal)" if c.multimodal_a else ""),
        _value(c.metric, c.value_b) + (" (multimodal)" if c.multimodal_b else ""),
        f"{c.ratio:.3f} {interval}",
        f"**{state}**" if c.state in ("slower", "faster") else state,
        f"{c.runs_a}/{c.runs_b}",
        md_text(c.method) if c.state != "no interval" else "-",
        "" if c.state != "no interval" else md_text(reason),
    ]


def comparison_markdown(comp: Comparison) -> str:
    t = comp.threshold
    parts = [
        f"Ratio = B / A of each cell's metric (latency: above 1 is worse; throughput: "
        f"below 1 is worse), {comp.confidence:.0%} interval combining the variation within "
        f"and between processes; threshold {t:.1%} (same: interval within "
        f"[{1 / (1 + t):.3f}, {1 + t:.3f}]; slower/faster: entirely beyond it)."
    ]
    judged = {c.key: c for c in comp.cells}
    body = []
    for s in comp.states:
        c = judged.get(s.key)
        if c is not None:
            body.append(_judged(c, s.reason))
        else:
            body.append([md_text(s.key), "-", "-", "-", "-", s.state, "-", "-", md_text(s.reason)])
    if body:
        header = ["cell", "metric", "A", "B", "B/A [CI]", "state", "runs A/B", "width from"]
        parts.append(markdown_table([*header, "reason"], body))
    if not comp.cells:
        parts.append("_No cell measured successfully on both sides._")
    counts = {v: sum(s.state == v for s in comp.states) for v in STATES}
    worst = comp.worst_ratio
    parts.append(
        ", ".join(f"{n} {v}" for v, n in counts.items() if n or v not in _RARE)
        + (f"; worst slow-down {worst:.3f}x" if worst is not None else "")
    )
    if comp.skipped:
        parts.append(
            f"Lines that held no row ({len(comp.skipped)}):\n"
            + "\n".join(f"- {md_text(line)}" for line in comp.skipped)
        )
    parts += [md_text(n) for n in comp.notes]  # values from the files: text, never markup
    if comp.host_a is not None or comp.host_b is not None:
        parts.append(md_text(f"Hosts: A {comp.host_a or '(all)'}, B {comp.host_b or '(all)'}."))
    if comp.environment_diff:
        parts.append(md_text("Machines differ: " + "; ".join(comp.environment_diff)))
    return "\n\n".join(parts) + "\n"
