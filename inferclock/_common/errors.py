"""inferclock's error classes, in one place: the C++ core's typed errors and the Python ones.

The core's classes (registered once by ``register_errors.cpp``) live in ``inferclock._core``;
this module adds the errors only Python raises and makes every class picklable, so an error
crosses a process boundary (worker -> parent) as itself, with its attributes.
"""

from __future__ import annotations

from typing import Any

from inferclock._core import (
    ConfigError,
    DeviceError,
    InferclockError,
    ModelError,
    PinningError,
    PrecisionError,
)

__all__ = [
    "ConfigError",
    "ConfigTypeError",
    "DeviceError",
    "HistoryError",
    "InferclockError",
    "ModelError",
    "PinningError",
    "PrecisionError",
    "RowSchemaError",
    "StatementError",
    "Terminated",
    "WorkerCrash",
]


class ConfigTypeError(ConfigError, TypeError):
    """An argument of the wrong type: a ConfigError (so an InferclockError and a ValueError)
    that is also a TypeError."""


class HistoryError(ConfigError):
    """A history database that cannot be used as asked: locked by another writer past the
    timeout, a full disk, damaged pages or schema, a read-only file, a server connection lost.
    A ConfigError (so ``except ConfigError`` and the command line's exit 2 keep working) whose
    message names the database; ``kind`` says which ("locked", "full", "damaged", "schema",
    "read-only", "open", "connection", "database")."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.kind), self.__dict__)


class WorkerCrash(InferclockError):
    """A worker process died: a signal, a hang past its timeout, or an exit without a result.

    ``kind`` says which ("crash (SIGSEGV)", "crash (no result)", "timeout").
    """

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.kind), self.__dict__)


class StatementError(InferclockError):
    """A statement timed by ``inferclock timeit`` (or its setup) that does not compile or
    raises: the message names which one, the statement and the exception, on one line."""


class RowSchemaError(Exception):
    """A result row against its schema (``_timing.schema``): a writer wrote a field the schema
    does not declare or a value of another type, or a reader asked for an undeclared field. A
    mistake in inferclock's code, not in a run: deliberately no InferclockError, so nothing
    that records a failed run as an error row catches it."""


class Terminated(KeyboardInterrupt):
    """SIGTERM reached a run or a sweep: its worker was stopped, its temporary files removed,
    every finished row kept. A KeyboardInterrupt, so ``except Exception`` does not swallow it;
    the command line exits 143 on it."""
