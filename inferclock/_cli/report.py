"""The ``inferclock report`` command: ``ic.report`` of one or more results files."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "report",
        help="plots (PNG + SVG) and report.md from results files",
        description="Write latency, throughput, latency-CDF and start-up plots (PNG and SVG) "
        "and report.md (tables, executed precisions, environment) for one or more results "
        "files. Needs matplotlib.",
    )
    p.add_argument("files", nargs="+", metavar="RESULTS", help="results files (.jsonl)")
    p.add_argument(
        "-o", "--output", default="report", metavar="DIR", help="output directory (default report/)"
    )
    p.add_argument("--title", default="inferclock report", help="title of report.md")
    p.add_argument(
        "--allow-mixed",
        action="store_true",
        help="accept files from several hosts (each host's cells kept apart)",
    )


def run(args: argparse.Namespace) -> int:
    """Plots (PNG + SVG) and report.md from one or more results files."""
    from inferclock._analysis.table import ResultTable
    from inferclock._render.report import report

    table = ResultTable.load(*args.files, allow_mixed=args.allow_mixed)
    path = report(table, args.output, title=args.title)
    print(f"report written to {path} ({len(table)} rows, {len(table.keys())} cells)")
    return 0
