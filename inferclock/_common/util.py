"""Small helpers that several modules need: type tests for user values, timestamps, text."""

from __future__ import annotations

import datetime
import math
from typing import Any

import numpy as np


def is_int(x: object) -> bool:
    """An integer (Python or numpy), not a bool."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_real(x: object) -> bool:
    """A real number (int or float, Python or numpy), not a bool."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def is_finite(x: object) -> bool:
    return is_real(x) and math.isfinite(float(x))  # type: ignore[arg-type]


def utc_now() -> str:
    """Now, as an ISO 8601 UTC timestamp with milliseconds (row timestamps)."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def first_line(text: Any, limit: int = 200) -> str:
    """The first line of ``text``, cut to ``limit`` characters (for one-line notes)."""
    lines = str(text).strip().splitlines()
    return lines[0][:limit] if lines else ""


def package_version(name: str = "inferclock") -> str | None:
    """The installed version of a distribution (None when not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
