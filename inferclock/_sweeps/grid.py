"""A sweep's grid: its axes, its cells and their keys, and the worker units left to run.

A *cell* is one (model, device, precision, batch size, mode, socket, and for the open-loop
modes the offered rate); its key is ``"model|device|precision|batch|mode|socket"`` (socket
``-`` when unpinned; the mode ``server@200qps`` for a rate). The axes are the
run options the declaration marks as axes (``_timing.options``), checked by the same checks as a
single run's. A *unit* is one worker process: a cell's runs in process ``p``.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from inferclock._common.errors import ConfigError, PinningError
from inferclock._timing import options as _options
from inferclock._timing.load_checks import OPEN_LOOP

if TYPE_CHECKING:
    from inferclock._timing.engine import RunSpec


#: Run options that only the open-loop cells of a sweep take.
SERVE_OPTIONS = (
    "queries", "arrival", "latency_bound_ms", "percentile", "samples_per_query",
    "max_async_queries", "issuer_nice",
)  # fmt: skip
#: Of those, the ones one open-loop mode takes (its cells get only these).
SERVE_ONLY = {"server": ("samples_per_query",), "multistream": ("arrival", "max_async_queries")}
#: What an open-loop cell of a sweep sets: one process (a verdict belongs to one schedule),
#: no iteration count and the warm-up its mode does (the sweep's apply to the other cells).
OPEN_LOOP_CELL = {"processes": 1, "iterations": None, "warmup": "auto"}


def cell_key(
    model: str,
    device: str,
    precision: str,
    batch_size: int,
    mode: str,
    socket: int | None,
    qps: float | None = None,
) -> str:
    """The key naming a cell in results files: ``"resnet50|CPU|f32|1|latency|-"``."""
    m = mode if qps is None else f"{mode}@{qps:g}qps"
    return f"{model}|{device}|{precision}|{batch_size}|{m}|{'-' if socket is None else socket}"


@dataclass(frozen=True)
class Cell:
    """One point of the grid."""

    model: str  # name (built-in name or file stem)
    device: str
    precision: str
    batch_size: int
    mode: str
    socket: int | None
    qps: float | None = None

    @property
    def key(self) -> str:
        return cell_key(
            self.model, self.device, self.precision, self.batch_size, self.mode, self.socket,
            self.qps,
        )  # fmt: skip

    @property
    def open_loop(self) -> bool:
        return self.mode in OPEN_LOOP

    def processes(self, asked: int) -> int:
        """Worker processes for this cell: an open-loop cell's verdict belongs to one schedule,
        so it runs in one."""
        return 1 if self.open_loop else asked

    def options(self, served: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The run options this cell sets (``served``: the sweep's open-loop options, for an
        open-loop cell)."""
        return {
            "device": self.device,
            "precision": self.precision,
            "batch_size": self.batch_size,
            "mode": self.mode,
            "socket": self.socket,
            "qps": self.qps,
            **({**OPEN_LOOP_CELL, **self._served(served)} if self.open_loop else {}),
        }

    def _served(self, served: Mapping[str, Any] | None) -> dict[str, Any]:
        skip = SERVE_ONLY.get(self.mode, ())
        return {k: v for k, v in (served or {}).items() if k not in skip}


@dataclass(frozen=True)
class Unit:
    """One worker process: a cell's runs in process ``process`` (the repeat indices to do)."""

    cell: Cell
    spec: RunSpec
    process: int
    repeats: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"{self.cell.key} p{self.process}"


def axis(name: str, value: Any, single: tuple[type, ...] = (str, os.PathLike)) -> list[Any]:
    """A non-empty list without duplicates from a sequence or a single value."""
    several = isinstance(value, Iterable) and not isinstance(value, (*single, bytes, Mapping))
    items = list(value) if several else [value]
    if not items:
        raise ConfigError(f"{name} is empty: give at least one value")
    seen: list[Any] = []
    for item in items:
        if item in seen:
            raise ConfigError(
                f"duplicate cells: {name} lists {item!r} twice ({items!r}); give each value once"
            )
        seen.append(item)
    return items


def check_axes(given: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each axis (``precisions``, ``batch_sizes``, ``devices``, ``modes``, ``sockets``) as a
    checked list: every value passes the check of its run option."""
    out: dict[str, list[Any]] = {}
    for name, opt in _options.axes().items():
        single: tuple[type, ...] = (str, os.PathLike)
        if opt.name in ("batch_size", "socket", "qps"):
            single = (int, float, np.integer, np.floating)
        label = name if opt.name in name else f"{name} ({opt.name})"  # batch_sizes
        values = axis(label, given.get(name, (opt.default,)), single)
        out[name] = [opt.meta.check(opt.name, v) for v in values]
    _check_sockets_present(out["sockets"])
    if out["qps"] != [None] and "server" not in out["modes"]:
        raise ConfigError(
            f"qps (offered rates) apply to modes server (not multistream); modes are {out['modes']}"
        )
    return out


def _check_sockets_present(sockets: list[int | None]) -> None:
    wanted = [s for s in sockets if s is not None]
    if not wanted:
        return
    from inferclock._platform.topology import topology

    present = tuple(topology().sockets)
    for s in wanted:
        if s not in present:
            raise PinningError(
                f"socket {s} is not present here; sockets with allowed CPUs: "
                f"{', '.join(map(str, present)) or 'none'}"
            )


def cells(models: Sequence[str], axes: Mapping[str, list[Any]]) -> list[Cell]:
    """Every cell of models x devices x precisions x batch sizes x modes x sockets, and for
    the server mode x offered rates (``qps``)."""
    rates = axes.get("qps", [None])
    return [
        Cell(m, d, p, b, mo, s, q)
        for m in models
        for d in axes["devices"]
        for p in axes["precisions"]
        for b in axes["batch_sizes"]
        for mo in axes["modes"]
        for s in axes["sockets"]
        for q in (rates if mo == "server" else [None])  # multistream takes no rate
    ]


def pending(
    grid: Sequence[Cell], processes: int, repeats: int, done: set[tuple[str, int, int]]
) -> dict[str, list[tuple[int, tuple[int, ...]]]]:
    """Per cell key: (process, repeats not yet in the file) for every process."""
    return {
        c.key: [
            (p, tuple(r for r in range(repeats) if (c.key, p, r) not in done))
            for p in range(c.processes(processes))
        ]
        for c in grid
    }


def units(
    grid: Sequence[Cell],
    specs: Mapping[str, RunSpec],
    todo: Mapping[str, list[tuple[int, tuple[int, ...]]]],
    shuffle: bool,
    seed: int,
) -> list[Unit]:
    """The worker units left to run, in grid order or a seeded random order (which spreads a
    machine's drift over the grid instead of onto one model)."""
    out = [Unit(c, specs[c.key], p, reps) for c in grid for p, reps in todo[c.key] if reps]
    if shuffle:
        random.Random(seed).shuffle(out)
    return out
