"""Callables that ic.measure can import by name in fresh worker processes (tests)."""

from __future__ import annotations

_STATE = {"calls": 0, "ready": False}


def sort_1000() -> None:
    sorted(range(1000))


def setup() -> None:
    _STATE["ready"] = True


def needs_setup() -> None:
    if not _STATE["ready"]:
        raise RuntimeError("setup was not called in this process")
    sorted(range(100))


def unstable() -> None:
    """Every other call does 30 times the work: a spread no median can summarize."""
    _STATE["calls"] += 1
    sorted(range(30_000 if _STATE["calls"] % 2 else 1_000))


def fails() -> None:
    raise ValueError("boom from a worker")
