"""The ``inferclock publish`` command: ``ic.publish`` from the command line."""

from __future__ import annotations

import argparse
from typing import Any

EPILOG = """\
The site is index.html (every cell and host: the latest value with its 95% interval and the
newest detected step) and cells/*.html (the history plot with the steps marked, the latest
run's percentiles, every run). Charts are inline SVG and links relative: nothing is fetched
when it is viewed. Copy the folder to any static host (GitHub Pages, S3, nginx), or look at
it with `python -m http.server -d site`.

examples:
  inferclock publish history.db -o site/
  inferclock publish postgresql://ci@bench/db -o public/ --title "nightly"
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "publish",
        help="a static HTML dashboard of a history, to copy to any web server",
        description="Write a self-contained static dashboard of a results history: an index "
        "of cells with their latest value, interval and detected steps, and a page per cell.",
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
