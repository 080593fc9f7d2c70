"""The ``inferclock info`` command: how inferclock sees this machine (changes nothing)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(sub: Any, formatter: type[argparse.HelpFormatter], models: str) -> None:
    p = sub.add_parser(
        "info",
        help="clock calibration, CPU topology, OpenVINO devices and noise check",
        description="Show how inferclock sees this machine: the calibrated clock, CPU topology, "
        "OpenVINO version and devices, and settings that may add noise (changes nothing).",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    """Print the clock calibration, topology, OpenVINO devices and a noise check."""
    from inferclock._platform.info import collect_info, format_info

    info = collect_info()
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0
