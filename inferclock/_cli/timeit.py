"""The ``inferclock timeit`` command: a Python statement timed as ``python -m timeit`` and
``pyperf timeit`` time one (``_workers.timeit``), its median with an interval, its
percentiles, the instability warning, ``--json`` on stdout and ``-o`` result rows."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

from inferclock._cli.options import add_options, given, parsed_type
from inferclock._common import parsing
from inferclock._timing.options import options as _run_options

#: The run options that apply to a statement: ``ic.measure``'s stopping, pinning and stats.
MEASURE_OPTIONS = (
    "warmup", "iterations", "duration", "target_ci", "min_time", "max_time", "max_samples",
    "min_samples", "cpus", "percentiles", "percentile_method",
)  # fmt: skip

EPILOG = """\
how it runs: SETUP runs once in each process; each sample then executes STMT NUMBER times
in a loop (-n; by default calibrated in the first process, 1, 2, 5, 10, ... until a sample
takes --min-sample-time, 20 us) and is divided by NUMBER. Samples are taken by ic.measure's
loop with the calibrated clock in -p fresh processes (default 3) one after another; the
median's and each percentile's 95% interval carries the variation within and between them.
--iterations N takes N samples in each process, --duration S times each for S seconds;
otherwise each stops when the median's interval is within --target-ci (the default budget,
6 s, shared by the processes). A warning names what makes the figure unstable (a wide
spread, a fastest sample far below the median, processes in separate speed modes).

-o FILE appends one row per process to a results file (created with its header), the rows
compare, history and publish read as any other (model and key: --name, else the statement).

examples:
  inferclock timeit -s "x = list(range(1000))" "sorted(x)"
  inferclock timeit -s "import json" -s "d = {'a': [1, 2, 3]}" "json.dumps(d)" --json
  inferclock timeit "sum(range(100))" -o before.jsonl   # then again into after.jsonl:
  inferclock compare before.jsonl after.jsonl --fail-above 5%

exit status: 0; 2 on bad input, a statement or setup that does not compile or raises (one
line naming which), checked before any process starts where it can; 130 when interrupted
(Ctrl-C), 143 on SIGTERM (the worker stopped either way).
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "timeit",
        help="time a Python statement, like python -m timeit and pyperf timeit",
        description="Time a Python statement in fresh processes: the median time per "
        "execution with its 95% interval, the percentiles p50, p90, p95 and p99 with theirs, "
        "and a warning when the figure is unstable.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "stmt", nargs="*", metavar="STMT",
        help="the statement to time (several are joined as lines; default: pass)",
    )  # fmt: skip
    p.add_argument(
        "-s", "--setup", action="append", metavar="SETUP",
        help="run once per process before timing (repeatable: joined as lines)",
    )  # fmt: skip
    p.add_argument(
        "-n", "--number", type=parsed_type(parsing.parse_int, "--number"), metavar="N",
        help="executions of STMT per sample (default: calibrated)",
    )  # fmt: skip
    p.add_argument(
        "-p", "--processes", type=parsed_type(parsing.parse_int, "--processes"), metavar="N",
        help="fresh processes, one after another (default 3)",
    )  # fmt: skip
    p.add_argument(
        "--inprocess", action="store_true",
        help="time it in this process instead of fresh ones (one process)",
    )  # fmt: skip
    p.add_argument(
        "--min-sample-time", type=parsed_type(parsing.parse_seconds, "--min-sample-time"),
        metavar="S", help="calibration: the shortest sample, in seconds (default 0.00002)",
    )  # fmt: skip
    p.add_argument("--name", metavar="NAME", help="the rows' key and model (default: STMT)")
    p.add_argument(
        "--timeout", type=parsed_type(parsing.parse_seconds, "--timeout"), metavar="S",
        help="seconds each process may take, start-up included (default: 120 plus twice the "
        "time budget)",
    )  # fmt: skip
    p.add_argument(
        "--json", action="store_true",
        help="print one JSON object on stdout instead of the text (notes go to stderr)",
    )  # fmt: skip
    p.add_argument(
        "-o", "--output", metavar="FILE",
        help="append one result row per process to this results file (.jsonl)",
    )  # fmt: skip
    add_options(p, _measure_options())


def _measure_options() -> list[Any]:
    return [o for o in _run_options() if o.name in MEASURE_OPTIONS]


def _check_output(path: str) -> None:
    """-o checked before anything runs: a writable place, and an existing file's header."""
    from inferclock._common.jsonl import RowStream, check_output_path

    out = check_output_path(path, "-o file")
    if out.exists() and out.stat().st_size > 0:
        RowStream(out).close()  # an unreadable header or a newer format: refused now


def run(args: argparse.Namespace) -> int:
    """Time the statement; print its summary (or its JSON); append its rows with -o."""
    from inferclock._analysis.stability import InstabilityWarning
    from inferclock._common.jsonl import ResultWriter, strict_dumps
    from inferclock._workers.timeit import timeit

    if args.output:
        _check_output(args.output)
    kwargs: dict[str, Any] = {}
    for name in ("number", "processes", "min_sample_time", "name", "timeout"):
        value = getattr(args, name)
        if value is not None:
            kwargs[name] = value
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = timeit(
            args.stmt or "pass", args.setup or "", inprocess=args.inprocess, **kwargs,
            **given(args, _measure_options()),
        )  # fmt: skip
    if args.json:
        print(strict_dumps(result.to_dict()))
    else:
        print(result.summary())
    sys.stdout.flush()  # the result first, then the notes on stderr
    for w in caught:
        if issubclass(w.category, InstabilityWarning):
            print(f"WARNING: {w.message}", file=sys.stderr)
        else:
            print(f"warning: {w.message}", file=sys.stderr)
    if args.output:
        writer = ResultWriter(args.output, result.header())
        rows = result.rows()
        for row in rows:
            writer.append(row)
        print(f"{len(rows)} row(s) appended to {args.output}", file=sys.stderr)
    return 0
