"""Hand-drawn inline SVG for the published dashboard: scales, ticks, and the marks of a chart.

This module owns the arithmetic from values to pixels (:class:`Scale`, linear or log), the
tick values and their labels (plain decimals, ``0.5``, ``2``, ``500``, ``2,000``: never
``6x10^2``), and the SVG text of a chart's parts: the frame with its grid and tick labels,
interval bands and whiskers, lines, and points whose hover is an SVG ``<title>`` (shown by
the browser itself: no script). Every text drawn from results passes :func:`esc` here, which
also replaces the characters XML cannot hold. What each chart shows is
:mod:`inferclock._render.dash_charts`'s.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Box",
    "Scale",
    "band",
    "clean",
    "esc",
    "frame",
    "line",
    "log_ticks",
    "marker",
    "nice_ticks",
    "point",
    "svg",
    "tick_label",
    "whisker",
]

# Characters XML 1.0 cannot hold (controls other than tab, newline and return; lone surrogates;
# the two non-characters): a feed or an inline SVG holding one would not parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Okabe-Ito: told apart by colour-blind readers too; markers differ as well (``MARKERS``).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
MARKERS = ("circle", "square", "triangle", "diamond")
REGRESSION, IMPROVEMENT = "#b3261e", "#1a7f37"


def clean(text: object) -> str:
    """``text`` as a string XML can hold (invalid characters become U+FFFD)."""
    return _NOT_XML.sub("\ufffd", str(text))


def esc(text: object) -> str:
    """``text`` escaped for an XML/HTML text node or a quoted attribute."""
    return html.escape(clean(text), quote=True)


def tick_label(v: float) -> str:
    """A tick's label: about 3 significant digits as a plain decimal (no exponent)."""
    if v == 0 or not math.isfinite(v):
        return "0" if v == 0 else str(v)
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    decimals = max(0, 2 - math.floor(math.log10(a)))
    text = f"{v:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values (steps of 1, 2, 2.5 or 5 times a power of ten) in [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    ticks = []
    k = first
    while k * step <= hi + step * 1e-9:
        ticks.append(round(k * step, 12))
        k += 1
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Round values in [lo, hi] (both > 0) for a log axis: powers of ten, else 1-2-5, else
    finer, whichever first gives at least 3 ticks; a range too narrow for any of them (less
    than a factor of 1.5 or so, where a log axis is nearly linear) gets :func:`nice_ticks`."""
    k0, k1 = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    ticks: list[float] = []
    for mults in ((1,), (1, 2, 5), (1, 2, 3, 5, 7), (1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [
            round(m * 10.0**k, 12)
            for k in range(k0, k1 + 1)
            for m in mults
            if lo <= m * 10.0**k <= hi
        ]
        if len(ticks) >= 3:
            return ticks
    return nice_ticks(lo, hi, 4)


@dataclass(frozen=True)
class Box:
    """The plotting area of a chart, in px inside its ``width`` x ``height`` viewBox."""

    width: int
    height: int
    left: int = 64
    right: int = 16
    top: int = 16
    bottom: int = 56

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:  # the bottom of the area: values grow upwards
        return self.height - self.bottom

    @property
    def y1(self) -> float:
        return self.top

    def slot(self, i: int, n: int) -> float:
        """The x of item ``i`` of ``n`` evenly spaced ones (half a step in from each side)."""
        return self.x0 + (i + 0.5) * (self.x1 - self.x0) / max(n, 1)


@dataclass(frozen=True)
class Scale:
    """Values in [lo, hi] to pixels in [px0, px1]; on a log axis both ends are > 0."""

    lo: float
    hi: float
    px0: float
    px1: float
    log: bool = False

    @classmethod
    def fit(cls, values: Sequence[float], px0: float, px1: float, *, log: bool = False) -> Scale:
        """A scale over ``values`` with a little room at both ends."""
        vals = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
        if not vals:
            return cls(1.0, 10.0, px0, px1, log) if log else cls(0.0, 1.0, px0, px1, log)
        lo, hi = min(vals), max(vals)
        if log:
            pad = max((hi / lo) ** 0.04, 1.08)
            return cls(lo / pad, hi * pad, px0, px1, True)
        span = hi - lo or abs(hi) * 0.1 or 1.0
        return cls(lo - 0.08 * span, hi + 0.08 * span, px0, px1, False)

    def __call__(self, v: float) -> float:
        if self.log:
            v = max(v, self.lo)
            t = math.log(v / self.lo) / math.log(self.hi / self.lo)
        else:
            t = (v - self.lo) / (self.hi - self.lo)
        return round(self.px0 + t * (self.px1 - self.px0), 2)

    def ticks(self) -> list[float]:
        return log_ticks(self.lo, self.hi) if self.log else nice_ticks(self.lo, self.hi)


def svg(box: Box, body: str, *, label: str, cls: str) -> str:
    """An inline ``<svg>`` of ``box``'s size holding ``body``; ``label`` read by screen
    readers."""
    return (
        f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {box.width} '
        f'{box.height}" width="{box.width}" height="{box.height}" role="img" '
        f'aria-label="{esc(label)}">{body}</svg>'
    )


def frame(
    box: Box,
    y: Scale,
    *,
    y_title: str,
    x_title: str,
    x_labels: Sequence[tuple[float, str, str]] = (),
    max_labels: int = 12,
) -> str:
    """The chart's grid, y tick labels, the x labels (``(x, line 1, line 2)``, thinned to
    ``max_labels`` keeping the last) and both axis titles."""
    out = [
        f'<rect x="{box.x0}" y="{box.y1}" width="{box.x1 - box.x0}" height="{box.y0 - box.y1}" '
        'fill="#fff" stroke="#d0d7de"/>'
    ]
    for t in y.ticks():
        py = y(t)
        out.append(
            f'<line x1="{box.x0}" x2="{box.x1}" y1="{py}" y2="{py}" stroke="#eaeef2"/>'
            f'<text class="ytick" x="{box.x0 - 6}" y="{py + 4}" text-anchor="end">'
            f"{esc(tick_label(t))}</text>"
        )
    n = len(x_labels)
    every = max(1, math.ceil(n / max_labels))
    for i, (px, a, b) in enumerate(x_labels):
        if (n - 1 - i) % every:
            continue
        out.append(
            f'<text class="xtick" x="{px}" y="{box.y0 + 15}" text-anchor="middle">'
            f'<tspan x="{px}">{esc(a)}</tspan>'
            + (f'<tspan class="sub" x="{px}" dy="13">{esc(b)}</tspan>' if b else "")
            + "</text>"
        )
        out.append(f'<line x1="{px}" x2="{px}" y1="{box.y0}" y2="{box.y0 + 4}" stroke="#8c959f"/>')
    mid_y = (box.y0 + box.y1) / 2
    out.append(
        f'<text class="axis" x="14" y="{mid_y}" text-anchor="middle" '
        f'transform="rotate(-90 14 {mid_y})">{esc(y_title)}</text>'
        f'<text class="axis" x="{(box.x0 + box.x1) / 2}" y="{box.height - 6}" '
        f'text-anchor="middle">{esc(x_title)}</text>'
    )
    return "".join(out)


def band(
    xs: Sequence[float], lows: Sequence[float | None], highs: Sequence[float | None], y: Scale,
    color: str,
) -> str:  # fmt: skip
    """The interval as a shaded band: one polygon per run of points that all have one."""
    out, run = [], []
    for x, lo, hi in [*zip(xs, lows, highs, strict=True), (0.0, None, None)]:
        if lo is not None and hi is not None:
            run.append((x, lo, hi))
            continue
        if len(run) >= 2:
            top = " ".join(f"{px},{y(h)}" for px, _, h in run)
            bottom = " ".join(f"{px},{y(lo_)}" for px, lo_, _ in reversed(run))
            out.append(
                f'<polygon class="band" points="{top} {bottom}" fill="{color}" '
                'fill-opacity="0.16" stroke="none"/>'
            )
        run = []
    return "".join(out)


def whisker(x: float, lo: float | None, hi: float | None, y: Scale, color: str) -> str:
    """A point's interval as a thin vertical bar with caps ("" without an interval)."""
    if lo is None or hi is None:
        return ""
    a, b = y(lo), y(hi)
    return (
        f'<path class="ci" d="M{x - 3},{a}H{x + 3}M{x},{a}V{b}M{x - 3},{b}H{x + 3}" '
        f'stroke="{color}" stroke-width="1" fill="none"/>'
    )


def line(
    pts: Sequence[tuple[float, float]], color: str, *, width: float = 1.5, dash: str = "",
    cls: str = "line",
) -> str:  # fmt: skip
    """A polyline through ``pts`` (pixels)."""
    if len(pts) < 2:
        return ""
    d = " ".join(f"{x},{y}" for x, y in pts)
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline class="{cls}" points="{d}" fill="none" stroke="{color}" '
        f'stroke-width="{width}"{extra}/>'
    )


def marker(x: float, y: float, color: str, shape: str = "circle", r: float = 3.5) -> str:
    """One point's mark: a circle, square, triangle or diamond."""
    if shape == "square":
        return f'<rect x="{x - r}" y="{y - r}" width="{2 * r}" height="{2 * r}" fill="{color}"/>'
    if shape == "triangle":
        return (
            f'<path d="M{x},{y - 1.2 * r}L{x + 1.1 * r},{y + 0.8 * r}L{x - 1.1 * r},'
            f'{y + 0.8 * r}Z" fill="{color}"/>'
        )
    if shape == "diamond":
        k = 1.3 * r
        return f'<path d="M{x},{y - k}L{x + k},{y}L{x},{y + k}L{x - k},{y}Z" fill="{color}"/>'
    return f'<circle cx="{x}" cy="{y}" r="{r}" fill="{color}"/>'


def point(mark: str, title: str, href: str | None = None) -> str:
    """A mark with its hover text (an SVG ``<title>``), a link when ``href`` is given (a
    relative path inside the site, made by the caller)."""
    inner = f"<title>{esc(title)}</title>{mark}"
    if href is None:
        return f'<g class="pt">{inner}</g>'
    return f'<a class="pt" href="{esc(href)}">{inner}</a>'
