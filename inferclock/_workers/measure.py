"""``ic.measure``: time a Python callable, in fresh worker processes when it can be imported by
name, so that its interval carries the variation between processes as ``ic.run``'s does.

A callable given as ``"package.module:function"``, or a function defined at module level
(importable as ``module:qualname``), runs in ``processes`` fresh workers (default 3), one after
another, through the supervisor ``ic.run`` uses; ``setup`` (a callable importable the same way)
is called once in each before timing. Their results are combined as a cell's runs are
(``_analysis.cell``): the median and each percentile with intervals within and between
processes, the drift the largest process's own; ``interval_scope`` says which. A closure, a
lambda or a function of ``__main__`` cannot be rebuilt in another process: it is timed here,
in one process, and its interval is labelled "within one process". Every result is checked
for instability (``_analysis.stability``): an :class:`InstabilityWarning` names the reasons.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
import sys
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferclock._analysis import cell as _cell, stability as _stability
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_real
from inferclock._timing import control as _control
from inferclock._timing.measure import Measurement, check_options, measure as _measure_here

#: Processes by default for a callable importable by name.
DEFAULT_PROCESSES = 3


def _load(name: str) -> Callable[[], object]:
    module, _, qual = name.partition(":")
    try:
        obj: Any = importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(f"cannot import module {module!r} of {name!r}: {e}") from None
    for part in qual.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"module {module!r} has no {qual!r} (from {name!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigTypeError(f"{name!r} is a {type(obj).__name__}, not a callable")
    return obj  # type: ignore[no-any-return]


def importable_name(fn: Any, what: str = "fn") -> str | None:
    """``"module:qualname"`` when ``fn`` is a string of that form (checked by importing it) or
    a callable a fresh process can import by that name; None for a closure, a lambda, a bound
    method, or a function of ``__main__``."""
    if isinstance(fn, str):
        module, sep, qual = fn.partition(":")
        if not sep or not module or not qual:
            raise ConfigError(f"{what} as text must be 'package.module:function', got {fn!r}")
        _load(fn)
        return fn
    mod, qn = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not isinstance(mod, str) or not isinstance(qn, str) or mod == "__main__":
        return None
    if "<" in qn:  # <lambda>, <locals>
        return None
    try:
        same = _load(f"{mod}:{qn}") is fn
    except (ConfigError, ConfigTypeError):
        return None
    return f"{mod}:{qn}" if same else None


def _import_root(name: str) -> str | None:
    """The folder a fresh process must have on its path to import ``name``'s module as this
    one did (a test module pytest imported from its own folder, say), or None."""
    module = sys.modules.get(name.partition(":")[0])
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    root = Path(file).resolve().parent
    depth = name.partition(":")[0].count(".") + (Path(file).name == "__init__.py")
    for _ in range(depth):
        root = root.parent
    return str(root)


@dataclass(frozen=True)
class _WorkerOptions:
    """What the worker and supervisor read of a spec's options."""

    env: dict[str, str] | None = None
    pinned: bool = False  # measure pins its own thread (cpus=) inside the worker
    socket: int | None = None
    cpus: tuple[int, ...] | None = None


@dataclass(frozen=True)
class MeasureSpec:
    """One process's measurement of a callable named ``target`` (a worker runs ``execute``)."""

    target: str
    setup: str | None
    kwargs: dict[str, Any]
    options: _WorkerOptions = dataclasses.field(default_factory=_WorkerOptions)

    def execute(self, on_phase: Callable[[str], None] | None = None) -> Measurement:
        fn = _load(self.target)
        if self.setup is not None:
            _load(self.setup)()
        if on_phase is not None:
            on_phase("timing")
        return _measure_here(fn, **self.kwargs)


def _check_processes(processes: Any, name: str | None) -> int:
    if processes is None:
        return DEFAULT_PROCESSES if name is not None else 1
    if isinstance(processes, bool) or not isinstance(processes, int):
        raise ConfigTypeError(f"processes must be a whole number >= 1, got {processes!r}")
    if processes < 1:
        raise ConfigError(f"processes must be a whole number >= 1, got {processes!r}")
    if processes > 1 and name is None:
        raise ConfigError(
            f"processes={processes} needs a callable a fresh process can import: give "
            "'package.module:function' or a function defined at module level (a closure, a "
            "lambda or a function of __main__ runs in this process only: processes=1)"
        )
    return processes


def _row(m: Measurement, process: int) -> dict[str, Any]:
    """The fields of one process's measurement that ``_analysis.cell`` combines."""
    s = m.stats
    pct = {f"p{p.p:g}": {"value_ns": p.value_ns, "low_ns": p.low_ns, "high_ns": p.high_ns,
                         "confidence": p.confidence} for p in s.percentiles}  # fmt: skip
    return {
        "process": process, "n": s.n, "latency_median_ns": s.median_ns,
        "latency_ci95_low_ns": s.ci_ns[0], "latency_ci95_high_ns": s.ci_ns[1],
        "latency_ci_confidence": s.ci_confidence, "latency_percentiles": pct,
        "latency_drift": m.drift, "latency_p90_ns": s.p90_ns, "latency_p95_ns": s.p95_ns,
        "latency_p99_ns": s.p99_ns,
    }  # fmt: skip


def _combined(parts: list[Measurement], kwargs: dict[str, Any]) -> Measurement:
    from inferclock import stats

    rows = [_row(m, i) for i, m in enumerate(parts)]
    samples = np.concatenate([m.samples_ns for m in parts])
    s = stats.summarize(samples, percentiles=kwargs.get("percentiles", (50.0, 90.0, 95.0, 99.0)),
                        method=kwargs.get("percentile_method", "linear"))  # fmt: skip
    s = _cell.combined_stats(s, rows)
    drift = _cell.drift_of(rows)
    note = _stability.modes(_cell.runs_of(rows, "median"))
    first = parts[0]
    return dataclasses.replace(
        first,
        samples_ns=samples,
        warmup_ns=np.concatenate([m.warmup_ns for m in parts]),
        stats=s,
        drift=drift if drift is not None else math.nan,
        stop_reason="/".join(dict.fromkeys(m.stop_reason for m in parts)),
        elapsed_s=sum(m.elapsed_s for m in parts),
        migrations=sum(m.migrations for m in parts),
        dropped_calls=sum(m.dropped_calls for m in parts),
        processes=len(parts),
        process_measurements=tuple(parts),
        interval_scope=f"within and between {len(parts)} processes",
        multimodal=note is not None,
        multimodal_note=note,
    )


def measure(
    fn: Callable[[], object] | str,
    *,
    warmup: _control.Warmup = "auto",
    iterations: int | None = None,
    duration: float | None = None,
    target_ci: float = 0.01,
    min_time: float = _control.DEFAULT_MIN_TIME,
    max_time: float | None = None,
    max_samples: int = 10_000_000,
    min_samples: int = 30,
    cpus: Iterable[int] | str | None = None,
    percentiles: Iterable[float] = (50.0, 90.0, 95.0, 99.0),
    percentile_method: str = "linear",
    batch_size: int = 1,
    processes: int | None = None,
    setup: Callable[[], object] | str | None = None,
    timeout: float | None = None,
) -> Measurement:
    """Time ``fn()`` call by call with the calibrated clock. The options from ``warmup`` to
    ``batch_size`` and the loop are ``inferclock._timing.measure.measure``'s (each process
    runs it).

    fn: a callable, or ``"package.module:function"``. One importable by name (a string, or a
        function defined at module level) is timed in ``processes`` fresh worker processes
        (default 3), one after another, sharing the default time budget as a cell's processes
        do; the median and each percentile combine their variation within and between them
        (``interval_scope`` says so; each process's result in ``process_measurements``). A
        closure or a lambda runs here, in one process ("within one process").
    setup: called once in each worker process before timing (importable the same way).
    timeout: seconds a worker may take, start-up included (default: 120 s plus twice the
        time budget).

    ``multimodal`` is set when the processes fall into separate speed modes (two groups more
    than 10% apart with disjoint intervals), with ``multimodal_note``; an
    :class:`InstabilityWarning` (and ``instability``) names what makes a figure
    untrustworthy: a coefficient of variation above 50%, a fastest call below half the median,
    speed modes, fewer than 30 samples.
    """
    options: dict[str, Any] = dict(
        warmup=warmup, iterations=iterations, duration=duration, target_ci=target_ci,
        min_time=min_time, max_time=max_time, max_samples=max_samples, min_samples=min_samples,
        cpus=cpus, percentiles=percentiles, percentile_method=percentile_method,
        batch_size=batch_size,
    )  # fmt: skip
    name = importable_name(fn)
    k = _check_processes(processes, name)
    setup_name = None
    if setup is not None and not (isinstance(setup, str) or callable(setup)):
        raise ConfigTypeError(f"setup must be a callable or 'module:function', got {setup!r}")
    if setup is not None:
        setup_name = importable_name(setup, "setup")
        if setup_name is None and k > 1:
            raise ConfigError("setup must be importable by name ('module:function') as fn is")
    if timeout is not None and (not is_real(timeout) or not float(timeout) > 0):
        raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if k == 1:
        if setup is not None:
            (_load(setup_name) if setup_name else setup)()  # type: ignore[operator]
        target = _load(name) if isinstance(fn, str) and name else fn
        result = _measure_here(target, **options)  # type: ignore[arg-type]
    else:
        check_options(**options)  # every option checked before a worker starts
        result = _in_processes(name, setup_name, k, timeout, options)  # type: ignore[arg-type]
    return _checked(result)


def _in_processes(
    name: str, setup: str | None, k: int, timeout: float | None, options: dict[str, Any]
) -> Measurement:
    from inferclock._workers.supervisor import CtrlC, supervise

    kwargs = {**options, "_share": k}
    budget = options.get("duration") or options.get("max_time") or 60.0
    limit = float(timeout) if timeout is not None else 120.0 + 2.0 * float(budget)
    roots = [r for n in (name, setup) if n is not None for r in [_import_root(n)] if r]
    path = os.pathsep.join(dict.fromkeys([*roots, *filter(None, [os.environ.get("PYTHONPATH")])]))
    spec = MeasureSpec(
        name, setup, kwargs, _WorkerOptions(env={"PYTHONPATH": path} if path else None)
    )
    parts: list[Measurement] = []
    ctrl_c = CtrlC()
    with ctrl_c.installed():
        for _ in range(k):
            outcomes = supervise(spec, timeout=limit, ctrl_c=ctrl_c, on_ctrl_c="forward")  # type: ignore[arg-type]
            outcome = next(outcomes)
            outcomes.close()
            outcome.reissue_warnings(stacklevel=5)
            if outcome.error is not None:
                raise outcome.error
            parts.append(outcome.result)
    return _combined(parts, options)


def _checked(m: Measurement) -> Measurement:
    s = m.stats
    why = _stability.reasons(s.n, s.cv, s.min_ns, s.median_ns, m.multimodal_note)
    if why:
        warnings.warn(
            _stability.warning_text("this measurement", why),
            _stability.InstabilityWarning,
            stacklevel=3,
        )
    return dataclasses.replace(m, instability=why)
