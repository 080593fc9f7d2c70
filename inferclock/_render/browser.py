"""Headless Chromium over a published page: the screenshot the README shows.

This module owns how a page of the site is opened in a real browser (Playwright driving the
system ``chromium``; no browser is downloaded) and photographed. The tests load every page
the same way. Playwright is a test dependency, imported only here and only when called.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from inferclock._common.errors import ConfigError

__all__ = ["chromium_path", "screenshot"]


def chromium_path() -> str | None:
    """The system Chromium binary (``chromium`` or ``chromium-browser`` on PATH), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(
    page_path: str | os.PathLike[str],
    png_path: str | os.PathLike[str],
    *,
    width: int = 1100,
    height: int = 700,
    full_page: bool = False,
    browser: Any = None,
) -> Path:
    """Open the local HTML file ``page_path`` in headless Chromium and save a PNG of it to
    ``png_path``; returns that path. ``browser``: a Playwright ``Browser`` already launched
    (a test's), else the system Chromium is launched for this one picture."""
    page_file = Path(page_path).resolve()
    if not page_file.is_file():
        raise ConfigError(f"screenshot: page_path {str(page_file)!r} is not a file")
    out = Path(png_path)
    if browser is not None:
        _shoot(browser, page_file, out, width, height, full_page)
        return out
    exe = chromium_path()
    if exe is None:
        raise ConfigError("screenshot: no chromium binary on PATH (apt install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            _shoot(launched, page_file, out, width, height, full_page)
        finally:
            launched.close()
    return out


def _shoot(browser: Any, page_file: Path, out: Path, width: int, height: int, full: bool) -> None:
    page = browser.new_page(viewport={"width": width, "height": height})
    try:
        page.goto(page_file.as_uri())
        page.screenshot(path=str(out), full_page=full)
    finally:
        page.close()
