"""The process-wide calibrated clock (``ic.clock()``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from inferclock import _core


@dataclass
class Span:
    """What ``Clock.timer()`` yields: filled in when the block exits."""

    ticks: int = 0
    ns: int = 0

    @property
    def ms(self) -> float:
        return self.ns / 1e6


class Clock:
    """The counter inferclock reads (TSC, cntvct or CLOCK_MONOTONIC_RAW), calibrated once.

    Ticks from ``now()`` are raw counter values; ``to_ns`` converts durations (or absolute
    values) with the calibrated frequency.
    """

    def __init__(self, calibration: _core.Calibration) -> None:
        self._cal = calibration
        self._ns_per_tick = 1e9 / calibration.frequency_hz

    source = property(lambda self: self._cal.source, doc='"tsc", "cntvct" or "monotonic_raw"')
    source_reason = property(lambda self: self._cal.source_reason, doc="why this source")
    kernel_clocksource = property(lambda self: self._cal.kernel_clocksource)
    frequency_hz = property(lambda self: self._cal.frequency_hz, doc="calibrated ticks per second")
    frequency_error_ppm = property(
        lambda self: self._cal.frequency_error_ppm,
        doc="bound on the frequency error from the calibration brackets (ppm)",
    )
    invariant = property(lambda self: self._cal.invariant, doc="counter rate is constant")
    overhead_ns = property(
        lambda self: self._cal.overhead_ns, doc="median cost of a back-to-back pair of reads"
    )
    resolution_ns = property(
        lambda self: self._cal.resolution_ns, doc="smallest observable step between two reads"
    )

    def now(self) -> int:
        """Current counter value in ticks."""
        return _core.now()

    @overload
    def to_ns(self, ticks: int) -> int: ...
    @overload
    def to_ns(self, ticks: npt.ArrayLike) -> npt.NDArray[np.int64]: ...
    def to_ns(self, ticks: Any) -> Any:
        """Ticks to nanoseconds (rounded): an int for an int, an int64 array for an array."""
        if isinstance(ticks, (int, np.integer)):
            return int(np.rint(np.float64(ticks) * self._ns_per_tick))
        arr = np.asarray(ticks, dtype=np.float64)
        return np.rint(arr * self._ns_per_tick).astype(np.int64)

    @contextmanager
    def timer(self) -> Iterator[Span]:
        """Time a block: ``with clk.timer() as span: ...; span.ns``."""
        span = Span()
        t0 = _core.span_start()
        try:
            yield span
        finally:
            t1 = _core.span_stop()
            span.ticks = int(t1 - t0)
            span.ns = self.to_ns(span.ticks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "source_reason": self.source_reason,
            "kernel_clocksource": self.kernel_clocksource,
            "frequency_hz": self.frequency_hz,
            "frequency_error_ppm": self.frequency_error_ppm,
            "invariant": self.invariant,
            "overhead_ns": self.overhead_ns,
            "resolution_ns": self.resolution_ns,
        }

    def __repr__(self) -> str:
        return (
            f"Clock(source={self.source!r}, frequency_hz={self.frequency_hz:.1f} "
            f"(+/- {self.frequency_error_ppm:.2f} ppm), overhead_ns={self.overhead_ns:.1f}, "
            f"resolution_ns={self.resolution_ns:.2f})"
        )


_lock = threading.Lock()
_clock: Clock | None = None


def clock() -> Clock:
    """The process-wide calibrated clock (the first call calibrates, about 0.1 s)."""
    global _clock
    with _lock:
        if _clock is None:
            _clock = Clock(_core.calibration())
        return _clock
