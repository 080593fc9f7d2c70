"""Plain text of numbers and tables: how a figure is rounded for a table, a list as inline
code, a GitHub-flavoured markdown table, and values from results files as literal markdown
(``md_text``, ``md_code``: data is never markup). Nothing here knows what the numbers are."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

__all__ = ["code_list", "fmt_num", "markdown_table", "md_code", "md_text"]

# Every character a line break to some reader (str.splitlines splits on \x1c-\x1e, \x85,
# \u2028 and \u2029 too) or invisible: a value is one line of text.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# What starts markup somewhere (links, images, code, emphasis, raw HTML and entities, tables,
# headings, GitHub's math and strikethrough); ``_`` only where it can open or close emphasis
# (GFM never reads ``resnet_50``'s as emphasis), so common names stay readable.
_MD_SPECIAL = re.compile(r"[\\`*\[\]<>#|!$&~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def one_line(value: object) -> str:
    """``str(value)`` with each run of line breaks and control characters made one space."""
    return _BREAKS.sub(" ", str(value))


def md_text(value: object) -> str:
    """``value`` as literal markdown text on one line: every character that could start markup
    backslash-escaped (a model named ``[x](javascript:...)`` stays that text, never a link)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(), one_line(value))


def md_code(value: object) -> str:
    """``value`` as one inline code span on one line, whatever backticks it holds: the fence
    is longer than its longest run of backticks, padded when it starts or ends with one."""
    text = one_line(value)
    if not text.strip(" "):  # all spaces: CommonMark strips nothing (empty: one space shown)
        return f"`{text or ' '}`"
    runs = [len(r) for r in re.findall(r"`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


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
    """``items`` as inline code, comma-separated: a, b -> `a`, `b` (each literal: ``md_code``)."""
    return ", ".join(md_code(x) for x in items)


# A '|' after an even number of backslashes (none included) still splits a table's cells.
_UNESCAPED_BAR = re.compile(r"(?<!\\)((?:\\\\)*)\|")


def markdown_table(header: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    """A GitHub-flavoured markdown table ('|' in cells escaped, unless ``md_text`` already
    did; line breaks made spaces). Cells are markdown: pass values from files through
    ``md_text`` / ``md_code``."""

    def cell(s: str) -> str:
        return _UNESCAPED_BAR.sub(r"\1\\|", one_line(s))

    out = ["| " + " | ".join(cell(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out.extend("| " + " | ".join(cell(c) for c in line) + " |" for line in body)
    return "\n".join(out)
