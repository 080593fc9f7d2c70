"""The declaration of a profile's own options (``ic.profile``): each once, with its type,
default, check, help text and command-line flag, and the run options a profile takes from
``ic.run`` (``RUN_OPTIONS``, declared in ``_timing.options.RunOptions``). ``ic.profile``'s
keyword defaults are tested against these, its arguments checked by them, and the
``profile`` command's flags and help built from them (``_cli.options``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferclock._common import checks as c, declare as _declare, parsing
from inferclock._common.declare import Option, option
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._timing.options import RunOptions

#: Rounds unless told (fewer when there are fewer iterations); 6 give a 95% interval.
DEFAULT_ROUNDS = 10
#: Most rounds a profile may ask for (each compiles a copy).
MAX_ROUNDS = 1000
MAX_ITERATIONS = 10_000_000
#: ``ic.run`` options a profile takes (``ic.profile``'s parameters and the CLI's flags).
RUN_OPTIONS = (
    "device", "batch_size", "precision", "warmup", "iterations", "socket", "cpus", "streams",
    "threads", "shapes", "inputs", "seed", "max_time", "hint", "strict", "properties",
    "cache_dir", "input_sets", "calibration", "isolate", "timeout", "env",
)  # fmt: skip


def graph_path(name: str, value: Any) -> str | None:
    """None, or an .xml path in an existing folder: returned absolute."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ConfigTypeError(f"{name} must be a .xml path or None, got {value!r}")
    p = Path(value).expanduser().resolve()
    if p.suffix != ".xml":
        raise ConfigError(f"{name} must name an .xml file (OpenVINO IR), got {str(p)!r}")
    if not p.parent.is_dir():
        raise ConfigError(f"{name}: folder {str(p.parent)!r} does not exist")
    return str(p)


@dataclass(frozen=True)
class ProfileOptions:
    """A profile's own options; ``iterations`` is also a run option, declared again here with
    the profile's default and limit."""

    iterations: int = option(
        100, check=c.integer(1, MAX_ITERATIONS), group="stop", metavar="N", parse=parsing.parse_int,
        help="profile N inferences, shared by the rounds",
    )  # fmt: skip
    rounds: int | None = option(
        None, check=c.integer(1, MAX_ROUNDS, optional=True), group="", metavar="N",
        parse=parsing.parse_int, show_default=False,
        help=f"rounds the iterations are split over, each on a fresh compile (default "
        f"{DEFAULT_ROUNDS}, or the iterations when fewer; at least 6 for a 95% interval)",
    )  # fmt: skip
    save_graph: str | None = option(
        None, check=graph_path, group="", metavar="FILE.xml", show_default=False,
        help="write the executed graph as IR",
    )  # fmt: skip

    def __post_init__(self) -> None:
        _declare.check_fields(self)
        if self.rounds is not None and self.rounds > self.iterations:
            raise ConfigError(
                f"rounds ({self.rounds}) must not exceed iterations ({self.iterations}): each "
                "round needs one"
            )

    @property
    def round_count(self) -> int:
        """``rounds``, or by default DEFAULT_ROUNDS (the iterations when fewer)."""
        return min(DEFAULT_ROUNDS, self.iterations) if self.rounds is None else self.rounds


def own_options() -> list[Option]:
    """The profile's options that are not run options (rounds, save_graph)."""
    return [o for o in _declare.options(ProfileOptions) if o.name not in RUN_OPTIONS]


def run_options() -> list[Option]:
    """The run options a profile takes, in ``RunOptions``' order, each as declared there or,
    where the profile declares it again (iterations), as the profile does."""
    own = {o.name: o for o in _declare.options(ProfileOptions)}
    return [own.get(o.name, o) for o in _declare.options(RunOptions) if o.name in RUN_OPTIONS]
