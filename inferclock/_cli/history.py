"""The ``inferclock history`` command: add or push results files to a history (a SQLite file or
a PostgreSQL URL), list the steps its cells took (``regressions``), and query its rows."""

from __future__ import annotations

import argparse
import os
from typing import Any

from inferclock._common.errors import ConfigError

ENV = "INFERCLOCK_HISTORY"

EPILOG = f"""\
A history holds every row of every results file added to it, one run per file, with the
git commit of the current directory and the inferclock and OpenVINO versions. A row already
stored is never stored twice, so adding or pushing a file again is harmless. HISTORY is a
SQLite file or a PostgreSQL URL (postgresql://user@host:port/db; pip install
'inferclock[postgres]'); default: ${ENV}.

--timeout: how long to wait, in seconds, while another writer holds the history's lock
(default 30); then the command stops with "locked by another writer" and exit 2. query and
regressions open the history read-only: they write nothing, so a history on a read-only
mount can be read.

regressions: each cell's series (one point per run: the run's rows combined) is segmented
with ruptures (PELT, penalty from the series' own noise); a step is listed when the medians
before and after it differ by more than the noise and by at least 3%.

examples:
  inferclock history add results.jsonl --history bench.db
  inferclock history push results.jsonl --to postgresql://ci@bench-db:5432/inferclock
  inferclock history regressions --history bench.db --metric p99
  inferclock history query --history bench.db --model resnet50 --csv resnet50.csv
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "history",
        help="a results history (SQLite or PostgreSQL): add, push, regressions, query",
        description="Keep results across runs in a history database and find where each "
        "cell's speed stepped.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    where = f"history database: a SQLite file or postgresql:// URL (default: ${ENV})"
    wait = "the longest wait, in seconds, for another writer's lock (default: ic.history's, 30)"

    add = hsub.add_parser("add", help="add results files to a history", formatter_class=formatter)
    add.add_argument("files", nargs="+", metavar="RESULTS", help="results .jsonl files")
    add.add_argument("--history", metavar="HISTORY", help=where)
    add.add_argument("--timeout", type=float, metavar="S", help=wait)

    push = hsub.add_parser(
        "push", help="upload results files to a shared history (idempotent)",
        formatter_class=formatter,
    )  # fmt: skip
    push.add_argument("files", nargs="+", metavar="RESULTS", help="results .jsonl files")
    push.add_argument("--to", dest="history", metavar="URL", help=where)
    push.add_argument("--timeout", type=float, metavar="S", help=wait)

    reg = hsub.add_parser(
        "regressions", help="steps larger than the noise in each cell's history",
        formatter_class=formatter,
    )  # fmt: skip
    reg.add_argument("--history", metavar="HISTORY", help=where)
    reg.add_argument("--timeout", type=float, metavar="S", help=wait)
    reg.add_argument(
        "--metric", default="auto",
        help="auto (throughput for throughput-mode cells, else median), median, throughput "
        "or a percentile such as p99",
    )  # fmt: skip

    q = hsub.add_parser("query", help="print or export the stored rows", formatter_class=formatter)
    q.add_argument("--history", metavar="HISTORY", help=where)
    q.add_argument("--timeout", type=float, metavar="S", help=wait)
    q.add_argument("--model", help="only this model")
    q.add_argument("--precision", help="only this requested precision")
    q.add_argument("--host", help="only this host id")
    q.add_argument("--key", help="only this cell key")
    q.add_argument("--csv", metavar="OUT", help="write the rows as CSV to OUT")


def run(args: argparse.Namespace) -> int:
    """The action asked for: add (or push), regressions or query."""
    action = {"add": cmd_add, "push": cmd_add, "regressions": cmd_regressions, "query": cmd_query}
    return action[args.history_command](args)


def target(given: str | None) -> str:
    """--history / --to, else $INFERCLOCK_HISTORY."""
    t = given or os.environ.get(ENV)
    if not t:
        raise ConfigError(f"no history: give --history FILE (or --to URL), or set {ENV}")
    return t


def _wait(args: argparse.Namespace) -> dict[str, Any]:
    return {} if args.timeout is None else {"timeout": args.timeout}


def cmd_add(args: argparse.Namespace) -> int:
    from inferclock._tracking.history import history

    with history(target(args.history), **_wait(args)) as h:
        for f in args.files:
            n = h.add_file(f)
            print(f"{f}: {n} new row(s)")
    return 0


def cmd_regressions(args: argparse.Namespace) -> int:
    from inferclock._tracking.history import history

    with history(target(args.history), **_wait(args), read_only=True) as h:
        steps = h.regressions(metric=args.metric)
    if not steps:
        print("no step larger than the noise")
        return 0
    head = ("cell", "host", "run", "commit", "version", "metric", "before -> after", "ratio", "")
    lines = [head]
    for s in steps:
        lines.append((
            s.key, (s.host or "-")[:12], f"{s.run_id} (#{s.index}) {s.at[:19]}",
            (s.commit or "-")[:12], s.version, s.metric,
            f"{_fmt(s.before, s.metric)} -> {_fmt(s.after, s.metric)}", f"{s.ratio:.3f}",
            s.direction,
        ))  # fmt: skip
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    for r in lines:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def _fmt(v: float, metric: str) -> str:
    return f"{v:.1f} fps" if metric == "throughput" else f"{v / 1e6:.3f} ms"


def cmd_query(args: argparse.Namespace) -> int:
    from inferclock._tracking.history import history

    with history(target(args.history), **_wait(args), read_only=True) as h:
        df = h.query(model=args.model, precision=args.precision, host=args.host, key=args.key)
    if args.csv:
        try:
            df.to_csv(args.csv, index=False)
        except OSError as e:
            raise ConfigError(f"cannot write {args.csv!r}: {e}") from None
        print(f"{len(df)} row(s) written to {args.csv}")
        return 0
    if len(df) == 0:
        print("no rows")
        return 0
    cols = [c for c in ("run_id", "commit", "key", "host", "latency_median_ns", "throughput_fps",
                        "error") if c in df.columns]  # fmt: skip
    print(df[cols].to_string(index=False))
    return 0
