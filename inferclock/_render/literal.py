"""Text in figures drawn as written: :func:`literal_text` runs a drawing function with
matplotlib's mathtext and TeX off, so a model named ``$\\undefined$`` is a label like any
other, never parsed (and never a ``ParseFatalException`` halfway through a report)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["literal_text"]

P = ParamSpec("P")
R = TypeVar("R")


def literal_text(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with ``text.parse_math`` and ``text.usetex`` off while it runs (the caller's
    settings are restored after it); unchanged when matplotlib is missing (``fn`` says what to
    install)."""

    @functools.wraps(fn)
    def literal(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            import matplotlib
        except ImportError:
            return fn(*args, **kwargs)
        with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}):
            return fn(*args, **kwargs)

    return literal
