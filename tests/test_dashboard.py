"""The published dashboard as a visitor sees it (headless Chromium over the real files): the
commit axis and its labels, the hover titles, the interval band, the steps, the index's
sparkline grid and its scriptless filters, the model, run and regressions pages, the Atom
feed; and the SVG arithmetic under it (plain tick labels, a log axis that keeps p50 and p99
readable together).

The history is real: a git repository of 8 commits, each commit's results added through the
history store from inside the checkout (so it records the commit), synthetic rows for the
multi-commit axis with a 30% step at commit 5, then two real sweeps of the tiny matmul model.
"""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from site_crawl import crawl, launch
from synthetic import HEADER, lognormal_ns, make_row

import inferclock as ic
from inferclock._render import svg
from inferclock._render.dash_charts import percentile_chart
from inferclock._render.site import CellData, Point, StepMark, cell_file, model_file, write_site

COMMITS = 8
STEP_AT = 5  # resnet50 f32 batch 1 is 30% slower from this commit (0-based) on
SYNTH = (  # model, precision, batch, mode
    ("resnet50", "f32", 1, "latency"),
    ("resnet50", "f32", 4, "latency"),
    ("resnet50", "bf16", 1, "latency"),
    ("mobilenet", "f32", 1, "throughput"),
)
STEPPED = "resnet50|CPU|f32|1|latency|-"
ATOM = "{http://www.w3.org/2005/Atom}"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(repo: Path, i: int) -> str:
    (repo / "code.txt").write_text(f"version {i}\n")
    _git(repo, "add", "code.txt")
    _git(repo, "commit", "-q", "-m", f"commit {i}")
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, matmul_model: Path) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dash")
    repo, db = tmp / "repo", tmp / "h.db"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    commits = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)  # the history records the commit of the current directory
        for i in range(COMMITS):
            commits.append(_commit(repo, i))
            rows = []
            for j, (model, precision, batch, mode) in enumerate(SYNTH):
                slower = (model, precision, batch) == ("resnet50", "f32", 1) and i >= STEP_AT
                ns = lognormal_ns(2.0 * batch**0.5, n=400, seed=11 * i + j) * (1.3 if slower else 1)
                rows.append(make_row(model, precision, batch, ns.astype(np.int64), mode=mode))
            with ic.history(db) as h:
                h.add(rows, header=HEADER)
        real = []
        for i in range(2):  # real runs of a real model, at two more commits
            real.append(_commit(repo, COMMITS + i))
            ic.sweep(matmul_model, batch_sizes=[1, 2], out=tmp / f"r{i}.jsonl", history=db,
                     quiet=True, iterations=40, warmup=4, processes=1)  # fmt: skip
    site = tmp / "site"
    return {"db": db, "commits": commits, "real": real, "index": ic.publish(db, site), "site": site}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch()


def _cell_url(site: Path, key: str) -> str:
    (found,) = [p for p in (site / "cells").glob("*.html") if f"<h1>{key}</h1>" in p.read_text()]
    return found.resolve().as_uri()


def test_every_page_loads_clean(browser: Any, history: dict[str, Any]) -> None:
    got = crawl(browser, history["index"])
    assert got["errors"] == []
    assert got["broken"] == []
    assert set(got["scripts"].values()) == {0}  # nothing runs: hovers and filters are SVG + CSS
    site = history["site"]
    for part in ("cells", "models", "runs"):
        files = {p.resolve().as_uri() for p in (site / part).glob("*.html")}
        assert files and files <= set(got["drawn"]), part  # every page reached by a link
    runs = COMMITS + 2
    assert len(list((site / "runs").glob("*.html"))) == runs
    for text in (p.read_text() for p in site.rglob("*.html")):
        assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_cell_page_commit_axis_hovers_and_step(browser: Any, history: dict[str, Any]) -> None:
    commits = history["commits"]
    page = browser.new_page()
    page.goto(_cell_url(history["site"], STEPPED))
    labels = page.eval_on_selector_all(
        "svg.history text.xtick", "ts => ts.map(t => [...t.children].map(s => s.textContent))"
    )
    today = datetime.now().astimezone().date()
    assert [a for a, _ in labels] == [c[:7] for c in commits]  # the commit axis, oldest first
    assert all(abs((datetime.fromisoformat(d).date() - today).days) <= 1 for _, d in labels)

    titles = page.eval_on_selector_all(
        "svg.history .pt > title", "ts => ts.map(t => t.textContent)"
    )
    assert len(titles) == COMMITS
    for c, t in zip(commits, titles, strict=True):
        assert f"commit {c[:12]}" in t
        assert "inferclock 0.1.0, openvino 2026.4.1" in t
        assert re.search(r"median [\d.]+ \[[\d.]+, [\d.]+\] ms \(95% CI\)", t), t
    runs = page.eval_on_selector_all(
        "svg.history a.pt", "as => as.map(a => a.getAttribute('href'))"
    )
    assert all(h.startswith("../runs/") for h in runs)
    assert page.locator("svg.history polygon.band").count() == 1  # every point has an interval
    assert page.locator("svg.history path.ci").count() == COMMITS

    (step,) = page.eval_on_selector_all(
        "svg.history g.step", "gs => gs.map(g => [g.getAttribute('class'), "
        "g.querySelector('title').textContent, +g.querySelector('line').getAttribute('x1')])"
    )  # fmt: skip
    cls, text, x = step
    assert cls == "step regression"
    assert f"commit {commits[STEP_AT][:10]}" in text and f"run {STEP_AT + 1}" in text
    assert 25 < float(re.search(r"\+([\d.]+)%", text).group(1)) < 35  # type: ignore[union-attr]
    xs = page.eval_on_selector_all(
        "svg.history .pt circle", "cs => cs.map(c => +c.getAttribute('cx'))"
    )
    assert xs[STEP_AT - 1] < x < xs[STEP_AT]  # between the last old and the first new commit

    page.click("svg.history a.pt >> nth=-1")  # a point's link opens its run
    assert f"Commit <code>{commits[-1]}</code>" in page.content()
    page.click("p.near a:has-text('next')")  # runs link to their neighbours
    assert f"Commit <code>{history['real'][0]}</code>" in page.content()
    page.close()


def test_real_runs_have_a_log_percentile_chart(browser: Any, history: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto(_cell_url(history["site"], "matmul|CPU|f32|1|latency|-"))
    labels = page.eval_on_selector_all("svg.history text.xtick tspan:first-child",
                                       "ts => ts.map(t => t.textContent)")  # fmt: skip
    assert labels == [c[:7] for c in history["real"]]
    ticks = page.eval_on_selector_all("svg.pct text.ytick", "ts => ts.map(t => t.textContent)")
    assert len(ticks) >= 3 and all(re.fullmatch(r"\d[\d,]*(\.\d+)?", t) for t in ticks), ticks
    assert "log scale" in (page.text_content("svg.pct text.axis >> nth=0") or "")
    names = page.eval_on_selector_all("svg.pct text.xtick", "ts => ts.map(t => t.textContent)")
    assert names == sorted(names, key=lambda n: float(n[1:]))  # p50 ... p99.9 in order
    page.close()


def test_index_grid_filters_and_newest_steps(browser: Any, history: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto(history["index"].resolve().as_uri())
    names = page.eval_on_selector_all(".card a.name", "as => as.map(a => a.textContent)")
    assert len(names) == len(SYNTH) + 2 and names[0] == STEPPED  # the cell with a step first
    assert page.locator(".card svg.spark").count() == len(names)
    assert "regression" in page.inner_text("ol.newest li >> nth=0")

    def shown() -> list[str]:
        return [n for n in page.locator(".card:visible a.name").all_inner_texts()]

    page.click(".filter-model label:text-is('mobilenet')")
    assert shown() == ["mobilenet|CPU|f32|1|throughput|-"]
    page.click(".filter-precision label:text-is('bf16')")  # filters combine: nothing left
    assert shown() == []
    page.click(".filter-model label:text-is('all')")
    assert shown() == ["resnet50|CPU|bf16|1|latency|-"]
    page.click(".filter-precision label:text-is('all')")
    page.click(".filter-mode label:text-is('throughput')")
    assert shown() == ["mobilenet|CPU|f32|1|throughput|-"]
    page.click(".filter-mode label:text-is('all')")
    hosts = page.locator(".filter-host label").all_inner_texts()
    assert len(hosts) == 3  # all, the synthetic rows' (no host), the real runs' host
    page.click(f".filter-host label:text-is('{hosts[2]}')")
    assert sorted(shown()) == ["matmul|CPU|f32|1|latency|-", "matmul|CPU|f32|2|latency|-"]
    page.close()


def test_model_page_has_a_line_per_parameter(browser: Any, history: dict[str, Any]) -> None:
    page = browser.new_page()
    page.goto((history["site"] / model_file("resnet50")).resolve().as_uri())
    charts = page.locator("svg.lines")
    assert charts.count() == 2  # every cell by commit; the latest by batch size
    assert charts.nth(0).locator("g.series").count() == 3
    legend = page.locator("ul.legend >> nth=0").inner_text()
    for name in ("precision f32, batch 1", "precision f32, batch 4", "precision bf16, batch 1"):
        assert name in legend
    assert charts.nth(1).locator("text.xtick").all_text_contents() == ["1", "4"]
    page.close()


def test_atom_feed_and_regressions_page(browser: Any, history: dict[str, Any]) -> None:
    site = history["site"]
    root = ET.parse(site / "feed.xml").getroot()
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    entries = root.findall(f"{ATOM}entry")
    assert len(entries) == 1
    (e,) = entries
    assert e.findtext(f"{ATOM}title", "").startswith("regression +")
    assert STEPPED in e.findtext(f"{ATOM}title", "")
    assert e.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    assert datetime.fromisoformat(e.findtext(f"{ATOM}updated", "")).tzinfo is not None
    link = e.find(f"{ATOM}link")
    assert link is not None and (site / link.get("href", "")).is_file()
    assert history["commits"][STEP_AT][:10] in e.findtext(f"{ATOM}summary", "")

    again = ic.publish(history["db"], site.parent / "again")  # the same ids: read once
    assert ET.parse(again.parent / "feed.xml").getroot().find(f"{ATOM}entry/{ATOM}id").text == (
        e.findtext(f"{ATOM}id")
    )

    page = browser.new_page()
    page.goto((site / "regressions.html").resolve().as_uri())
    rows = page.locator("tr.stepRow").all_inner_texts()
    assert len(rows) == 1 and STEPPED in rows[0] and history["commits"][STEP_AT][:10] in rows[0]
    page.close()


# -- from plain inputs --------------------------------------------------------------------------


def test_percentiles_on_a_log_axis_stay_readable() -> None:
    """p99 thirty times the median: on a linear axis p50..p95 would share one pixel row."""
    pct = (("p99", 41.0, 39.0, 43.0), ("p50", 1.0, 0.98, 1.02), ("p95", 1.3, None, None),
           ("p90", 1.2, 1.1, 1.3))  # fmt: skip
    only = (Point("1", "t", None, None, 1.0),)
    cell = CellData("m|CPU|f32|1|latency|-", None, "median", "ms", only, percentiles=pct)
    root = ET.fromstring(percentile_chart(cell))
    ns = "{http://www.w3.org/2000/svg}"
    marks = {
        g.findtext(f"{ns}title", "").split(":")[0]: float(g.find(f"{ns}rect").get("y", "0"))  # type: ignore[union-attr]
        for g in root.iter(f"{ns}g")
        if "pt" in g.get("class", "")
    }
    assert list(marks) == ["p50", "p90", "p95", "p99"]  # in increasing order
    height = float(root.get("height", "0"))
    # 5% of the chart's height between p50 and p95 (a linear axis to p99 gives them 0.6%)
    assert marks["p50"] - marks["p95"] > 0.05 * height
    labels = [t.text or "" for t in root.iter(f"{ns}text") if t.get("class") == "ytick"]
    assert labels and all(re.fullmatch(r"\d[\d,]*(\.\d+)?", t) for t in labels), labels


def test_tick_labels_are_plain_numbers() -> None:
    assert [svg.tick_label(v) for v in (600, 0.002, 2500, 2.5, 1, 0.15, 12.5)] == [
        "600", "0.002", "2,500", "2.5", "1", "0.15", "12.5",
    ]  # fmt: skip
    assert svg.log_ticks(0.5, 5) == [0.5, 1, 2, 5]
    assert svg.log_ticks(3, 3000) == [10, 100, 1000]
    assert svg.log_ticks(0.037, 0.05) == [0.04, 0.045, 0.05]  # narrow: still 3 ticks
    assert svg.nice_ticks(0.93, 1.41) == [1.0, 1.1, 1.2, 1.3, 1.4]


def test_values_from_results_stay_text(tmp_path: Path) -> None:
    """Names, hosts, commits and versions with markup, quotes and a control character: shown
    as written, never markup; the feed still parses; every link stays inside the site."""
    evil = '<script>alert(1)</script>&"x\x01'
    pts = tuple(
        Point(str(i), f"2026-12-0{i + 1}", f"javascript:alert({i})", evil, v, v * 0.9, v * 1.1,
              openvino=evil)
        for i, v in enumerate([1.0, 1.0, 1.0, 1.5, 1.5, 1.5])
    )  # fmt: skip
    step = StepMark(3, 1.0, 1.5, 1.5, "regression", commit=evil, version=evil)
    key = f"{evil}|CPU|{evil}|1|latency|-"
    pct = (("p50", 1.0, None, None), ("odd:name", 2.0, None, None))
    cell = CellData(key, evil, "median", "ms", pts, (step,), pct, host_name=evil)
    write_site([cell], tmp_path, title=evil)
    texts = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    assert len(texts) == 5 + len(pts)  # index, regressions, feed, a cell, a model, the runs
    for p, text in texts.items():
        assert "<script" not in text and "\x01" not in text, p
        for href in re.findall(r'href="([^"]*)"', text):
            assert not re.match(r"([a-z]+:|/|\.\./\.\.)", href), (p, href)
    feed = ET.parse(tmp_path / "feed.xml").getroot()
    assert "<script>" in feed.findtext(f"{ATOM}entry/{ATOM}title", "")  # text, escaped in XML
    page = (tmp_path / cell_file(cell)).read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x\ufffd" in page


def test_one_run_no_interval_and_no_percentiles(tmp_path: Path) -> None:
    """The smallest cells still make whole pages: one run, a value without interval, no
    percentiles, a key that is not a sweep's."""
    one = CellData("my bench", None, "median", "ms", (Point("7", "not a date", None, None, 2.0),))
    pts = tuple(Point(str(i), "2026-12-01", "c" * 40, "1", 5.0) for i in range(3))
    flat = CellData("flat", "h", "throughput", "/s", pts)
    write_site([one, flat], tmp_path)
    page = (tmp_path / cell_file(one)).read_text()
    assert "No percentiles stored." in page and "run 7" in page  # the axis names the run
    chart = re.search(r'<svg class="chart history".*?</svg>', page, re.S)
    assert chart is not None and ET.fromstring(chart.group()) is not None  # well-formed SVG
    feed = ET.parse(tmp_path / "feed.xml").getroot()
    assert feed.findall(f"{ATOM}entry") == [] and feed.findtext(f"{ATOM}updated")
    assert (tmp_path / model_file("my bench")).is_file()
