"""How the report's figures read at a glance: plain tick labels on log axes, and the look of
each speed mode.

**Log axes.** matplotlib labels a log axis's ticks in scientific notation: ``10^2`` at each
decade, and ``6x10^2`` on the minor ticks of an axis spanning less than a decade (a latency
axis from 400 to 900 ms). :func:`plain_log_ticks` relabels every log axis of a finished figure
with plain numbers (``600``, ``1000``, ``0.5``), keeping matplotlib's choice of *which* minor
ticks get a label (all of them on a short axis, none on a long one).

**Modes.** Latency and throughput cells of one precision share its colour family but are
told apart by three things at once, so a grey-scale print or a colour-blind reader still sees
which is which: latency in the precision's colour with filled circles and a solid line,
throughput in a darker shade of it with open squares and a dashed line (:func:`mode_style`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["mode_color", "mode_style", "plain_log_ticks", "plain_number"]

# (line style, marker, marker face: "full" or "white", shade: the fraction mixed with black)
_MODES: dict[str, tuple[str, str, str, float]] = {
    "latency": ("-", "o", "full", 0.0),
    "throughput": ("--", "s", "white", 0.45),
}
_OTHER_MODE = (":", "^", "full", 0.25)


def plain_number(x: float) -> str:
    """``600.0000001`` -> ``"600"``, ``1e6`` -> ``"1000000"``, ``0.0005`` -> ``"0.0005"``: three
    significant digits, never an exponent."""
    import numpy as np

    if not math.isfinite(x):
        return str(x)
    v = float(f"{x:.3g}")
    return str(np.format_float_positional(v, trim="-"))


def _plain_formatter(old: Any) -> Any:
    """A ``LogFormatter`` like ``old`` (same base, same minor-label choice) that writes plain
    numbers."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def _num_to_string(self, x: float, vmin: float, vmax: float) -> str:
            return plain_number(x)

    return PlainLogFormatter(
        base=old._base, labelOnlyBase=old.labelOnlyBase, minor_thresholds=old.minor_thresholds
    )


def plain_log_ticks(fig: Figure) -> Figure:
    """Every log axis of ``fig`` labelled with plain numbers (see the module docstring);
    axes whose labels the code set itself (``set_xticks(ticks, labels)``) are left as they
    are. Returns ``fig``."""
    from matplotlib.ticker import LogFormatter

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log":
                continue
            major, minor = axis.get_major_formatter(), axis.get_minor_formatter()
            if isinstance(major, LogFormatter):
                axis.set_major_formatter(_plain_formatter(major))
            if isinstance(minor, LogFormatter):
                axis.set_minor_formatter(_plain_formatter(minor))
    return fig


def mode_color(color: str, mode: str) -> str:
    """``color`` (a precision's) as drawn for ``mode``: itself for latency, darker for
    throughput."""
    from matplotlib.colors import to_hex, to_rgb

    shade = _MODES.get(mode, _OTHER_MODE)[3]
    r, g, b = to_rgb(color)
    return str(to_hex((r * (1 - shade), g * (1 - shade), b * (1 - shade))))


def mode_style(color: str, mode: str) -> dict[str, Any]:
    """The matplotlib line keywords (colour, line style, marker, marker face) of ``mode``'s
    line in a precision's ``color``."""
    ls, marker, face, _ = _MODES.get(mode, _OTHER_MODE)
    c = mode_color(color, mode)
    return {
        "color": c,
        "ls": ls,
        "marker": marker,
        "mfc": c if face == "full" else "white",
        "mec": c,
    }
