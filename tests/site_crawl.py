"""Loading a published site in headless Chromium: every page reachable from a start page, with
what a visitor would hit (console errors, page errors, links to nothing, scripts).

A test helper, not a stand-in: it drives the real browser (the system ``chromium`` through
Playwright) over the real files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from inferclock._render.browser import chromium_path

# Every link as the page resolves it: an SVG <a>'s ``href`` is an SVGAnimatedString, not a URL,
# so the attribute is resolved against the page's address for HTML and SVG links alike.
LINKS = (
    "() => [...document.querySelectorAll('a[href]')]"
    ".map(a => new URL(a.getAttribute('href'), document.baseURI).href)"
)


def launch() -> Iterator[Any]:
    """A headless Chromium for a module's tests (skips without ``chromium`` or Playwright)."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("no chromium binary on PATH (Debian: apt install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


def crawl(browser: Any, start: Path) -> dict[str, Any]:
    """Every page reachable from ``start`` by its links (HTML and SVG ones): console errors,
    page errors, broken links (a missing file, an ``#id`` the target lacks, any link that is
    not a file of the site), per page the drawn SVG paths and the scripts it holds."""
    errors: list[str] = []
    broken: list[str] = []
    drawn: dict[str, int] = {}
    scripts: dict[str, int] = {}
    seen: set[str] = set()
    root = start.resolve().parent
    todo = [start.resolve().as_uri()]
    page = browser.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        response = page.goto(url)
        if response is not None and not response.ok:
            broken.append(url)
            continue
        drawn[url] = page.evaluate(
            "() => [...document.querySelectorAll('svg path, svg polyline, svg polygon')]"
            ".filter(p => (p.getAttribute('d') || p.getAttribute('points') || '').length > 10)"
            ".length"
        )
        scripts[url] = page.locator("script").count()
        for href in page.evaluate(LINKS):
            target = urlparse(href)
            file = Path(unquote(target.path))
            if target.scheme != "file" or not file.is_file():
                broken.append(f"{url} -> {href}")
                continue
            if not file.resolve().is_relative_to(root):
                broken.append(f"{url} -> {href} (outside the site)")
            if target.fragment and not re.search(
                rf'id="{re.escape(target.fragment)}"', file.read_text(encoding="utf-8")
            ):
                broken.append(f"{url} -> {href} (no such id)")
            if file.suffix == ".html":
                todo.append(href.split("#")[0])
    page.close()
    return {"errors": errors, "broken": broken, "drawn": drawn, "scripts": scripts}
