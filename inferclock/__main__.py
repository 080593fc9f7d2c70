"""The ``inferclock`` command line (also ``python -m inferclock``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import inferclock as ic


def cmd_info(args: argparse.Namespace) -> int:
    """Print the clock calibration, topology, OpenVINO devices and a noise check."""
    try:
        from inferclock._info import collect_info, format_info
    except ImportError:  # before topology lands: the clock alone
        info = {"clock": ic.clock().to_dict(), "inferclock_version": ic.__version__}
        print(json.dumps(info, indent=2))
        return 0
    info = collect_info()
    print(json.dumps(info, indent=2, default=str) if args.json else format_info(info))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inferclock",
        description="Precise neural-network inference timing (OpenVINO): latency, throughput, "
        "start-up cost, pinned to sockets/cores, with confidence intervals.",
    )
    p.add_argument("--version", action="version", version=f"inferclock {ic.__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser(
        "info",
        help="clock calibration, CPU topology, OpenVINO devices and noise check",
        description="Show how inferclock sees this machine: the calibrated clock, CPU topology, "
        "OpenVINO version and devices, and settings that may add noise (changes nothing).",
    )
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(func=cmd_info)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
