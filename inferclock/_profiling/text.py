"""How a profile and a profile diff read: the summary text the CLI prints and the markdown a
report embeds. Nothing is computed here beyond formatting (``_profiling.record`` and
``_profiling.diff`` own the figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from inferclock._common.text import fmt_num, markdown_table, md_text

if TYPE_CHECKING:
    from inferclock._profiling.diff import DiffRow, ProfileDiff
    from inferclock._profiling.record import Median, Profile, Total

#: The counters truncate each layer's time to whole microseconds: 0.5 us lost per executed
#: layer and inference on average.
TRUNCATION_NS = 500.0


def ms(ns: float) -> str:
    return fmt_num(ns / 1e6)


def with_ci(m: Median) -> str:
    """``8.12 [8.05, 8.20]`` (ms)."""
    return f"{ms(m.ns)} [{ms(m.low_ns)}, {ms(m.high_ns)}]"


def columns(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table, columns padded, numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths, strict=True)
        ).rstrip()

    return "\n".join(line(r) for r in cells)


def _numeric(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or text[0] in "-+") and text != "-"


def difference_text(p: Profile) -> str:
    """The time in no layer, and what it is made of."""
    d, e2e = p.unaccounted, p.end_to_end_rounds
    n = len(p.executed_layers)
    share = d.ns / e2e.ns if e2e.ns > 0 else float("nan")
    return (
        f"{ms(d.ns)} ms [{ms(d.low_ns)}, {ms(d.high_ns)}] of the end-to-end mean "
        f"({share:.1%}) is in no layer: the infer request's own work around the graph (input "
        "and output tensors checked and copied, the plugin's per-inference set-up), the gaps "
        "between layers (threads handing over from one kernel to the next), the counters' "
        f"truncation to whole microseconds (about {TRUNCATION_NS * n / 1e3:.0f} us over {n} "
        "executed layers) and the Python call around infer() (a few us)"
    )


def _head(p: Profile, md: bool = False) -> list[str]:
    executed = p.precision_executed or "unknown"
    lit = md_text if md else str  # markdown: the model's and device's names are literal
    return [
        f"Profile of {lit(p.model)} on {lit(p.device)}: {lit(p.precision_requested)} "
        f"requested, {lit(executed)} "
        f"executed, batch {p.batch_size}; {p.iterations} iterations in {p.rounds} rounds "
        f"(OpenVINO {p.openvino}). Counters on: this is not the model's latency (ic.run "
        "times that).",
        f"end to end: median {with_ci(p.end_to_end)} ms over {p.end_to_end.n} iterations",
        f"layers' sum: {with_ci(p.layers_total)} ms beside an end-to-end mean of "
        f"{with_ci(p.end_to_end_rounds)} ms (medians over {p.rounds} rounds of the same "
        "iterations)",
        difference_text(p) + ".",
    ]


def _layer_rows(p: Profile, top: int, md: bool = False) -> list[list[str]]:
    whole = p.layers_total.ns
    lit = md_text if md else str
    return [
        [
            lit(layer.name), lit(layer.type), lit(layer.kernel), lit(layer.precision or "-"),
            with_ci(layer.real),
            f"{layer.real.ns / whole:.1%}" if whole > 0 else "-",
        ]
        for layer in p.top(top)
    ]  # fmt: skip


def _total_rows(totals: Sequence[Total], md: bool = False) -> list[list[str]]:
    lit = md_text if md else str
    return [[lit(t.key), str(t.layers), with_ci(t.time), f"{t.share:.1%}"] for t in totals]


_LAYER_HEAD = ("layer", "type", "kernel", "precision", "ms [95% CI]", "share")


def summary_text(p: Profile, top: int = 10) -> str:
    lines = _head(p)
    lines += ["", f"Top {min(top, len(p.executed_layers))} layers:"]
    lines.append(columns(_LAYER_HEAD, _layer_rows(p, top)))
    lines += [
        "",
        "By layer type:",
        columns(("type", "layers", "ms", "share"), _total_rows(p.by_type())),
    ]
    lines += [
        "",
        "By kernel:",
        columns(("kernel", "layers", "ms", "share"), _total_rows(p.by_kernel())),
    ]
    return "\n".join(lines)


def profile_markdown(p: Profile, top: int = 10) -> str:
    head = _head(p, md=True)
    lines = [f"### {md_text(p.label)}", "", head[0], "", *[f"- {x}" for x in head[1:]], ""]
    lines += [f"Top {min(top, len(p.executed_layers))} layers:", ""]
    lines.append(markdown_table(list(_LAYER_HEAD), _layer_rows(p, top, md=True)))
    lines += ["", "By layer type:", ""]
    by_type = _total_rows(p.by_type(), md=True)
    lines.append(markdown_table(["type", "layers", "ms [95% CI]", "share"], by_type))
    lines += ["", "By kernel:", ""]
    by_kernel = _total_rows(p.by_kernel(), md=True)
    lines.append(markdown_table(["kernel", "layers", "ms [95% CI]", "share"], by_kernel))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- diffs


def _diff_row(r: DiffRow) -> list[str]:
    speed = f"{r.speedup:.2f}x" if r.speedup == r.speedup else "-"  # NaN: no time in B
    return [r.key, r.type, r.matched, r.precision_a or "-", r.precision_b or "-",
            ms(r.a_ns), ms(r.b_ns), speed, f"{r.share_of_a:+.1%}"]  # fmt: skip


_DIFF_HEAD = ("layer or type", "type", "matched by", "prec A", "prec B", "A ms", "B ms",
              "speedup", "change, of A's total")  # fmt: skip


def diff_head(d: ProfileDiff) -> list[str]:
    unit = "per sample" if d.per_sample else "per inference"
    return [
        f"A: {d.a_label}; B: {d.b_label}. Times {unit}; speedup = A / B; change = (B - A) as "
        "a share of A's layers' total.",
        f"layers' total: {ms(d.total_a_ns)} -> {ms(d.total_b_ns)} ms "
        f"({d.total_speedup:.2f}x); end to end: {ms(d.e2e_a_ns)} -> {ms(d.e2e_b_ns)} ms "
        f"({d.e2e_speedup:.2f}x)",
        f"{d.matched_layers} layers matched by name and type; the rest ({d.unmatched_a} "
        f"layers of A, {d.unmatched_b} of B) pooled by layer type in {d.by_type_rows} row(s)",
    ]


def diff_summary(d: ProfileDiff, top: int = 15) -> str:
    lines = diff_head(d)
    lines += [
        "",
        f"Largest changes (top {top}):",
        columns(_DIFF_HEAD, [_diff_row(r) for r in d.largest(top)]),
    ]
    lines += ["", "By layer type (all layers):"]
    lines.append(columns(_DIFF_HEAD, [_diff_row(r) for r in d.by_type]))
    return "\n".join(lines)


def diff_markdown(d: ProfileDiff, top: int = 15) -> str:
    lines = [f"### {d.a_label} vs {d.b_label}", "", *[f"- {x}" for x in diff_head(d)], ""]
    lines += [f"Largest changes (top {top}):", ""]
    lines.append(markdown_table(list(_DIFF_HEAD), [_diff_row(r) for r in d.largest(top)]))
    lines += ["", "By layer type (all layers):", ""]
    lines.append(markdown_table(list(_DIFF_HEAD), [_diff_row(r) for r in d.by_type]))
    return "\n".join(lines) + "\n"
