"""Plain text of numbers and tables: how a figure is rounded for a table, a list as inline
code, and a GitHub-flavoured markdown table. Nothing here knows what the numbers are."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["code_list", "fmt_num", "markdown_table"]


def fmt_num(v: float | None) -> str:
    """A number for a table: about 4 significant digits, no exponent; '-' for None."""
    if v is None or not math.isfinite(v):
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 10:
        return f"{v:.2f}"
    if a >= 1:
        return f"{v:.3f}"
    return f"{v:.4f}"


def code_list(items: Iterable[object]) -> str:
    """``items`` as inline code, comma-separated: a, b -> `a`, `b`."""
    return ", ".join(f"`{x}`" for x in items)


def markdown_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table ('|' in cells escaped)."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(cell(c) for c in line) + " |" for line in body)
    return "\n".join(out)
