"""The ``inferclock publish`` command: ``ic.publish`` from the command line."""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
The site is index.html (the newest detected steps, filters by host, model, precision and
mode, and a sparkline card per cell and host), cells/*.html (the history on a commit axis
with its interval band, a hover per point naming commit, versions, value and interval, the
steps marked; the latest percentiles on a log axis; every run), models/*.html (each cell of a
model as a line of one chart), runs/*.html, regressions.html and feed.xml (an Atom feed of
the detected steps). Charts are inline SVG, links relative, no script runs: nothing is
fetched when it is viewed. Copy the folder to any static host (GitHub Pages, S3, nginx), or
look at it with `python -m http.server -d site`.

examples:
  inferclock publish history.db -o site/
  inferclock publish postgresql://ci@bench/db -o public/ --title "nightly"
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "publish",
        help="a static HTML dashboard of a history, to copy to any web server",
        description="Write a self-contained static dashboard of a results history: an index "
        "of cells with sparklines and filters, a page per cell, model and run, the detected "
        "steps and their Atom feed.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("history", metavar="HISTORY", help="history: SQLite file or postgresql:// URL")
    p.add_argument(
        "-o", "--output", default="site", metavar="DIR", help="output directory (default site/)"
    )
    p.add_argument("--title", default="inferclock", help="title of the pages (default inferclock)")
    p.add_argument(
        "--metric",
        default="auto",
        help="the metric each cell is tracked by (default auto: the history's choice)",
    )


def run(args: argparse.Namespace) -> int:
    from inferclock._render.publish import publish

    index = publish(args.history, args.output, title=args.title, metric=args.metric)
    print(f"wrote {index} ({len(list(index.parent.glob('cells/*.html')))} cell pages)")
    return 0
