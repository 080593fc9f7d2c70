"""inferclock: precise neural-network inference timing.

A calibrated cycle clock, CPU/NUMA pinning, and OpenVINO latency/throughput loops run in C++
with the GIL released; sweeps, reports and comparisons in Python.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    from inferclock import _core
except ImportError as _e:  # openvino installed in another site dir than inferclock
    if "libopenvino" not in str(_e):
        raise
    import openvino  # noqa: F401  loads libopenvino.so.2641, which _core then resolves

    from inferclock import _core  # noqa: F401

from inferclock import models, stats
from inferclock._clock import Clock, Span, clock
from inferclock._core import (
    ConfigError,
    DeviceError,
    InferclockError,
    ModelError,
    PinningError,
    PrecisionError,
)
from inferclock._environment import environment, noise_checks
from inferclock._measure import Measurement, measure
from inferclock._precision import PRECISIONS, PrecisionWarning
from inferclock._result import InitTimes, RunResult
from inferclock._run import MODES, devices, register_plugin, register_plugins_xml, run
from inferclock._topology import (
    Pin,
    PinningWarning,
    Topology,
    affinity,
    format_cpulist,
    openvino_cpu_started,
    parse_cpulist,
    pin,
    topology,
)
from inferclock._worker import WorkerCrash
from inferclock.compare import compare
from inferclock.report import report
from inferclock.results import ResultTable
from inferclock.stats import Stats
from inferclock.sweep import SweepInterrupted, sweep

try:
    __version__ = version("inferclock")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0+unknown"

__all__ = [
    "MODES",
    "PRECISIONS",
    "Clock",
    "ConfigError",
    "DeviceError",
    "InferclockError",
    "InitTimes",
    "Measurement",
    "ModelError",
    "Pin",
    "PinningError",
    "PinningWarning",
    "PrecisionError",
    "PrecisionWarning",
    "ResultTable",
    "RunResult",
    "Span",
    "Stats",
    "SweepInterrupted",
    "Topology",
    "WorkerCrash",
    "__version__",
    "affinity",
    "clock",
    "compare",
    "devices",
    "environment",
    "format_cpulist",
    "measure",
    "models",
    "noise_checks",
    "openvino_cpu_started",
    "parse_cpulist",
    "pin",
    "register_plugin",
    "register_plugins_xml",
    "report",
    "run",
    "stats",
    "sweep",
    "topology",
]
