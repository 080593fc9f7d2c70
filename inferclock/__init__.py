"""inferclock: precise neural-network inference timing.

A calibrated cycle clock, CPU/NUMA pinning, and OpenVINO latency/throughput loops run in C++
with the GIL released; sweeps, reports and comparisons in Python.

Names are handed on lazily (PEP 562): ``import inferclock`` loads nothing else, not even the
C++ core (it loads with the first module that needs it), and ``ic.report`` first imports the
report module (and matplotlib) when used, so a worker process that times one cell never
imports plotting, comparison, pandas or NNCF, and a pytest session that never asks for the
plugin's fixture never imports OpenVINO or numpy.
"""

from __future__ import annotations

import importlib
import os
import sys
import types
from importlib.machinery import EXTENSION_SUFFIXES, ModuleSpec, PathFinder
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence


def _installed_elsewhere() -> str | None:
    """The ``__init__.py`` of an installed inferclock that has its compiled core, when this
    package is a source checkout without one that happens to be first on ``sys.path``
    (``python -m pytest`` or ``python -c`` run in the checkout: both put it first). Plain
    ``os`` calls: ``import inferclock`` loads no pathlib."""

    def has_core(folder: str) -> bool:
        try:
            names = os.listdir(folder)
        except OSError:
            return False
        return any(n.startswith("_core.") and n.endswith(tuple(EXTENSION_SUFFIXES)) for n in names)

    here = os.path.dirname(os.path.realpath(__file__))
    if has_core(here):
        return None
    for entry in sys.path:
        there = os.path.join(os.path.realpath(entry or "."), "inferclock")
        init = os.path.join(there, "__init__.py")
        if there != here and has_core(there) and os.path.isfile(init):
            return init
    return None


class _CoreLoader:
    """The core's own loader, which takes a core whose RPATH misses libopenvino (openvino
    installed in another site dir than inferclock) through the openvino package: importing it
    loads libopenvino.so.2641, which the core then resolves."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        try:
            module: types.ModuleType | None = self.inner.create_module(spec)
        except ImportError as e:
            if "libopenvino" not in str(e):
                raise
            import openvino  # noqa: F401

            module = self.inner.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self.inner.exec_module(module)


class _CoreFinder:
    """Finds ``inferclock._core`` where the import system would, with ``_CoreLoader``. The
    core (and so libopenvino and numpy) loads when a module first imports it, not with the
    package: the pytest plugin's entry point costs a session nothing until its fixture is
    used (``tests/test_plugin_lazy.py``)."""

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: object = None
    ) -> ModuleSpec | None:
        if name != f"{__name__}._core":
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _CoreLoader(spec.loader)  # type: ignore[assignment]
        return spec


if (_elsewhere := _installed_elsewhere()) is not None:
    # Hand over to the installed package, as `pytest` (which puts no checkout first) would
    # import it: the import system returns what sys.modules holds when this file ends.
    import importlib.util

    _spec = importlib.util.spec_from_file_location(
        __name__, _elsewhere, submodule_search_locations=[os.path.dirname(_elsewhere)]
    )
    assert _spec is not None and _spec.loader is not None
    sys.modules[__name__] = _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
elif not any(type(f).__qualname__ == "_CoreFinder" for f in sys.meta_path):  # one, reloaded
    sys.meta_path.insert(0, _CoreFinder())

# Public name -> the module that defines it ("" : the public module of that name itself).
# Every module named here is a real module; no function is bound over a module of its name.
_NAMES: dict[str, str] = {
    **dict.fromkeys(("Clock", "Span", "clock"), "_platform.clock"),
    **dict.fromkeys(
        (
            "ConfigError",
            "ConfigTypeError",
            "DeviceError",
            "HistoryError",
            "InferclockError",
            "ModelError",
            "PinningError",
            "PrecisionError",
            "Terminated",
            "WorkerCrash",
        ),
        "_common.errors",
    ),
    **dict.fromkeys(("environment", "noise_checks"), "_platform.environment"),
    "Measurement": "_timing.measure",
    "measure": "_workers.measure",
    "InstabilityWarning": "_analysis.stability",
    **dict.fromkeys(("PhaseStats", "mark", "phase"), "_timing.phases"),
    **dict.fromkeys(("PRECISIONS", "PrecisionWarning"), "_timing.precision"),
    **dict.fromkeys(("InitTimes", "RunResult"), "_timing.result"),
    **dict.fromkeys(("MODES", "RunOptions"), "_timing.options"),
    **dict.fromkeys(("prepare", "run"), "_workers.run"),
    **dict.fromkeys(("ab",), "_workers.ab"),
    **dict.fromkeys(("ABPair", "ABResult"), "_workers.ab_result"),
    **dict.fromkeys(("devices", "register_plugin", "register_plugins_xml"), "_platform.plugins"),
    **dict.fromkeys(("Pin", "pin"), "_platform.pin"),
    **dict.fromkeys(
        (
            "PinningWarning",
            "Topology",
            "affinity",
            "format_cpulist",
            "openvino_cpu_started",
            "parse_cpulist",
            "topology",
        ),
        "_platform.topology",
    ),
    **dict.fromkeys(("compare",), "_analysis.compare"),
    **dict.fromkeys(("report",), "_render.report"),
    **dict.fromkeys(("ResultTable",), "_analysis.table"),
    **dict.fromkeys(("Stats",), "stats"),
    **dict.fromkeys(("SweepInterrupted", "sweep"), "_sweeps.sweep"),
    **dict.fromkeys(("PeakInterrupted", "PeakResult", "PeakStep", "find_peak_qps"), "_search.peak"),
    **dict.fromkeys(("ServerStats",), "_timing.serve"),
    **dict.fromkeys(("TuneResult", "tune"), "_search.tune"),
    **dict.fromkeys(("Profile", "ProfileDiff", "profile", "profile_diff"), "_profiling.profile"),
    **dict.fromkeys(("publish",), "_render.publish"),
    **dict.fromkeys(("History", "Step", "history"), "_tracking.history"),
    **dict.fromkeys(("models", "stats"), ""),
}

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
    from inferclock._analysis.stability import InstabilityWarning as InstabilityWarning
    from inferclock._analysis.table import (
        ResultTable as ResultTable,
    )
    from inferclock._common.errors import (
        ConfigError as ConfigError,
        ConfigTypeError as ConfigTypeError,
        DeviceError as DeviceError,
        HistoryError as HistoryError,
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
        PeakInterrupted as PeakInterrupted,
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
    from inferclock._timing.measure import Measurement as Measurement
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
    from inferclock._workers.ab import ab as ab
    from inferclock._workers.ab_result import ABPair as ABPair, ABResult as ABResult
    from inferclock._workers.measure import measure as measure
    from inferclock._workers.run import (
        prepare as prepare,
        run as run,
    )
    from inferclock.stats import (
        Stats as Stats,
    )

    __version__: str
