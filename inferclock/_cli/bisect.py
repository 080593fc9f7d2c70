"""The ``inferclock bisect`` command: ``git bisect`` driven by a measurement's interval verdict
(``_tracking.bisect``), its progress printed step by step and the first bad commit with its
ratio and interval. Exit 0: found; 1: no single first bad commit (nothing slower, or only
skipped commits left); 2: bad input; 130/143: stopped (the checkout restored first)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from inferclock._cli.history import ENV as HISTORY_ENV

EPILOG = f"""\
The command runs at each commit, in the checkout (--repo), without a shell (use sh -c '...'
for a build step and a measurement). It writes its results where a placeholder says:
  {{out}}      a results file path: inferclock sweep ... -o {{out}}
              (or inferclock run MODEL --json {{out}}: its one row, keyed as a sweep's cell)
  {{storage}}  a folder: pytest ... --inferclock-storage {{storage}} --inferclock-save NAME
A pytest command naming neither gets --inferclock-storage {{storage}} --inferclock-save bisect.
Both are fresh per run, outside the checkout, and also in the environment
($INFERCLOCK_BISECT_OUT, $INFERCLOCK_BISECT_STORAGE, $INFERCLOCK_BISECT_COMMIT).

How commits are judged: GOOD and BAD are measured first; the cells where BAD is slower than
GOOD beyond --threshold (the whole interval of the ratio) are followed. Each commit git bisect
picks is compared with GOOD at the midpoint of the step (sqrt(BAD/GOOD) - 1: 14% for a 30%
step): slower -> bad; same or faster -> good; inconclusive -> the side with the wider interval
(the commit or GOOD) measured again, each side's runs pooled (a run disturbed by load counts
little), up to --runs rounds, then skipped. A commit whose command fails (exit status not
0, no rows, past --timeout) is skipped. The repository must have no uncommitted change to a
tracked file; it is returned to its branch (git bisect reset) at the end, on an error, on
Ctrl-C and on SIGTERM.

With --history (or ${HISTORY_ENV}) each commit's rows are added as one run with its commit.
Exit status: 0 found; 1 no single first bad commit (nothing slower, or only skipped commits
left: the candidates are listed); 2 bad input or the command failing at GOOD or BAD; 130 or
143 stopped by Ctrl-C or SIGTERM.

examples:
  inferclock bisect v1.2 main -- inferclock run resnet50 --json {{out}}
  inferclock bisect HEAD~20 HEAD --history bench.db -- pytest tests/speed -k tokenizer
  inferclock bisect good-tag HEAD -- sh -c 'pip install -q . && inferclock sweep m.xml -o {{out}}'
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "bisect",
        help="find the commit that made a measurement slower (git bisect with intervals)",
        description="Run COMMAND at commits between GOOD and BAD, as git bisect picks them, "
        "and name the first commit whose result is slower than GOOD's beyond its interval.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument("good", metavar="GOOD", help="a commit measured fast (hash, branch, tag)")
    p.add_argument("bad", metavar="BAD", help="a later commit measured slow (GOOD its ancestor)")
    p.add_argument(
        "argv", nargs="*", metavar="-- COMMAND",
        help="the command that measures, after '--' (see below for where it writes results)",
    )  # fmt: skip
    p.add_argument("--repo", default=".", metavar="PATH",
                   help="the git checkout (default: the current directory)")  # fmt: skip
    p.add_argument(
        "--threshold", default="5%", metavar="PCT",
        help="the smallest slow-down of BAD against GOOD worth bisecting (default 5%%)",
    )  # fmt: skip
    p.add_argument(
        "--metric", default="auto",
        help="auto (throughput for throughput-mode cells, else median), median, throughput or "
        "a percentile such as p99",
    )  # fmt: skip
    p.add_argument("--runs", default="3", metavar="N",
                   help="the most rounds of measuring at one commit while its verdict is "
                   "inconclusive (default 3)")  # fmt: skip
    p.add_argument("--key", metavar="CELL", help="follow only this cell (a key of the results)")
    p.add_argument("--timeout", metavar="S",
                   help="seconds one run of the command may take; past it the commit is "
                   "skipped (default: no limit)")  # fmt: skip
    p.add_argument("--history", metavar="HISTORY",
                   help=f"add each commit's rows to this history (a SQLite file or "
                   f"postgresql:// URL; default: ${HISTORY_ENV}, else none)")  # fmt: skip


def _number(flag: str, text: str, kind: type) -> Any:
    from inferclock._common.errors import ConfigError

    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number of seconds"
        raise ConfigError(f"{flag} must be {what}, got {text!r}") from None


def take_extra(args: argparse.Namespace, extra: list[str]) -> bool:
    """The command after '--' when options stood between BAD and it (argparse leaves it over
    then); False for anything else left over (an unknown option: a usage error)."""
    if extra[0] != "--" or args.argv:
        return False
    args.argv = extra[1:]
    return True


def run(args: argparse.Namespace) -> int:
    from inferclock._analysis.gate import parse_threshold
    from inferclock._common import checks
    from inferclock._tracking.bisect import bisect, check_runs

    command = list(args.argv)
    threshold = parse_threshold("--threshold", args.threshold)
    runs = check_runs(_number("--runs", args.runs, int), "--runs")
    timeout = None if args.timeout is None else _number("--timeout", args.timeout, float)
    timeout = checks.seconds(optional=True)("--timeout", timeout)
    history = args.history or os.environ.get(HISTORY_ENV) or None
    r = bisect(
        args.good, args.bad, command, repo=args.repo, threshold=threshold, metric=args.metric,
        runs=runs, key=args.key, history=history, timeout=timeout, say=_say,
    )  # fmt: skip
    print(f"checkout returned to {r.restored}")
    if r.first_bad is not None:
        print(f"first bad commit: {r.first_bad} {r.subject!r}")
        for c in r.cells:
            print(f"  {c.key}: {c.metric} {c.text()} against GOOD {r.good[:12]}")
        return 0
    print(r.reason)
    for sha in r.candidates:
        print(f"  candidate {sha}")
    return 1


def _say(line: str) -> None:
    print(line, flush=True)
