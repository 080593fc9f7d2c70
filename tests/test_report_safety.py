"""What a shared report may hold: values from results files (model names, errors, header
values, the title, the file's path) are text in ``report.md`` and ``report.html``, never
links, images, headings or mathtext; the report links only inside its own folder; outputs
are written by temporary file and rename, never through a symlink. And a PostgreSQL
history's password never reaches a message (issue 24)."""

from __future__ import annotations

import base64
import html
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st
from synthetic import HEADER, lognormal_ns, make_row

import inferclock as ic
from inferclock.__main__ import main
from inferclock._analysis.table import ResultWriter
from inferclock._common.errors import ConfigError
from inferclock._render.html import markdown_to_html

pytest.importorskip("matplotlib")

JS_LINK = "[open](javascript:document.body.innerHTML=document.cookie)"
DATA_LINK = "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)"
MATH = "$\\undefinedcommand$"


def _results(path: Path, models: list[str], header: dict[str, Any] | None = None,
             error: str | None = None) -> Path:  # fmt: skip
    """A results file as a sweep writes it: one measured row per model and batch size (two,
    60x apart: every plot is drawn, latencies on log axes), and an error row when ``error``
    is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = ResultWriter(path, header or HEADER)
    for i, model in enumerate(models):
        for batch in (1, 4):
            median_ms = (1.0 + i) * (60 if batch > 1 else 1)  # > 20x: log axes (mathtext ticks)
            w.append(make_row(model, "f32", batch, lognormal_ns(median_ms, n=400, seed=i + batch)))
    if error is not None:
        w.append(make_row(models[0], "int8", 1, None, error=error, error_kind=error))
    return path


def _hostile_header(value: str) -> dict[str, Any]:
    env_vars = {"OMP_NUM_THREADS": value, "HTML": "<script>alert(1)</script> *em* _u_ ~~s~~"}
    env = {**HEADER["environment"], "env_vars": env_vars}
    return {**HEADER, "environment": env, "sweep": {**HEADER["sweep"], "out": value}}


def _targets(page: str) -> list[str]:
    return re.findall(r"""(?:href|src)\s*=\s*["']?([^"'\s>]*)""", page, flags=re.I)


def _check_page(folder: Path) -> str:
    """report.html links only to files of its folder, and every image it inlines is the
    bytes of a file in its folder; returns the page."""
    page = (folder / "report.html").read_text()
    own = {p.read_bytes() for p in folder.iterdir() if p.is_file()}
    for target in _targets(page):
        if target.startswith("data:"):
            mime, _, b64 = target.partition(";base64,")
            assert mime in ("data:image/svg+xml", "data:image/png"), target[:60]
            assert base64.b64decode(b64) in own, "an image from outside the report's folder"
        else:
            assert re.fullmatch(r"[\w.-]+", target) and (folder / target).is_file(), target
    return page


_OWN_TAGS = {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "a", "img",
             "code", "strong", "ul", "li", "br"}  # fmt: skip


def _check_markdown(md_path: Path) -> None:
    """report.md read by another renderer (markdown-it, CommonMark + tables, raw HTML on):
    only the report's own markup, links and images to its own files, one title."""
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md_path.read_text())
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", rendered))
    assert tags <= _OWN_TAGS, tags - _OWN_TAGS
    assert rendered.count("<h1>") == 1
    for target in _targets(rendered):
        assert re.fullmatch(r"[\w.-]+", target) and (md_path.parent / target).is_file(), target


# ---------------------------------------------------------------- 1: no live link


def test_markdown_in_values_is_text_not_links(tmp_path: Path) -> None:
    """A model, an error, header values, the title and the file's folder holding markdown
    links: the report shows them as text and links only to its own files."""
    folder = tmp_path / f"{DATA_LINK}"
    src = _results(folder / "r.jsonl", [JS_LINK, "tiny"], _hostile_header(JS_LINK), DATA_LINK)
    out = tmp_path / "rep"
    assert main(["report", str(src), "-o", str(out), "--title", JS_LINK]) == 0
    page = _check_page(out)
    assert not re.search(r"(href|src)\s*=\s*[\"']?\s*(javascript|data:text)", page, re.I)
    # each value is there, as the text it was
    assert page.count(html.escape(JS_LINK, quote=False)) >= 4  # title, tables, header values
    assert html.escape(DATA_LINK, quote=False) in page
    _check_markdown(out / "report.md")  # no link in report.md either

    md_path = ic.report(src, tmp_path / "rep2", title=DATA_LINK)  # the API: the same
    _check_page(md_path.parent)


def test_converter_keeps_links_in_the_folder(tmp_path: Path) -> None:
    """markdown_to_html itself: only a plain relative target in the folder is a live link or
    an inlined image; a scheme, an absolute path, '..' and a symlink out are text."""
    (tmp_path / "a.svg").write_text("<svg/>")
    outside = tmp_path.parent / f"{tmp_path.name}-private.png"
    outside.write_bytes(b"\x89PNG private")
    (tmp_path / "link.png").symlink_to(outside)
    md = (
        "[ok](a.svg) ![ok](a.png) [js](javascript:alert(1)) [JS](JaVaScRiPt:x) "
        "[d](data:text/html,x) ![abs](" + str(outside) + ") ![up](../" + outside.name + ") "
        "![sym](link.png) [web](https://example.com/x) `code` \\[esc](a.svg)"
    )
    got = markdown_to_html(md, tmp_path)
    assert '<a href="a.svg">ok</a>' in got
    assert got.count("<img") == 1 and 'src="data:image/svg+xml;base64,' in got
    assert base64.b64encode(b"\x89PNG private").decode() not in got
    targets = _targets(got)
    assert len(targets) == 2 and targets[0] == "a.svg", targets
    assert targets[1].startswith("data:image/svg+xml;base64,")
    assert "[esc](a.svg)" in got  # an escaped bracket is text


def test_compare_markdown_keeps_values_as_text(tmp_path: Path) -> None:
    """``ic.compare(...).to_markdown()`` (what CI posts on a pull request): keys, reasons and
    notes are text too."""
    markdown_it = pytest.importorskip("markdown_it")
    a = _results(tmp_path / "a.jsonl", [JS_LINK, "tiny\n# INJECTED"], error=DATA_LINK)
    b = _results(tmp_path / "b.jsonl", [JS_LINK, "<script>alert(1)</script>"])
    md = ic.compare(a, b).to_markdown()
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").render(md)
    tags = set(re.findall(r"<([a-z][a-z0-9]*)", rendered))
    assert tags <= _OWN_TAGS - {"a", "img", "h1", "h2", "h3"}, tags
    assert JS_LINK in html.unescape(rendered)


# ---------------------------------------------------------------- 2: no file from elsewhere


def test_image_markdown_never_inlines_another_folders_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "private.png").write_bytes(b"\x89PNG\r\n\x1a\nnot for sharing")
    (secret / "private.svg").write_text("<svg><text>not for sharing</text></svg>")
    leaks = [f"![leak]({secret / 'private.png'})", "![leak](../secret/private.png)"]
    src = _results(tmp_path / "r.jsonl", leaks, _hostile_header(leaks[0]), leaks[1])
    out = tmp_path / "rep"
    assert main(["report", str(src), "-o", str(out), "--title", leaks[1]]) == 0
    page = _check_page(out)
    for f in ("private.png", "private.svg"):
        assert base64.b64encode((secret / f).read_bytes()).decode() not in page
    assert 'alt="leak"' not in page
    _check_markdown(out / "report.md")


# ---------------------------------------------------------------- 3: no heading, no symlink


def test_a_line_break_in_a_value_injects_no_heading(tmp_path: Path) -> None:
    models = ["tiny\n# INJECTED", "small\u2028# INJECTED2"]
    src = _results(tmp_path / "r.jsonl", models, _hostile_header("x\n## INJECTED3"), "e\n# E")
    md_path = ic.report(src, tmp_path / "rep", title="title\n# INJECTED4")
    page = _check_page(md_path.parent)
    assert len(re.findall(r"<h1>", page)) == 1
    assert not re.search(r"<h\d>\s*INJECTED", page)
    _check_markdown(md_path)


def test_outputs_replace_a_symlink_never_write_through_it(tmp_path: Path) -> None:
    src = _results(tmp_path / "r.jsonl", ["tiny"])
    out = tmp_path / "rep"
    out.mkdir()
    victims = {}
    for name in ("report.html", "report.md", "latency.svg", "latency.png"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (out / name).symlink_to(victim)
        victims[name] = victim
    assert main(["report", str(src), "-o", str(out)]) == 0
    for name, victim in victims.items():
        assert victim.read_text() == "precious", name
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 100, name
    assert not list(out.glob(".*.tmp"))


def test_publish_replaces_a_symlink_never_writes_through_it(tmp_path: Path) -> None:
    history = pytest.importorskip("inferclock._tracking.history")
    src = _results(tmp_path / "r.jsonl", ["tiny"])
    with history.History(tmp_path / "h.db") as h:
        h.add_file(src)
    out = tmp_path / "site"
    out.mkdir()
    victim = tmp_path / "victim.html"
    victim.write_text("precious")
    for name in ("index.html", "regressions.html", "feed.xml"):
        (out / name).symlink_to(victim)
    ic.publish(tmp_path / "h.db", out)
    assert victim.read_text() == "precious"
    assert not any((out / n).is_symlink() for n in ("index.html", "regressions.html", "feed.xml"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for folder in ("cells", "models", "runs"):  # every folder of pages
        site = tmp_path / f"site-{folder}"
        site.mkdir()
        (site / folder).symlink_to(elsewhere)
        with pytest.raises(ConfigError, match=rf"{folder}.* is a symlink"):
            ic.publish(tmp_path / "h.db", site)
        assert not list(elsewhere.iterdir())


# ---------------------------------------------------------------- 3: passwords


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again: nothing listens there


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ci@127.0.0.1:{port}/db?password=hunter2pw",
        "postgresql://ci:hunter2pw@127.0.0.1:{port}/db",
        "postgres://ci@127.0.0.1:{port}/db?sslmode=disable&password=hunter2pw",
    ],
)
def test_pg_password_never_in_the_message(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg", reason="psycopg not installed (pip install 'inferclock[test]')")
    url = url.format(port=_closed_port())
    with pytest.raises(ConfigError, match="cannot connect to history") as e:
        ic.history(url)
    assert "hunter2pw" not in str(e.value) and "***" in str(e.value)
    src = _results(tmp_path / "r.jsonl", ["tiny"])
    assert main(["history", "add", str(src), "--history", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot connect") and "hunter2pw" not in err
    assert "Traceback" not in err


def test_mask_url() -> None:
    from inferclock._common.secrets import mask_url, scrub

    assert mask_url("postgresql://u:p%40ss@h:5/db?password=x&sslpassword=y&sslmode=require") == (
        "postgresql://u:***@h:5/db?password=***&sslpassword=***&sslmode=require"
    )
    assert mask_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert scrub('bad token: "p@ss"', "postgresql://u:p%40ss@h/db") == 'bad token: "***"'


# ---------------------------------------------------------------- 16: mathtext


def test_a_tex_model_name_reports_as_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _results(tmp_path / "r.jsonl", [MATH, "tiny"], error=MATH)
    out = tmp_path / "rep"
    assert main(["report", str(src), "-o", str(out), "--title", MATH]) == 0
    assert "Traceback" not in capsys.readouterr().err
    page = _check_page(out)
    assert MATH in page  # the name as written
    svg = (out / "latency.svg").read_text()
    assert "undefinedcommand" in svg  # drawn as its characters (SVG text keeps them)
    import matplotlib

    assert matplotlib.rcParams["text.parse_math"] is True  # the caller's setting is restored


def test_figure_labels_are_literal_and_log_ticks_stay_math() -> None:
    """On a real figure: the title, legend and tick labels given as data are text; the log
    axis's tick labels (its formatter's ``$\\mathdefault{10^{2}}$``) stay mathtext."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from inferclock._render.literal import literal_labels

    fig = Figure()
    ax = fig.subplots()
    ax.plot([1, 2], [1, 1000], label=MATH)
    ax.set_yscale("log")
    ax.set_xticks([1, 2], [MATH, "b"])
    ax.set_title(MATH)
    ax.legend()
    literal_labels(fig)
    FigureCanvasAgg(fig).draw()  # raised ParseFatalException before
    data = [ax.title, *ax.get_xticklabels(), *ax.get_legend().get_texts()]
    assert MATH in [t.get_text() for t in data] and not any(t.get_parse_math() for t in data)
    log_ticks = [t for t in ax.get_yticklabels() if "mathdefault" in t.get_text()]
    assert log_ticks and all(t.get_parse_math() for t in log_ticks)


# ---------------------------------------------------------------- the escaping itself


def test_md_text_and_code_are_literal() -> None:
    from inferclock._common.text import markdown_table, md_code, md_text

    for value in (JS_LINK, "a|b", "`x``y`", "*bold* _em_ <b>&amp; $m$ ~~s~~ # h", "a\\|b"):
        cell = markdown_table(["v", "code"], [[md_text(value), md_code(value)]])
        got = markdown_to_html(cell)
        assert got.count("<td>") == 2, (value, got)
        assert f"<td>{html.escape(value, quote=False)}</td>" in got, (value, got)
        assert f"<td><code>{html.escape(value, quote=False)}</code></td>" in got or "|" in value
    assert md_text("resnet_50") == "resnet_50"  # common names stay readable


@settings(max_examples=60, deadline=None, database=None)
@given(value=st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_any_value_is_one_literal_table_cell(value: str) -> None:
    """Whatever a value holds, md_text makes it one table cell showing exactly its text (line
    breaks and control characters as spaces), and md_code one code span of it."""
    from inferclock._common.text import markdown_table, md_code, md_text, one_line

    got = markdown_to_html(markdown_table(["v", "c"], [[md_text(value), md_code(value)]]))
    cells = re.findall(r"<td>(.*?)</td>", got)
    assert len(cells) == 2, got
    assert cells[0] == html.escape(one_line(value).strip())
    if "|" not in value and one_line(value).strip(" "):  # GFM reads a code span's '\|' as '|'
        assert cells[1] == f"<code>{html.escape(one_line(value))}</code>"
