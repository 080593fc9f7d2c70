"""Checks of option values: the pieces the option declaration is built from (with the
command-line parsers of ``_common.parsing``).

A *check* takes ``(name, value)`` and returns the value normalized (a tuple for a CPU list, a
dict of strings for properties...) or raises a typed error that names the option and its
valid values: ConfigError (a ValueError) for a bad value, ConfigTypeError (also a TypeError)
for a value of the wrong type, PinningError / DeviceError where those fit.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from inferclock._common.errors import ConfigError, ConfigTypeError, PinningError
from inferclock._common.util import is_int, is_real

Check = Callable[[str, Any], Any]
Parse = Callable[[str], Any]

#: Longest time any option takes, in seconds (a year): beyond it a number is a typo.
MAX_SECONDS = 365 * 86400.0


def _kind(value: object) -> str:
    return type(value).__name__


def integer(
    lo: int, hi: int | None = None, *, optional: bool = False, error: type = ConfigError
) -> Check:
    """An int in [lo, hi] (None allowed when ``optional``); out of range raises ``error``, a
    wrong type ConfigTypeError (or ``error`` when that is not ConfigError)."""

    def check(name: str, value: Any) -> int | None:
        if value is None and optional:
            return None
        want = f"{name} must be an integer{_range_text(lo, hi)}{' or None' if optional else ''}"
        if not is_int(value):
            raise (ConfigTypeError if error is ConfigError else error)(f"{want}, got {value!r}")
        v = int(value)
        if v < lo or (hi is not None and v > hi):
            raise error(f"{want}, got {v}")
        return v

    return check


def _range_text(lo: int | float, hi: int | float | None) -> str:
    if hi is None:
        return " >= 1" if lo == 1 else f" >= {lo}"
    return f" in {lo}..{hi:g}" if isinstance(hi, float) else f" in {lo}..{hi}"


def seconds(
    *, optional: bool = False, zero: bool = False, inf: bool = False, hi: float = MAX_SECONDS
) -> Check:
    """A number of seconds: finite and > 0 (>= 0 with ``zero``; math.inf with ``inf``)."""

    def check(name: str, value: Any) -> float | None:
        if value is None and optional:
            return None
        if not is_real(value):
            raise ConfigTypeError(
                f"{name} must be a number of seconds{' or None' if optional else ''}, got {value!r}"
            )
        v = float(value)
        if inf and v == math.inf:
            return v
        if math.isnan(v) or not (v >= 0 if zero else v > 0) or v > hi:
            allowed = ">= 0" if zero else "> 0"
            raise ConfigError(
                f"{name} must be a finite number of seconds {allowed} (at most {hi:g})"
                f"{', or inf for no limit' if inf else ''}, got {value!r}"
            )
        return v

    return check


def fraction(name: str, value: Any) -> float:
    """A relative width in (0, 1]: 0.01 is 1%."""
    if not is_real(value):
        raise ConfigTypeError(f"{name} must be a number in (0, 1] such as 0.01, got {value!r}")
    v = float(value)
    if not (0 < v <= 1):
        raise ConfigError(f"{name} must be in (0, 1] (e.g. 0.01 for 1%), got {value!r}")
    return v


def boolean(*, optional: bool = False) -> Check:
    def check(name: str, value: Any) -> bool | None:
        if value is None and optional:
            return None
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigTypeError(
                f"{name} must be True or False{' or None' if optional else ''}, got {value!r}"
            )
        return bool(value)

    return check


def choice(choices: Iterable[str], *, lower: bool = False) -> Check:
    options = tuple(choices)

    def check(name: str, value: Any) -> str:
        v = value.lower() if lower and isinstance(value, str) else value
        if not isinstance(v, str) or v not in options:
            raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(options)}")
        return v

    return check


def device(name: str, value: Any) -> str:
    """A device string's form (presence is checked against OpenVINO when a run is prepared:
    DeviceError there, naming the devices present)."""
    want = f"{name} must be a device string like 'CPU', 'GPU.1' or 'HETERO:FPGA,CPU'"
    if not isinstance(value, str):
        raise ConfigTypeError(f"{want}, got {value!r}")
    if not value.strip() or value != value.strip() or "\0" in value:
        raise ConfigError(f"{want}, got {value!r}")
    return value


def socket(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if not is_int(value) or int(value) < 0:
        raise PinningError(f"{name} must be a non-negative socket number or None, got {value!r}")
    return int(value)


MAX_CPU = 65535  # the core's kMaxCpu (cpulist.hpp; a test keeps them equal): beyond, a typo


def cpu_list(name: str, value: Any) -> tuple[int, ...] | None:
    """CPUs as "0-3,8", an int or an iterable of ints -> a sorted tuple without duplicates."""
    from inferclock import _core

    if value is None:
        return None
    if isinstance(value, str):
        try:
            cpus = _core.parse_cpulist(value)
        except PinningError as e:
            raise PinningError(f"{name}: {e}") from None
    elif (isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping))) or is_int(value):
        items = [value] if is_int(value) else list(value)
        if not all(is_int(c) and 0 <= int(c) <= MAX_CPU for c in items):
            raise PinningError(
                f"{name} must be CPU numbers in 0..{MAX_CPU} (a list, an int or text like "
                f"'0-3,8'), got {value!r:.80}"
            )
        cpus = [int(c) for c in items]
    else:
        raise PinningError(f"{name} must be a CPU list like '0-3,8' or [0, 1], got {value!r}")
    if not cpus:
        raise PinningError(f"{name} must name at least one CPU")
    return tuple(sorted(set(cpus)))


def string_map(*, keys: str = "key", env: bool = False) -> Check:
    """A mapping -> dict[str, str]; bools become "TRUE"/"FALSE" (OpenVINO's spelling)."""

    def check(name: str, value: Any) -> dict[str, str] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigTypeError(f"{name} must be a dict {{{keys}: value}}, got {_kind(value)}")
        out: dict[str, str] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k or (env and not _ENV_NAME.fullmatch(k)):
                raise ConfigError(f"{name}: {k!r} is not a valid {keys}")
            if isinstance(v, bool):
                out[k] = str(v).upper()
            elif isinstance(v, (str, int, float, os.PathLike)) and "\0" not in str(v):
                out[k] = os.fspath(v) if isinstance(v, os.PathLike) else str(v)
            else:
                raise ConfigError(f"{name}[{k!r}] must be a string or a number, got {v!r}")
        return out or None

    return check


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def shape_map(name: str, value: Any) -> dict[str, tuple[int, ...]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigTypeError(f"{name} must be a dict {{input name: [dims]}}, got {_kind(value)}")
    out: dict[str, tuple[int, ...]] = {}
    for k, dims in value.items():
        ok = isinstance(dims, Iterable) and not isinstance(dims, (str, bytes))
        items = list(dims) if ok else []
        if not isinstance(k, str) or not ok or not items or not all(_dim(d) for d in items):
            raise ConfigError(
                f"{name}[{k!r}] must be a list of integer dims in 1..{MAX_DIM} like "
                f"[1, 3, 224, 224] (-1 for the batch dimension: batch_size), got {dims!r}"
            )
        out[k] = tuple(int(d) for d in items)
    return out or None


MAX_DIM = (1 << 31) - 1


def _dim(d: Any) -> bool:
    return is_int(d) and (1 <= int(d) <= MAX_DIM or int(d) == -1)


def path_or_none(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigTypeError(f"{name} must be a directory path or None, got {_kind(value)}")
    return os.fspath(value)


def warmup(name: str, value: Any) -> str | int | float:
    """ "auto", a count of calls (int >= 0) or seconds (float >= 0)."""
    if isinstance(value, str):
        if value != "auto":
            raise ConfigError(
                f'{name} must be "auto", a count (int) or seconds (float), got {value!r}'
            )
        return value
    if is_int(value):
        return integer(0, 10**9)(name, value)  # type: ignore[no-any-return]
    if is_real(value):
        return seconds(zero=True)(name, value)  # type: ignore[no-any-return]
    raise ConfigTypeError(f'{name} must be "auto", an int or a float, got {_kind(value)}')


def input_sets(name: str, value: Any) -> tuple[dict[str, np.ndarray[Any, Any]], ...] | None:
    """User inputs: one dict {input name: array} or a list of them (rotated)."""
    if value is None:
        return None
    sets = [value] if isinstance(value, Mapping) else _as_list(name, value)
    if not sets:
        raise ConfigError(
            f"{name} must be a dict {{input name: array}} or a non-empty list of them"
        )
    out = []
    for s in sets:
        if not isinstance(s, Mapping) or not all(isinstance(k, str) for k in s):
            raise ConfigTypeError(
                f"each set of {name} must be a dict {{input name: numpy array}}, got {s!r:.80}"
            )
        try:
            out.append({k: np.ascontiguousarray(v) for k, v in s.items()})
        except (TypeError, ValueError) as e:
            raise ConfigTypeError(f"{name}: an input is not an array ({e})") from None
    return tuple(out)


def calibration(name: str, value: Any) -> tuple[Any, ...] | None:
    """int8 calibration items (arrays, lists of arrays or dicts by input name), kept as a
    tuple so an iterator is not used up by the first model of a sweep."""
    if value is None:
        return None
    if isinstance(value, (np.ndarray, Mapping)):
        raise ConfigError(f"{name} is one input; pass an iterable of inputs, e.g. [array, ...]")
    # Checked already (a sweep's cells copy one set of options): the same tuple, so the int8
    # quantization memo (keyed by it) quantizes once per model.
    items = value if isinstance(value, tuple) else tuple(_as_list(name, value))
    if not items:
        raise ConfigError(f"{name} is empty; give at least one input")
    return items


def _as_list(name: str, value: Any) -> list[Any]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigTypeError(f"{name} must be a list, got {_kind(value)}")
    return list(value)


def percentile_list(name: str, value: Any) -> tuple[float, ...]:
    """Percentiles in [0, 100], e.g. (50, 90, 99, 99.9): sorted, duplicates dropped."""
    want = f"{name} must be a non-empty list of percentiles in [0, 100] such as [50, 90, 99]"
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigTypeError(f"{want}, got {value!r}")
    items = list(value)
    if not all(is_real(p) for p in items):
        raise ConfigTypeError(f"{want}, got {value!r}")
    if not items:
        raise ConfigError(f"{want}, got {value!r}")
    if not all(0 <= float(p) <= 100 for p in items):
        raise ConfigError(f"{want}, got {value!r}")
    return tuple(sorted({float(p) for p in items}))
