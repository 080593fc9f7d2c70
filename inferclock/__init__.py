"""inferclock: precise neural-network inference timing.

A calibrated cycle clock, CPU/NUMA pinning, and OpenVINO latency/throughput loops run in C++
with the GIL released; sweeps, reports and comparisons in Python.

Names are handed on lazily (PEP 562): ``import inferclock`` loads only the C++ core, and
``ic.report`` first imports the report module (and matplotlib) when used, so a worker process
that times one cell never imports plotting, comparison, pandas or NNCF.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The core first: it links libopenvino, found through its RPATH in the openvino wheel.
try:
    from inferclock import _core
except ImportError as _e:  # openvino installed in another site dir than inferclock
    if "libopenvino" not in str(_e):
        raise
    import openvino  # noqa: F401  loads libopenvino.so.2641, which _core then resolves

    from inferclock import _core  # noqa: F401

# Public name -> the module that defines it ("" : the public module of that name itself).
# Every module named here is a real module; no function is bound over a module of its name.
_NAMES = {
    "Clock": "_platform.clock", "Span": "_platform.clock", "clock": "_platform.clock",
    "ConfigError": "_common.errors", "ConfigTypeError": "_common.errors", "DeviceError": "_common.errors",
    "InferclockError": "_common.errors", "ModelError": "_common.errors", "PinningError": "_common.errors",
    "PrecisionError": "_common.errors", "Terminated": "_common.errors", "WorkerCrash": "_common.errors",
    "environment": "_platform.environment", "noise_checks": "_platform.environment",
    "Measurement": "_timing.measure", "measure": "_timing.measure",
    "PhaseStats": "_timing.phases", "mark": "_timing.phases", "phase": "_timing.phases",
    "PRECISIONS": "_timing.precision", "PrecisionWarning": "_timing.precision",
    "InitTimes": "_timing.result", "RunResult": "_timing.result",
    "MODES": "_timing.options", "RunOptions": "_timing.options",
    "prepare": "_workers.run", "run": "_workers.run",
    "devices": "_platform.plugins", "register_plugin": "_platform.plugins", "register_plugins_xml": "_platform.plugins",
    "Pin": "_platform.pin", "pin": "_platform.pin",
    "PinningWarning": "_platform.topology", "Topology": "_platform.topology", "affinity": "_platform.topology",
    "format_cpulist": "_platform.topology", "openvino_cpu_started": "_platform.topology",
    "parse_cpulist": "_platform.topology", "topology": "_platform.topology",
    "compare": "_analysis.compare", "report": "_render.report", "ResultTable": "_analysis.table", "Stats": "stats",
    "SweepInterrupted": "_sweeps.sweep", "sweep": "_sweeps.sweep",
    "PeakResult": "_search.peak", "PeakStep": "_search.peak", "find_peak_qps": "_search.peak",
    "ServerStats": "_timing.serve", "tune": "_search.tune", "TuneResult": "_search.tune",
    "Profile": "_profiling.profile", "ProfileDiff": "_profiling.profile", "profile": "_profiling.profile",
    "profile_diff": "_profiling.profile", "publish": "_render.publish",
    "History": "_tracking.history", "Step": "_tracking.history", "history": "_tracking.history",
    "models": "", "stats": "",
}  # fmt: skip

__all__ = sorted([*_NAMES, "__version__"])


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("inferclock")
        except PackageNotFoundError:  # running from a source tree without an install
            value = "0+unknown"
    elif name in _NAMES:
        module = importlib.import_module(f"{__name__}.{_NAMES[name] or name}")
        value = module if not _NAMES[name] else getattr(module, name)
    else:
        raise AttributeError(f"module 'inferclock' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ provides them
    from inferclock import models as models, stats as stats
    from inferclock._analysis.compare import (
        compare as compare,
    )
    from inferclock._analysis.table import (
        ResultTable as ResultTable,
    )
    from inferclock._common.errors import (
        ConfigError as ConfigError,
        ConfigTypeError as ConfigTypeError,
        DeviceError as DeviceError,
        InferclockError as InferclockError,
        ModelError as ModelError,
        PinningError as PinningError,
        PrecisionError as PrecisionError,
        Terminated as Terminated,
        WorkerCrash as WorkerCrash,
    )
    from inferclock._platform.clock import (
        Clock as Clock,
        Span as Span,
        clock as clock,
    )
    from inferclock._platform.environment import (
        environment as environment,
        noise_checks as noise_checks,
    )
    from inferclock._platform.pin import (
        Pin as Pin,
        pin as pin,
    )
    from inferclock._platform.plugins import (
        devices as devices,
        register_plugin as register_plugin,
        register_plugins_xml as register_plugins_xml,
    )
    from inferclock._platform.topology import (
        PinningWarning as PinningWarning,
        Topology as Topology,
        affinity as affinity,
        format_cpulist as format_cpulist,
        openvino_cpu_started as openvino_cpu_started,
        parse_cpulist as parse_cpulist,
        topology as topology,
    )
    from inferclock._profiling.profile import (
        Profile as Profile,
        ProfileDiff as ProfileDiff,
        profile as profile,
        profile_diff as profile_diff,
    )
    from inferclock._render.publish import publish as publish
    from inferclock._render.report import (
        report as report,
    )
    from inferclock._search.peak import (
        PeakResult as PeakResult,
        PeakStep as PeakStep,
        find_peak_qps as find_peak_qps,
    )
    from inferclock._search.tune import (
        TuneResult as TuneResult,
        tune as tune,
    )
    from inferclock._sweeps.sweep import (
        SweepInterrupted as SweepInterrupted,
        sweep as sweep,
    )
    from inferclock._timing.measure import (
        Measurement as Measurement,
        measure as measure,
    )
    from inferclock._timing.options import (
        MODES as MODES,
        RunOptions as RunOptions,
    )
    from inferclock._timing.phases import (
        PhaseStats as PhaseStats,
        mark as mark,
        phase as phase,
    )
    from inferclock._timing.precision import (
        PRECISIONS as PRECISIONS,
        PrecisionWarning as PrecisionWarning,
    )
    from inferclock._timing.result import (
        InitTimes as InitTimes,
        RunResult as RunResult,
    )
    from inferclock._timing.serve import (
        ServerStats as ServerStats,
    )
    from inferclock._tracking.history import History as History, Step as Step, history as history
    from inferclock._workers.run import (
        prepare as prepare,
        run as run,
    )
    from inferclock.stats import (
        Stats as Stats,
    )

    __version__: str
