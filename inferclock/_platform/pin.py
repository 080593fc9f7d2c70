"""Pinning to CPUs, a socket or a NUMA node: ``ic.pin`` and the handles it returns.

Pins are applied and undone by a RAII guard in the C++ core (``PinGuard``); this module
checks the arguments in Python, selects the CPUs from the topology (``_platform.topology``), warns
when OpenVINO's CPU plugin already read its mask, and keeps the pins in force so that they can be
released in any order.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

from inferclock import _core
from inferclock._common import checks as _checks
from inferclock._common.errors import ConfigError, PinningError
from inferclock._platform.topology import (
    MAX_CPU,
    PinningWarning,
    Topology,
    format_cpulist,
    openvino_cpu_started,
    topology as _read_topology,
)

__all__ = ["MAX_CPU", "Pin", "active_pins", "pin"]

Scope = Literal["process", "thread"]

# Pins not yet undone, oldest first: those in force (active_pins) and those released out of
# order that stay applied under a newer pin until it goes (see Pin.release). Holding them here
# also keeps a plain-call pin when its handle is dropped.
_held: list[Pin] = []
_held_lock = threading.Lock()


class Pin:
    """An applied pin, from :func:`pin`. ``release()`` (or leaving the ``with`` block) undoes it.

    ``cpus`` is the mask applied, ``membind_nodes`` the NUMA nodes memory is bound to (empty:
    unchanged), ``previous`` the calling thread's mask before the pin.
    """

    def __init__(self, guard: _core.PinGuard) -> None:
        self._guard = guard
        self._owner = threading.get_native_id()  # the thread a thread-scope pin binds
        self._released = False
        self.cpus: tuple[int, ...] = tuple(guard.cpus)
        self.membind_nodes: tuple[int, ...] = tuple(guard.membind_nodes)
        self.previous: tuple[int, ...] = tuple(guard.previous)
        self.scope: str = guard.scope

    @property
    def active(self) -> bool:
        """In force: made and not yet released."""
        return not self._released and self._guard.active

    def _overlaps(self, other: Pin) -> bool:
        """Whether the two pins set the mask of a common thread."""
        return "process" in (self.scope, other.scope) or self._owner == other._owner

    def release(self) -> None:
        """Undo the pin (idempotent); raises PinningError when it cannot be undone now.

        Pins that set the masks of the same threads nest: each restores what was there when it
        was made. Process-scope pins without ``membind`` may be released in any order: one
        released while a newer pin is still in force stays applied beneath it, unseen (the
        mask in force is the newest active pin's, and :func:`active_pins` no longer lists it),
        and is undone as soon as no newer pin covers it, so releasing every pin, in any order,
        brings back the mask that was there before the first. Releasing a pin before a newer
        *thread-scope* pin on the same thread, or a pin with ``membind`` before any newer
        overlapping pin, raises PinningError naming the pins to release first, and changes
        nothing.
        """
        with _held_lock:
            if self._released or self not in _held:
                self._released = True
                return
            newer = [q for q in _held[_held.index(self) + 1 :] if q._overlaps(self)]
            if newer:
                if self.membind_nodes or any(q.scope != "process" for q in newer):
                    raise PinningError(
                        f"cannot release {self!r} before the newer "
                        f"{', '.join(repr(q) for q in newer)}: release them first (a pin may "
                        "be released while newer pins on the same threads are in force only "
                        "when it and they are all process-scope, and it has no membind)"
                    )
                self._released = True  # undone by _undo_covered() once the newer pins go
                return
            error: PinningError | None = None
            try:
                self._guard.release()
            except PinningError as e:
                if self._guard.active:  # refused (membind from another thread): nothing undone
                    raise
                error = e
            self._released = True
            _held.remove(self)
            error = _undo_covered() or error
        if error is not None:
            raise error

    def __enter__(self) -> Pin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "active" if self.active else "released"
        nodes = f", membind={format_cpulist(self.membind_nodes)!r}" if self.membind_nodes else ""
        return f"<Pin cpus={format_cpulist(self.cpus)!r}{nodes} scope={self.scope!r} {state}>"


def _undo_covered() -> PinningError | None:
    """Undo released pins that no newer held pin overlaps any more, newest first (call with
    ``_held_lock`` held); returns the first error met, after undoing all it can."""
    first: PinningError | None = None
    i = len(_held) - 1
    while i >= 0:
        p = _held[i]
        if p._released and not any(q._overlaps(p) for q in _held[i + 1 :]):
            del _held[i]
            try:
                p._guard.release()
            except PinningError as e:
                first = first or e
            i = len(_held) - 1  # an older pin may be uncovered now
        else:
            i -= 1
    return first


def active_pins() -> list[Pin]:
    """Pins in force in this process, oldest first (plain-call pins included)."""
    with _held_lock:
        return [p for p in _held if p.active]


def pin(
    cpus: int | str | Iterable[int] | None = None,
    socket: int | None = None,
    numa_node: int | None = None,
    physical_only: bool = False,
    membind: bool = False,
    scope: Scope = "process",
    core_type: str | None = None,
    topology: Topology | None = None,
) -> Pin:
    """Pin to CPUs, a socket or a NUMA node; undo on ``release()`` or at the end of a ``with``.

    Give at most one of ``cpus`` (a list, an int or a string such as ``"0-3,8"``),
    ``socket`` or ``numa_node``; none means every allowed CPU. ``physical_only`` keeps each
    core's first hardware thread, ``core_type`` ("P"/"E") one kind of core of a hybrid CPU.
    ``membind`` binds memory (``set_mempolicy(MPOL_BIND)``) to the NUMA nodes of the chosen
    CPUs. ``scope="process"`` applies the mask to every thread of the process (threads started
    later inherit it); ``"thread"`` only to the calling thread. Memory policy is per thread:
    it applies to the calling thread and the threads it starts afterwards.

    Two ways to use it::

        with ic.pin(socket=0):        # pinned inside the block, restored after (also on error)
            ...
        p = ic.pin(cpus="0-3")        # plain call: pinned until p.release() or process exit
        ...
        p.release()

    The previous CPU mask of every thread and the memory policy come back on release, also
    when the block raises. Release order: process-scope pins without ``membind`` may be
    released in any order (one released under a newer pin stays applied beneath it until the
    newer one goes, so the mask in force is always the newest active pin's, and the mask from
    before the first pin comes back after the last release); releasing a pin before a newer
    thread-scope pin on the same thread, or a ``membind`` pin before a newer overlapping pin,
    raises PinningError and changes nothing (see :meth:`Pin.release`).

    Every argument is checked before anything is pinned: bad input raises PinningError naming
    the argument and its valid values (``cpus``: CPU numbers as an int, a list of ints or text
    like ``"0-3,8"``, that this process may use; ``socket``/``numa_node``: an id of this
    machine; ``physical_only``/``membind``: True or False; ``scope``: "process" or "thread";
    ``core_type``: "P", "E" or None; ``topology``: a Topology or None).

    OpenVINO reads the process CPU mask once, when its CPU plugin first starts in the process,
    and keeps that CPU map for the life of the process: pin *before* the first use of the CPU
    device (or run the pinned work in a fresh process). A pin applied after that still binds
    the threads, but OpenVINO's stream and thread layout ignores it; a PinningWarning says so
    (see :func:`openvino_cpu_started`).

    ``topology`` reuses a Topology already read instead of reading sysfs again.
    """
    sel = _checked_selection(cpus, socket, numa_node, physical_only, membind, scope, core_type)
    if topology is not None and not isinstance(topology, Topology):
        raise PinningError(
            "topology must be a Topology from ic.topology(), or None, got "
            f"{type(topology).__name__}"
        )
    topo = topology if topology is not None else _read_topology()
    want = _checked_cpus(cpus, topo)
    for name, value, valid, what in (
        ("socket", sel.socket, topo.sockets, "socket"),
        ("numa_node", sel.numa_node, tuple(n.id for n in topo.numa_nodes), "NUMA node"),
    ):
        if value is not None and value not in valid:
            raise PinningError(
                f"{name}: no {what} {value} with CPUs this process may use: valid "
                f"{'sockets' if name == 'socket' else 'nodes'} are "
                f"{format_cpulist(valid) or 'none'}"
            )
    try:
        selected = _core.select_cpus(
            topo._raw, want, sel.socket, sel.numa_node, sel.physical_only, sel.core_type
        )
    except PinningError as e:
        # Name the argument the core's message is about when it does not say so itself.
        given = [
            n
            for n, v in (("cpus", want), ("socket", socket), ("numa_node", numa_node))
            if v is not None
        ]
        if len(given) == 1 and given[0] not in str(e):
            raise PinningError(f"{given[0]}: {e}") from None
        raise
    nodes: list[int] = []
    if sel.membind:
        nodes = [sel.numa_node] if sel.numa_node is not None else topo.nodes_of(selected)
    if openvino_cpu_started():
        warnings.warn(
            PinningWarning(
                f"pinning to CPUs {format_cpulist(selected)} after OpenVINO's CPU plugin "
                "started in this process: OpenVINO keeps the CPU map it read at start-up, so "
                "its streams and threads will not follow this mask; pin before OpenVINO "
                "starts, or in a fresh process"
            ),
            stacklevel=2,
        )
    handle = Pin(_core.PinGuard(selected, sel.scope, nodes))
    with _held_lock:
        _held.append(handle)
    return handle


@dataclass(frozen=True)
class _Selection:
    socket: int | None
    numa_node: int | None
    physical_only: bool
    membind: bool
    scope: str
    core_type: str | None


def _as_pinning_error(check: _checks.Check, name: str, value: Any) -> Any:
    """Run one of the option checks; pin's errors are all PinningErrors."""
    try:
        return check(name, value)
    except ConfigError as e:
        raise PinningError(str(e)) from None


def _checked_selection(
    cpus: Any,
    socket: Any,
    numa_node: Any,
    physical_only: Any,
    membind: Any,
    scope: Any,
    core_type: Any,
) -> _Selection:
    """pin()'s arguments besides cpus and topology, checked for type and range (PinningError
    naming the argument and its valid values) before any reaches the core."""
    if not isinstance(scope, str) or scope not in ("process", "thread"):
        raise PinningError(f"scope must be 'process' or 'thread', got {scope!r}")
    if core_type is not None and (not isinstance(core_type, str) or core_type not in ("P", "E")):
        raise PinningError(f"core_type must be 'P', 'E' or None, got {core_type!r}")
    return _Selection(
        socket=_checks.socket("socket", socket),
        numa_node=_checks.integer(0, optional=True, error=PinningError)("numa_node", numa_node),
        physical_only=_as_pinning_error(_checks.boolean(), "physical_only", physical_only),
        membind=_as_pinning_error(_checks.boolean(), "membind", membind),
        scope=scope,
        core_type=core_type,
    )


def _checked_cpus(cpus: Any, topo: Topology) -> list[int] | None:
    """pin()'s ``cpus`` in the forms the run option takes (an int, ints, text like "0-3,8"),
    as a list of CPU numbers the core can hold; PinningError naming ``cpus`` if not."""
    if cpus is None:
        return None
    allowed = f"; this process may use {format_cpulist(topo.allowed) or 'no CPU'}"
    try:
        checked = _checks.cpu_list("cpus", cpus)
    except PinningError as e:
        text = str(e)
        raise PinningError(
            (text if text.startswith("cpus") else f"cpus: {text}") + allowed
        ) from None
    assert checked is not None
    return list(checked)
