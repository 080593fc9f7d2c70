"""The ``inferclock compare`` command: ``ic.compare`` of two results files (or two hosts of
one), its CI gate (``--fail-above``, exit 1) and its JSON output."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

from inferclock._cli.common import gate_thresholds
from inferclock._common.errors import ConfigError


def run(args: argparse.Namespace) -> int:
    """Compare B against A cell by cell; exit 1 when the --fail-above gate fails."""
    from inferclock._analysis.cell import check_metric
    from inferclock._analysis.compare import compare
    from inferclock._analysis.table import check_output_path

    # Every argument is checked before any file is read or any table printed.
    fail_above, threshold = gate_thresholds(args)
    for flag, on in (("--allow-missing", args.allow_missing),
                     ("--allow-inconclusive", args.allow_inconclusive)):  # fmt: skip
        if on and fail_above is None:
            raise ConfigError(f"{flag} only applies to the gate: give --fail-above too")
    if args.b is None and (args.a_host is None or args.b_host is None):
        raise ConfigError(
            "compare needs B, the results file to compare against A (it may be left out only "
            "when --a-host and --b-host both pick hosts of A)"
        )
    b = args.a if args.b is None else args.b
    out = None
    if args.json:
        out = check_output_path(args.json, "--json file")
        for side in (args.a, b):
            if Path(side).expanduser().resolve() == out.resolve():
                raise ConfigError(
                    f"--json file {args.json!r} is the results file {side!r}: it would be "
                    "overwritten; give another path"
                )
    metric = check_metric(args.metric)
    result = compare(
        args.a, b, threshold=threshold, metric=metric, allow_mixed=args.allow_mixed,
        a_host=args.a_host, b_host=args.b_host,
    )  # fmt: skip
    gate = None
    if fail_above is not None:
        gate = result.gate(
            fail_above,
            allow_missing=args.allow_missing,
            allow_inconclusive=args.allow_inconclusive,
        )
    print(result.to_markdown())
    if out is not None:
        d = result.to_dict()
        if gate is not None:
            d["gate"] = gate.to_dict()
        try:
            out.write_text(json.dumps(d, indent=1, default=str) + "\n", encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"--json file {args.json!r}: cannot write it: {e}") from None
    if gate is None:
        return 0
    print(gate.summary(), file=sys.stderr)
    return 0 if gate.passed else 1


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    cmp_: argparse.ArgumentParser = sub.add_parser(
        "compare",
        help="compare two results files cell by cell (CI gate with --fail-above)",
        formatter_class=formatter,
        description="Match cells of A and B by key and give, per cell, the ratio B/A of its "
        "metric (throughput for throughput-mode cells, the median latency for latency-mode "
        "ones, or --metric) with a 95% interval combining the variation within and between "
        "processes, and a state: slower / faster (whole interval beyond the threshold in "
        "the metric's bad / good direction), same (within it), inconclusive, no interval "
        "(judged on the point ratio), unreadable (a value that is not a measurement), missing "
        "in B or error in B. Lines that hold no row are named by file and line. With "
        "--fail-above it is a CI gate that never passes what it did not judge: it passes only "
        "when every cell is same, faster or not worse than T (see docs/statistics.md, 'The "
        "gate's states'). The machine "
        "fingerprints' differences are printed. Each side is one host: --a-host/--b-host keep "
        "one host's rows of a side (a cluster sweep's file holds several: its Dask workers).",
        epilog="""\
examples:
  inferclock compare old.jsonl new.jsonl --fail-above 5%
  inferclock compare cluster.jsonl --a-host w1 --b-host w2   # two workers of one file
  inferclock compare old.jsonl cluster.jsonl --b-host w2

exit status: 0; 1 when the --fail-above gate fails (a cell slower, inconclusive past T,
without an interval and slower on its point, unreadable, missing or failed in B, or a line
that held no row; the last line counts each state); 2 on bad input (checked before anything
is read; an unknown host names the side's hosts). Thresholds are never negative: T is how
much slower B may be.
""",
    )
    cmp_.add_argument("a", metavar="A", help="baseline results file")
    cmp_.add_argument(
        "b",
        metavar="B",
        nargs="?",
        help="results file to compare against A; leave it out to compare two hosts of A "
        "(then give both --a-host and --b-host)",
    )
    for side in ("a", "b"):
        cmp_.add_argument(
            f"--{side}-host",
            metavar="HOST",
            help=f"keep only this host's rows of {side.upper()}: a host name (a Dask worker's "
            "or machine's, the report's host column), a host id or a unique prefix of one",
        )
    cmp_.add_argument(
        "--threshold",
        metavar="T",
        help="the table's verdict threshold >= 0, '5%%' or 0.05 (default: --fail-above's T, "
        "else 5%%)",
    )
    cmp_.add_argument(
        "--fail-above",
        metavar="T",
        help="gate: exit 0 only when every cell is same, faster or not worse than T >= 0 "
        "('5%%'); exit 1 otherwise",
    )
    cmp_.add_argument(
        "--allow-missing",
        action="store_true",
        help="with --fail-above: cells that are unreadable, missing or failed in B, and "
        "lines that held no row, do not fail the gate (they are still listed)",
    )
    cmp_.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="with --fail-above: cells whose interval reaches past T (B may or may not be "
        "worse by more than T) do not fail the gate (they are still listed)",
    )
    cmp_.add_argument(
        "--metric",
        default="auto",
        metavar="M",
        help="what each cell is judged on: auto (throughput in throughput mode, else the "
        "median), median, throughput, or a percentile the rows carry such as p99",
    )
    cmp_.add_argument(
        "--allow-mixed",
        action="store_true",
        help="accept a side whose files come from several hosts (pooled by cell)",
    )
    cmp_.add_argument(
        "--json", metavar="OUT", help="also write the comparison (and the gate) as JSON"
    )
    cmp_error = cmp_.error

    def cmp_explained(message: str) -> NoReturn:
        # argparse reads `--fail-above -5%` as two options and says only "expected one
        # argument": add what a threshold is, and that it cannot be negative.
        for flag in ("--threshold", "--fail-above"):
            if message == f"argument {flag}: expected one argument":
                message += (
                    f" ({flag} takes a threshold such as 5% or 0.05: how much slower B may "
                    "be, so it cannot be negative)"
                )
        cmp_error(message)

    cmp_.error = cmp_explained  # type: ignore[method-assign]
