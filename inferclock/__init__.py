"""inferclock: precise neural-network inference timing.

A calibrated cycle clock, CPU/NUMA pinning, and OpenVINO latency/throughput loops run in C++
with the GIL released; sweeps, reports and comparisons in Python.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from inferclock import stats
from inferclock._clock import Clock, Span, clock
from inferclock._core import (
    ConfigError,
    DeviceError,
    InferclockError,
    ModelError,
    PinningError,
    PrecisionError,
)
from inferclock._measure import Measurement, measure
from inferclock.stats import Stats

try:
    __version__ = version("inferclock")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "Clock",
    "ConfigError",
    "DeviceError",
    "InferclockError",
    "Measurement",
    "ModelError",
    "PinningError",
    "PrecisionError",
    "Span",
    "Stats",
    "__version__",
    "clock",
    "measure",
    "stats",
]
