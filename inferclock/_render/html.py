"""``report.html``: the markdown that :func:`inferclock._render.report.report` writes, as one
self-contained HTML page.

This module owns the small converter for the markdown the report emits (headings, paragraphs,
``- `` lists, GitHub tables with ``\\|`` escapes, backslash escapes, images, links, code spans
and ``**bold**``) and the page around it. Values from results files reach it escaped
(``_common.text.md_text``) and leave it as text; on top of that, a link or an image is live
only when its target is a plain relative path inside the report's folder: no ``javascript:``,
``data:`` or other scheme, no absolute path, no ``..``, no symlink out of the folder. An
image is inlined (its SVG sibling when there is one, else the file itself) as a ``data:``
URI, so the page needs nothing beside it; the report's own links stay relative.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from inferclock._common.outfile import write_atomic

__all__ = ["markdown_to_html", "page", "write_html"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;
padding:0 1rem;color:#1f2328;line-height:1.45}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}
code{background:#f6f8fa;padding:0 .25rem;border-radius:3px;font-size:.88em}
img,svg{max-width:100%;height:auto}
.regression{color:#b3261e;font-weight:600}.improvement{color:#1a7f37;font-weight:600}
.muted{color:#656d76}
nav{margin-bottom:1rem}
"""

# One token of inline markdown, tried in this order at each position: a backslash escape, a
# code span (its fence a whole run of backticks), an image, a link, bold.
_INLINE = re.compile(
    r"\\(?P<esc>[!-/:-@\[-`{-~])"
    r"|(?<!`)(?P<fence>`+)(?!`)(?P<code>.+?)(?<!`)(?P=fence)(?!`)"
    r"|!\[(?P<alt>(?:\\.|[^\]\\])*)\]\((?P<src>[^()\s]+)\)"
    r"|\[(?P<label>(?:\\.|[^\]\\])+)\]\((?P<href>[^()\s]+)\)"
    r"|\*\*(?P<bold>(?:\\.|[^\\])+?)\*\*"
)
_MIME = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}
# The only targets a link or an image may have: a relative path of plain names (no scheme, no
# leading '/', no '..' or hidden segment), so never javascript:, data:, file: or another folder.
_RELATIVE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def page(title: str, body: str) -> str:
    """A complete HTML document: ``body`` under the shared inline stylesheet, no external asset."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _inside(target: str, base: Path | None) -> Path | None:
    """``base / target`` when ``target`` is a plain relative path that stays in ``base`` (its
    symlinks resolved), else None. Without ``base``: ``Path(target)`` when plain."""
    if not _RELATIVE.fullmatch(target):
        return None
    if base is None:
        return Path(target)
    root = base.resolve()
    path = (root / target).resolve()
    return path if path.is_relative_to(root) else None


def _data_uri(src: str, base: Path) -> str | None:
    """The image ``src`` (its ``.svg`` sibling preferred) as a data URI when it is a regular
    file in ``base``, symlinks resolved; None otherwise (never a file from another folder)."""
    path = _inside(src, base)
    if path is None:
        return None
    root = base.resolve()
    for chosen in (path.with_suffix(".svg"), path):
        real = chosen.resolve()
        mime = _MIME.get(real.suffix.lower())
        if mime is not None and real.is_relative_to(root) and real.is_file():
            return f"data:{mime};base64," + base64.b64encode(real.read_bytes()).decode("ascii")
    return None


def _image(alt: str, src: str, base: Path | None) -> str | None:
    """An ``<img>`` of a file in the report's folder, inlined; None when not allowed."""
    uri = (_data_uri(src, base) if base is not None else None) or (
        src if base is None and _inside(src, None) else None
    )
    if uri is None:
        return None
    return f'<img alt="{html.escape(_unescape(alt), quote=True)}" src="{html.escape(uri)}">'


def _unescape(text: str) -> str:
    """Markdown text without its backslash escapes (for attribute values)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text)


def _code(text: str) -> str:
    """A code span's content: one space stripped from each end when both have one."""
    if len(text) >= 2 and text[0] == text[-1] == " " and text.strip(" "):
        text = text[1:-1]
    return f"<code>{html.escape(text)}</code>"


def inline(text: str, base: Path | None = None) -> str:
    """One line of markdown text as HTML: backslash escapes, code spans, images, links and bold;
    the rest escaped. Links and images are live only when their target is a relative path in
    ``base`` (images inlined from it); any other is shown as its text."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        g = m.groupdict()
        if g["esc"] is not None:
            out.append(html.escape(g["esc"]))
        elif g["fence"] is not None:
            out.append(_code(g["code"]))
        elif g["src"] is not None:
            out.append(_image(g["alt"], g["src"], base) or html.escape(m.group()))
        elif g["href"] is not None:
            if _inside(g["href"], base) is None:
                out.append(html.escape(m.group()))
            else:
                label = inline(g["label"], base)
                out.append(f'<a href="{html.escape(g["href"], quote=True)}">{label}</a>')
        else:
            out.append(f"<strong>{inline(g['bold'], base)}</strong>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


# A '|' after an even number of backslashes (none included) is a border; after an odd number
# it is escaped: a bar in the cell.
_BORDER = re.compile(r"(?<!\\)(?:\\\\)*\|")
_ESCAPED_BAR = re.compile(r"(?<!\\)((?:\\\\)*)\\\|")


def _cells(line: str) -> list[str]:
    """A table row's cells, ``\\|`` read as a literal bar (in code spans too, as GFM does)."""
    inner = line.strip().removeprefix("|")
    cells, start = [], 0
    for m in _BORDER.finditer(inner):
        cells.append(inner[start : m.end() - 1])
        start = m.end()
    cells.append(inner[start:])
    if len(cells) > 1 and cells[-1] == "":  # the row's closing border
        cells.pop()
    return [_ESCAPED_BAR.sub(r"\1|", c.strip()) for c in cells]


def _table(lines: list[str], base: Path | None) -> str:
    head = "".join(f"<th>{inline(c, base)}</th>" for c in _cells(lines[0]))
    body = "".join(
        "<tr>" + "".join(f"<td>{inline(c, base)}</td>" for c in _cells(line)) + "</tr>\n"
        for line in lines[2:]
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def markdown_to_html(md: str, base: Path | None = None) -> str:
    """The report's markdown as an HTML fragment; images read relative to ``base``."""
    blocks: list[str] = []
    lines = md.split("\n")  # only a newline ends a line (splitlines splits on \u2028 too)
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif m := re.match(r"(#{1,6})\s+(.*)", line):
            n = len(m.group(1))
            blocks.append(f"<h{n}>{inline(m.group(2), base)}</h{n}>")
            i += 1
        elif line.lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            rows = lines[i:j]
            if len(rows) >= 2 and re.fullmatch(r"\|?[\s:|-]+\|?", rows[1].strip()):
                blocks.append(_table(rows, base))
            else:
                blocks.append(f"<p>{'<br>'.join(inline(r, base) for r in rows)}</p>")
            i = j
        elif line.startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].startswith(("- ", "* ")):
                items.append(f"<li>{inline(lines[i][2:], base)}</li>")
                i += 1
            blocks.append("<ul>\n" + "\n".join(items) + "\n</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not _starts_block(lines[i]):
                para.append(inline(lines[i], base))
                i += 1
            blocks.append(f"<p>{' '.join(para)}</p>")
    return "\n".join(blocks)


def _starts_block(line: str) -> bool:
    return bool(re.match(r"#{1,6}\s", line)) or line.lstrip().startswith(("|", "- ", "* "))


def write_html(md_path: Path, title: str) -> Path:
    """Write ``report.html`` beside ``md_path`` from its markdown; returns its path."""
    out = md_path.with_suffix(".html")
    body = markdown_to_html(md_path.read_text(encoding="utf-8"), md_path.parent)
    return write_atomic(out, page(title, body))  # never through a symlink
