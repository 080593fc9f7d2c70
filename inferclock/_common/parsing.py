"""Command-line text to option values: a *parser* turns what a flag was given into a value
before the option's check (``_common.checks``) runs on it, so the CLI and the API accept and
refuse the same things. Each raises ConfigError naming what it expected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from inferclock._common.errors import ConfigError


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"expected an integer, got {text!r}") from None


def parse_seconds(text: str) -> float:
    """'0.5', '0.5s', '500ms', 'inf' -> seconds."""
    t = text.strip().lower()
    scale = 1.0
    if t.endswith("ms"):
        t, scale = t[:-2], 1e-3
    elif t.endswith("s"):
        t = t[:-1]
    try:
        return float(t) * scale
    except ValueError:
        raise ConfigError(f"expected seconds like 0.5, 2s or 500ms, got {text!r}") from None


def parse_fraction(text: str) -> float:
    """'5%' or '0.05' -> 0.05."""
    t = text.strip()
    try:
        return float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ConfigError(
            f"expected a percentage (5%) or a fraction (0.05), got {text!r}"
        ) from None


def parse_warmup(text: str) -> str | int | float:
    """'auto', a count ('20') or seconds ('0.5' or '0.5s')."""
    t = text.strip().lower()
    if t == "auto":
        return "auto"
    if t.endswith("s") or "." in t or "e" in t:
        return parse_seconds(t)
    return parse_int(t)


def parse_socket(text: str) -> int | None:
    """A socket number, or 'none'/'-' for unpinned."""
    return None if text.strip().lower() in ("none", "-") else parse_int(text)


def parse_key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


_SHAPE = re.compile(r"([^\[\],]+)\[([^\]]*)\]")


def parse_shapes(text: str) -> dict[str, list[int]]:
    """'image[1,3,320,320]' (several: 'a[1,2],b[1,8]'; -1 or ? for the batch) -> {name: dims}."""
    found = _SHAPE.findall(text)
    if not found or _SHAPE.sub("", text).replace(",", "").strip():
        raise ConfigError(
            f"expected NAME[dims] like image[1,3,320,320] (several: a[1,2],b[1,8]), got {text!r}"
        )
    try:
        return {
            n.strip(): [-1 if d.strip() == "?" else int(d) for d in dims.split(",") if d.strip()]
            for n, dims in found
        }
    except ValueError:
        raise ConfigError(f"shape {text!r}: dimensions must be integers") from None


def load_npz(text: str) -> dict[str, np.ndarray[Any, Any]]:
    """A .npz file -> {array name: array} (one input set, or one calibration item)."""
    p = Path(text).expanduser()
    try:
        with np.load(p, allow_pickle=False) as z:
            if not hasattr(z, "files"):
                raise ConfigError(f"{text!r} is a .npy array; expected a .npz of named arrays")
            return {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot read arrays from {text!r}: {e}") from None


def split_list(text: str) -> list[str]:
    """'a,b, c' -> ['a', 'b', 'c']."""
    return [x.strip() for x in text.split(",") if x.strip()]


def split_devices(text: str) -> list[str]:
    """'CPU,GPU' -> two devices; a value with ':' ('HETERO:FPGA,CPU') is one device."""
    return [text.strip()] if ":" in text else split_list(text)


def parse_percentiles(text: str) -> list[float]:
    """'50,90,99.9' -> [50.0, 90.0, 99.9] (a leading 'p' is allowed: p99)."""
    try:
        return [float(t.lower().removeprefix("p")) for t in split_list(text)]
    except ValueError:
        raise ConfigError(f"expected percentiles like 50,90,99.9, got {text!r}") from None
