"""The ``inferclock loadgen`` command: MLPerf LoadGen runs a scenario with inferclock's engine
as its system under test (``ic.run(..., backend="loadgen")``); LoadGen's logs go to a folder
beside the results, its summary and inferclock's own measurement into one row."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferclock._cli.options import add_options, given
from inferclock._timing.loadgen_log import LOADGEN_MODES, SCENARIOS

#: Run options that LoadGen's settings replace (or that a LoadGen run cannot take).
SKIP = ("mode", "iterations", "warmup", "target_ci", "min_time", "max_time", "max_samples",
        "min_samples", "processes", "arrival")  # fmt: skip

EPILOG = """\
LoadGen schedules and issues the queries and judges the run; inferclock's C++ SUT starts each
sample on a free infer request and reports its completion. --duration is LoadGen's minimum
duration (default 10 s), --queries its minimum query count; --qps is the server scenario's
target rate (required there) and the offline scenario's expected rate (default: measured).
The row holds LoadGen's result, rates, percentiles and constraints (field "loadgen") beside
inferclock's own latency of the same samples (issue to completion).

examples:
  inferclock loadgen resnet50 --scenario server --qps 40 --latency-bound 100ms
  inferclock loadgen model.xml --scenario offline -o lg.jsonl      # logs in lg.mlperf/
  inferclock loadgen model.xml --scenario singlestream --duration 60 --cpus 0-3
  inferclock loadgen model.xml --scenario server --qps 20 --loadgen-mode find_peak
"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "loadgen",
        help="an MLPerf LoadGen run of one model (needs inferclock[loadgen])",
        description="Run MLPerf LoadGen's Server, Offline, SingleStream or MultiStream scenario "
        "with inferclock's engine as the system under test; print LoadGen's result beside "
        "inferclock's own measurement.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "model", metavar="MODEL", help=f"model file OpenVINO reads or built-in name ({models})"
    )
    p.add_argument(
        "--scenario", metavar="S", help=f"LoadGen's scenario: {', '.join(SCENARIOS)} (required)"
    )
    p.add_argument(
        "--loadgen-mode",
        default="performance",
        metavar="M",
        help=f"LoadGen's test mode: {', '.join(LOADGEN_MODES)} (FindPeakPerformance; server "
        "only) (default performance)",
    )
    p.add_argument(
        "--logs",
        metavar="DIR",
        help="folder for LoadGen's logs (default: <results stem>.mlperf/<scenario>-<time> "
        "beside -o, else mlperf_logs/<scenario>-<time>)",
    )
    p.add_argument("-o", "--output", metavar="FILE.jsonl", help="append the row to FILE.jsonl")
    add_options(p, skip=SKIP)


def run(args: argparse.Namespace) -> int:
    """One LoadGen run: print its summary, append its row to -o; 0 when LoadGen said VALID,
    1 when INVALID."""
    from inferclock._workers.loadgen_run import check_args, default_log_dir
    from inferclock._workers.run import run_loadgen

    scenario, _mode, logs = check_args("loadgen", args.scenario, args.loadgen_mode, args.logs)
    out = Path(args.output) if args.output else None
    if out is not None:
        from inferclock._analysis.table import check_output_path

        check_output_path(out, "results file")
    if logs is None:
        base = out.with_suffix(".mlperf") if out is not None else Path("mlperf_logs")
        logs = str(default_log_dir(scenario, base))
    result = run_loadgen(
        args.model,
        given(args, skip=SKIP),
        backend="loadgen",
        scenario=scenario,
        loadgen_mode=args.loadgen_mode,
        loadgen_logs=logs,
    )
    print(result.summary())
    if out is not None:
        write_row(out, result.to_dict(), scenario, result.env)
        print(f"row appended to {out}")
    return 0 if result.verdict == "VALID" else 1


def write_row(out: Path, row: dict[str, Any], scenario: str, env: dict[str, Any]) -> None:
    """Append ``row`` to the results file ``out`` (a header first when new)."""
    from inferclock._common.jsonl import ResultWriter
    from inferclock._timing import schema

    writer = ResultWriter(out, {"command": "loadgen", "environment": env})
    full = {"key": f"{schema.at(row, 'model')}|loadgen|{scenario}", **row}
    schema.check(full, "inferclock loadgen")
    writer.append(full)
