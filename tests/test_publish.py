"""ic.publish / inferclock publish and report.html: the pages as a real browser sees them
(headless system Chromium through Playwright), and the generator from plain inputs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock.__main__ import main
from inferclock._core import ConfigError
from inferclock._render.browser import screenshot
from inferclock._render.html import markdown_to_html
from inferclock._render.site import CellData, Point, StepMark, cell_file, write_site

pytest.importorskip("matplotlib")

from site_crawl import crawl as _crawl, launch
from synthetic import HEADER, lognormal_ns, make_row, write_table

MODELS = ("resnet50", "mobilenet")
STEP_RUN = 20


def _history(path: Path) -> Path:
    """2 cells x 30 runs; resnet50 10% slower from run 20 (0-based) on."""
    history = pytest.importorskip("inferclock._tracking.history")
    with history.History(path) as h:
        for run in range(30):
            rows = []
            for i, m in enumerate(MODELS):
                scale = 1.1 if m == "resnet50" and run >= STEP_RUN else 1.0
                ns = lognormal_ns(2.0, n=400, seed=7 * run + i) * scale
                rows.append(make_row(m, "f32", 1, ns.astype(np.int64)))
            h.add(rows, header=HEADER)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


def test_site_in_browser(browser: Any, tmp_path: Path) -> None:
    index = ic.publish(_history(tmp_path / "h.db"), tmp_path / "site")
    got = _crawl(browser, index)
    assert got["errors"] == []
    assert got["broken"] == []
    cell_pages = {u: n for u, n in got["drawn"].items() if "/cells/" in u}
    assert len(cell_pages) == len(MODELS)  # one page per cell, each reached from the index
    assert all(n > 0 for n in cell_pages.values()), cell_pages
    assert set(got["scripts"].values()) == {0}  # no page runs a script

    page = browser.new_page()
    page.goto(index.resolve().as_uri())
    cards = page.eval_on_selector_all(
        ".card", "cs => cs.map(c => [c.querySelector('a.name').innerText, c.className])"
    )
    assert sorted(k.split("|")[0] for k, _ in cards) == sorted(MODELS)
    assert {k.split("|")[0]: "has-regression" in c for k, c in cards} == {
        "resnet50": True,
        "mobilenet": False,
    }
    page.click(".card.has-regression a.name")
    step_text = page.inner_text("ul.steps li.regression")
    assert f"run {STEP_RUN + 1}" in step_text  # the series' 0-based index 20, shown 1-based
    page.close()
    shot = screenshot(index, tmp_path / "index.png", browser=browser)
    assert shot.stat().st_size > 10_000


def test_report_html_in_browser(browser: Any, tmp_path: Path) -> None:
    cells = [("tiny", "f32", 1, "latency"), ("tiny", "f32", 8, "latency")]
    ic.report(write_table(tmp_path / "r.jsonl", cells), tmp_path / "rep", title="A | report")
    html_path = tmp_path / "rep" / "report.html"
    got = _crawl(browser, html_path)
    assert got["errors"] == []
    assert got["broken"] == []
    page = browser.new_page()
    page.goto(html_path.resolve().as_uri())
    assert page.title() == "A | report"
    assert page.locator("table").count() >= 2
    assert page.locator("th", has_text="median ms [95% CI]").count() == 1
    imgs = page.eval_on_selector_all(
        "img", "is => is.map(i => [i.src.slice(0, 26), i.complete && i.naturalWidth > 0])"
    )
    assert imgs and all(src.startswith("data:image/svg+xml") and ok for src, ok in imgs), imgs
    page.close()


def _cell(key: str, values: list[float], steps: tuple[StepMark, ...] = ()) -> CellData:
    points = tuple(
        Point(
            str(i), f"2026-12-0{1 + i % 9}", "abc123" if i else None, "0.1", v, v * 0.98, v * 1.02
        )
        for i, v in enumerate(values)
    )
    pct = (("p50", values[-1], None, None), ("p99", 2 * values[-1], None, None))
    return CellData(key, "host<1>", "median", "ms", points, steps, pct)


def test_site_from_plain_inputs(tmp_path: Path) -> None:
    step = StepMark(3, 1.0, 1.2, 1.2, "regression", commit="abc123def456", version="v2")
    cells = [_cell("a|x", [1.0, 1.0, 1.01, 1.2, 1.2], (step,)), _cell("b", [3.0, 3.0])]
    index = write_site(cells, tmp_path)
    text = index.read_text()
    for c in cells:
        assert f'href="{cell_file(c)}"' in text
        assert (tmp_path / cell_file(c)).is_file()
    assert text.count('<div class="card ') == 2
    assert "regression +20.0% at abc123d" in text
    assert "host&lt;1&gt;" in text and "host<1>" not in text
    page = (tmp_path / cell_file(cells[0])).read_text()
    assert '<li class="regression">regression +20.0% (run 4, commit abc123def4, v2)' in page
    assert 'href="../index.html"' in page
    assert page.count("<svg") == 2  # the history and the latest distribution
    assert not re.search(r"(src|href)=\"(https?:)?//", text + page)  # nothing fetched


def test_markdown_to_html() -> None:
    md = "# T <1>\n\nSee `a|b` and **bold**.\n\n| x | y |\n|---|---|\n| `k\\|1` | 2 |\n\n- item"
    got = markdown_to_html(md)
    assert "<h1>T &lt;1&gt;</h1>" in got
    assert "<p>See <code>a|b</code> and <strong>bold</strong>.</p>" in got
    assert "<thead><tr><th>x</th><th>y</th></tr></thead>" in got
    assert "<tr><td><code>k|1</code></td><td>2</td></tr>" in got
    assert "<ul>\n<li>item</li>\n</ul>" in got


def test_publish_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"history .*missing.db.* is not a file"):
        ic.publish(tmp_path / "missing.db", tmp_path / "site")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"out_dir .*file.* is not a directory"):
        ic.publish(tmp_path / "missing.db", tmp_path / "file")
    history = pytest.importorskip("inferclock._tracking.history")
    history.History(tmp_path / "empty.db").close()
    with pytest.raises(ConfigError, match=r"history .*empty.db.* holds no results"):
        ic.publish(tmp_path / "empty.db", tmp_path / "site")
    assert not (tmp_path / "site").exists()

    assert main(["publish", str(tmp_path / "missing.db"), "-o", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: publish: history") and "Traceback" not in err


def test_publish_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = _history(tmp_path / "h.db")
    assert main(["publish", str(db), "-o", str(tmp_path / "out"), "--title", "nightly"]) == 0
    assert "2 cell pages" in capsys.readouterr().out
    assert "<title>nightly</title>" in (tmp_path / "out" / "index.html").read_text()
