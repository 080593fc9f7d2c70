"""``report.html``: the markdown that :func:`inferclock._render.report.report` writes, as one
self-contained HTML page.

This module owns the small converter for the markdown the report emits (headings, paragraphs,
``- `` lists, GitHub tables with ``\\|`` escapes, images, links, code spans and ``**bold**``)
and the page around it. An image is inlined (its SVG sibling when there is one, else the file
itself) as a ``data:`` URI, so the page needs nothing beside it; other links stay relative.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from inferclock._common.errors import ConfigError

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

_INLINE = re.compile(r"(`[^`]+`)|!\[([^\]]*)\]\(([^)]+)\)|\[([^\]]+)\]\(([^)]+)\)|\*\*(.+?)\*\*")
_MIME = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif"}


def page(title: str, body: str) -> str:
    """A complete HTML document: ``body`` under the shared inline stylesheet, no external asset."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _data_uri(src: str, base: Path | None) -> str:
    """``src`` as a data URI when it names a local image under ``base`` (its ``.svg`` sibling
    preferred), else ``src`` unchanged."""
    if base is None or "://" in src or src.startswith("data:"):
        return src
    path = base / src
    svg = path.with_suffix(".svg")
    chosen = svg if svg.is_file() else path
    mime = _MIME.get(chosen.suffix.lower())
    if mime is None or not chosen.is_file():
        return src
    return f"data:{mime};base64," + base64.b64encode(chosen.read_bytes()).decode("ascii")


def inline(text: str, base: Path | None = None) -> str:
    """One line of markdown text as HTML: code spans, images, links and bold; the rest escaped."""
    out: list[str] = []
    pos = 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos : m.start()]))
        code, alt, src, label, href, bold = m.groups()
        if code:
            out.append(f"<code>{html.escape(code[1:-1])}</code>")
        elif src is not None:
            uri = html.escape(_data_uri(src, base), quote=True)
            out.append(f'<img alt="{html.escape(alt, quote=True)}" src="{uri}">')
        elif href is not None:
            out.append(f'<a href="{html.escape(href, quote=True)}">{inline(label, base)}</a>')
        else:
            out.append(f"<strong>{inline(bold, base)}</strong>")
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _cells(line: str) -> list[str]:
    """A table row's cells, ``\\|`` read as a literal bar."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]


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
    lines = md.splitlines()
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
    try:
        out.write_text(page(title, body), encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot write {str(out)!r}: {e}") from e
    return out
