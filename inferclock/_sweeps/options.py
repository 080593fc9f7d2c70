"""The declaration of a sweep's own options: its results file and, for a sweep spread over a
Dask cluster, where the cells run (grid axes and run options come from
``_timing.options.RunOptions``). The CLI flags of ``inferclock sweep`` are built from it too."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from inferclock._common import checks as c, declare as _declare, parsing
from inferclock._common.declare import option
from inferclock._common.errors import ConfigError, ConfigTypeError

PLACEMENTS = ("spread", "every_host")


def is_dask_client(value: Any) -> bool:
    """A ``dask.distributed.Client`` (recognized without importing dask)."""
    return any(
        t.__name__ == "Client" and t.__module__.startswith("distributed")
        for t in type(value).__mro__
    )


_ADDRESS = re.compile(r"^(?:[a-z][a-z0-9+]*://)?[^\s/:]+:\d{1,5}$")


def cluster(name: str, value: Any) -> Any:
    """None, a scheduler address with its port ("tcp://host:8786", "host:8786") or a Dask
    Client."""
    if value is None or is_dask_client(value):
        return value
    if not isinstance(value, str):
        raise ConfigTypeError(
            f"{name} must be a Dask scheduler address such as 'tcp://host:8786' or a "
            f"dask.distributed.Client, got {type(value).__name__}"
        )
    text = value.strip()
    if not _ADDRESS.match(text):
        raise ConfigError(
            f"{name} {value!r} is not a Dask scheduler address: give 'tcp://host:8786' (or "
            "'host:8786')"
        )
    return text


def host_list(name: str, value: Any) -> tuple[str, ...] | None:
    """None, or host labels (Dask worker names, hostnames or addresses) as a list or
    comma-separated text."""
    if value is None:
        return None
    items = parsing.split_list(value) if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(h, str) for h in items):
        raise ConfigTypeError(f"{name} must be a list of host names, got {value!r}")
    hosts = tuple(h.strip() for h in items)
    if not hosts or any(not h for h in hosts):
        raise ConfigError(f"{name} must name at least one host, got {value!r}")
    if len(set(hosts)) != len(hosts):
        raise ConfigError(f"{name} names a host twice: {list(hosts)!r}")
    return hosts


def history_target(name: str, value: Any) -> str | None:
    """None, or a history: a SQLite file path or a postgresql:// URL."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigTypeError(
            f"{name} must be a SQLite file path or a postgresql:// URL, got {type(value).__name__}"
        )
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(
            f"{name} must be a SQLite file path or a postgresql:// URL, got {value!r}"
        )
    return text


@dataclass(frozen=True)
class SweepOptions:
    """A sweep's own options (grid axes and run options come from :class:`RunOptions`)."""

    repeats: int = option(
        1, check=c.integer(1, 10**6), group="sweep", metavar="N", parse=parsing.parse_int,
        help="runs per worker process, one after another",
    )  # fmt: skip
    shuffle: bool = option(
        True, check=c.boolean(), group="sweep", flag="--no-shuffle", cli="false",
        help="run cells in grid order (default: seeded random order)",
    )  # fmt: skip
    out: str = option(
        "results.jsonl", check=c.path_or_none, group="sweep", short="-o", flag="--output",
        metavar="FILE", help="results file, JSON Lines",
    )  # fmt: skip
    resume: bool = option(
        True, check=c.boolean(), group="sweep", cli="bool",
        help="continue an existing results file, skipping finished runs; --no-resume refuses "
        "an existing file",
    )  # fmt: skip
    force_resume: bool = option(
        False, check=c.boolean(), group="sweep", cli="true",
        help="resume a results file whose grid or run options differ from this sweep's (by "
        "default refused, naming the differences); the change is recorded in the file",
    )  # fmt: skip
    save_raw: bool = option(
        False, check=c.boolean(), group="sweep", cli="true",
        help="save per-inference latencies as .npy beside the results",
    )  # fmt: skip
    quiet: bool | None = option(
        None, check=c.boolean(optional=True), group="sweep", cli="true", show_default=False,
        help="no progress display (default: none when stderr is not a terminal)",
    )  # fmt: skip
    history: str | None = option(
        None, check=history_target, group="sweep", metavar="HISTORY", show_default=False,
        help="also add this sweep's rows to a history (SQLite file or postgresql:// URL; "
        "default: $INFERCLOCK_HISTORY); see 'inferclock history'",
    )  # fmt: skip
    cluster: Any = option(
        None, check=cluster, group="cluster", metavar="ADDRESS", show_default=False,
        help="run the cells on a Dask cluster: its scheduler's address (tcp://host:8786); each "
        "host runs one worker started with --nworkers 1 --nthreads 1 --resources inferclock=1",
    )  # fmt: skip
    placement: str = option(
        "spread", check=c.choice(PLACEMENTS), group="cluster",
        help="spread: each cell once, on any host; every_host: each cell on every host (a "
        "machine comparison; also --every-host)",
    )  # fmt: skip
    hosts: tuple[str, ...] | None = option(
        None, check=host_list, group="cluster", metavar="LIST", show_default=False,
        help="only these hosts of the cluster (Dask worker names, hostnames or addresses), "
        "comma-separated",
    )  # fmt: skip
    ship_models: bool = option(
        True, check=c.boolean(), group="cluster", cli="bool",
        help="send each model file's bytes to every host once (cached there by sha256); "
        "--no-ship-models: the paths are the same on every host (a shared file system)",
    )  # fmt: skip

    def __post_init__(self) -> None:
        for opt in _declare.options(type(self)):
            object.__setattr__(self, opt.name, opt.meta.check(opt.name, getattr(self, opt.name)))
        if self.out is None:
            raise ConfigError("out must be a results file path")
        if self.cluster is None:
            if self.hosts is not None:
                raise ConfigError("hosts needs cluster= (--cluster ADDRESS)")
            if self.placement != "spread":
                raise ConfigError("placement='every_host' needs cluster= (--cluster ADDRESS)")
