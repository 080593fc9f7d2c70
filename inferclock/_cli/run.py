"""The ``inferclock run`` command: ``ic.run`` of one model, its flags built from the run
options' declaration (``_cli.options``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from inferclock._cli.common import EPILOG_RUN_OPTIONS, add_plugin_flag, register_plugins
from inferclock._cli.options import add_options, given

EPILOG = f"""{EPILOG_RUN_OPTIONS}
examples:
  inferclock run resnet50 -p bf16 -b 8
  inferclock run model.xml --mode throughput --max-time 5 --json r.json
  inferclock run ssd.onnx --shape image[1,3,320,320] --socket 0
  inferclock run model.xml --env OMP_WAIT_POLICY=PASSIVE --inputs batch.npz"""


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "run",
        help="time one model on one device, precision, batch size and mode",
        description="Time inference of one model: read, compile and first inference timed "
        "apart, then warm-up and the timed loop (C++, GIL released). Prints the median latency "
        "with its 95% CI, p90, p99, throughput, start-up times and the configuration OpenVINO "
        "chose.",
        epilog=EPILOG,
        formatter_class=formatter,
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        help=f"model file OpenVINO reads (IR .xml, .onnx, .tflite, ...) or built-in name "
        f"({models})",
    )
    p.add_argument(
        "--json",
        metavar="OUT",
        help="also write the result (flat row + environment) as JSON to OUT",
    )
    add_plugin_flag(p)
    add_options(p)


def run(args: argparse.Namespace) -> int:
    """Time one model and print a summary (and its JSON with --json); 130 when interrupted."""
    from inferclock._workers.run import run as run_model

    register_plugins(args.plugin)
    if args.json:
        from inferclock._analysis.table import check_output_path

        check_output_path(args.json, "--json file")
    result = run_model(args.model, **given(args))
    print(result.summary())
    if args.json:
        Path(args.json).write_text(result.to_json() + "\n", encoding="utf-8")
        print(f"result written to {args.json}")
    return 130 if result.interrupted else 0
