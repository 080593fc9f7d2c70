"""Text in figures drawn as written: a model named ``$\\undefined$`` is a label like any
other, never parsed as mathtext (and never a ``ParseFatalException`` halfway through a report).

:func:`literal_labels` runs on each finished figure before it is saved: every text the
figure holds (titles, axis labels, legends, annotations, tick labels given with
``set_ticks(..., labels)``: cell names, layer types, percentile names) gets ``parse_math``
off; only the labels tick formatters write themselves (a log axis's
``$\\mathdefault{10^{2}}$``, an offset) stay mathtext, as matplotlib draws them.
:func:`literal_text` runs a drawing function with ``text.usetex`` off, so a user's TeX
setting never sends a model's name through LaTeX.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["literal_labels", "literal_text"]

P = ParamSpec("P")
R = TypeVar("R")


def literal_labels(fig: Figure) -> Figure:
    """Make every text of ``fig`` from inferclock's code or from data literal (see the module
    docstring); returns ``fig``."""
    from matplotlib.text import Text
    from matplotlib.ticker import FixedLocator

    formatted: set[int] = set()  # written by a tick formatter: its mathtext is matplotlib's
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatted.add(id(axis.offsetText))
            for ticks, locator in (  # get_*_ticks: every tick a draw would use, made now
                (axis.get_major_ticks(), axis.get_major_locator()),
                (axis.get_minor_ticks(), axis.get_minor_locator()),
            ):
                if not isinstance(locator, FixedLocator):  # else set_ticks(..., labels): data
                    formatted.update(id(t) for tick in ticks for t in (tick.label1, tick.label2))
    for text in fig.findobj(Text):
        if id(text) not in formatted:
            text.set_parse_math(False)
    return fig


def literal_text(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with ``text.usetex`` off while it runs (the caller's setting is restored after
    it); unchanged when matplotlib is missing (``fn`` says what to install)."""

    @functools.wraps(fn)
    def literal(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            import matplotlib
        except ImportError:
            return fn(*args, **kwargs)
        with matplotlib.rc_context({"text.usetex": False}):
            return fn(*args, **kwargs)

    return literal
