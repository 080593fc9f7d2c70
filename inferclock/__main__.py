"""The ``inferclock`` command line (also ``python -m inferclock``).

Each subcommand is a module of ``inferclock._cli`` with ``add_parser(sub, formatter, models)``
and ``run(args)``; this module only assembles them into one parser and dispatches.
inferclock's own errors (bad arguments, missing model, unknown device) print
``error: <message>`` and exit with status 2; ``compare --fail-above`` exits 1 on a
regression; Ctrl-C exits 130 (a run prints its partial result first), SIGTERM 143 (a sweep
keeps every finished row).

May import: _common, _cli.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from inferclock._cli import (
    ab,
    bisect,
    compare,
    demo,
    history,
    info,
    loadgen,
    peak,
    profile,
    publish,
    report,
    run,
    sweep,
    timeit,
    tune,
)
from inferclock._cli.common import Formatter, builtin_models
from inferclock._common.errors import InferclockError, Terminated
from inferclock._common.util import package_version

#: The subcommands, in the order ``inferclock --help`` lists them; each is named as its module.
COMMANDS: tuple[ModuleType, ...] = (
    info, run, peak, loadgen, tune, profile, history, bisect, publish, sweep, report, compare, ab,
    timeit, demo,
)  # fmt: skip


def _name(command: ModuleType) -> str:
    return command.__name__.rpartition(".")[2]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="inferclock",
        description="Precise neural-network inference timing (OpenVINO): latency, throughput, "
        "start-up cost, pinned to sockets/cores, with confidence intervals.",
        epilog="Start with `inferclock demo` (about 5 minutes; --quick: about 1) or "
        "`inferclock run resnet50`. `inferclock COMMAND --help` explains each command.",
    )
    p.add_argument("--version", action="version", version=f"inferclock {package_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    models = ", ".join(builtin_models())
    for command in COMMANDS:
        command.add_parser(sub, Formatter, models)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    commands = {_name(c): c for c in COMMANDS}
    try:
        args, extra = parser.parse_known_args(argv)
        # A command that runs another command (bisect) takes what follows '--' even after
        # its options; any other leftover is argparse's own usage error.
        take = getattr(commands.get(args.command), "take_extra", None)
        if extra and (take is None or not take(args, extra)):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        if args.command is None:
            parser.print_help()
            return 2
        rc: int = commands[args.command].run(args)
    except (
        InferclockError,
        ValueError,
        FileNotFoundError,
        NotADirectoryError,
        PermissionError,
        ImportError,  # an optional extra missing: the message says what to install
    ) as e:
        # Typed errors carry a message meant for the user: no traceback.
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Terminated as e:  # SIGTERM: the worker stopped, temporary files removed
        print(f"terminated: {e}", file=sys.stderr)
        return 143
    except KeyboardInterrupt as e:  # Ctrl-C before a partial result could be made
        print(f"interrupted{f': {e}' if str(e) else ''}", file=sys.stderr)
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
