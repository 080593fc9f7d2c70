"""``inferclock timeit``'s runner: a Python statement timed in fresh worker processes (or in this
one), as ``pyperf timeit`` does, with ``ic.measure``'s clock, loop, combination and checks.

The first process calibrates ``number`` (executions per sample, ``_timing.statement``) unless
it was given; the others use the first one's, so every sample of every process times the same
loop. The processes run one after another through the supervisor ``ic.run`` uses, and their
results combine as ``ic.measure``'s processes do (``_workers.measure``): the median and each
percentile with an interval within and between the processes, speed modes flagged, and the
instability check (an :class:`InstabilityWarning` naming the reasons). Everything is checked,
and the statement and its setup compiled, before the first worker starts.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.util import is_int, is_real
from inferclock._timing import statement as _statement
from inferclock._timing.measure import Measurement, check_options
from inferclock._timing.statement import StatementRun
from inferclock._workers.measure import DEFAULT_PROCESSES, _checked, _combined, _WorkerOptions
from inferclock._workers.timeit_result import TimeitResult


@dataclass(frozen=True)
class TimeitSpec:
    """One process's timing of a statement (a worker runs ``execute``)."""

    stmt: str
    setup: str
    number: int | None
    min_sample_time: float
    cwd: str | None
    kwargs: dict[str, Any]
    options: _WorkerOptions = field(default_factory=_WorkerOptions)

    def execute(self, on_phase: Any = None) -> StatementRun:
        return _statement.time_statement(
            self.stmt, self.setup, number=self.number, min_sample_time=self.min_sample_time,
            cwd=self.cwd, on_phase=on_phase, **self.kwargs,
        )  # fmt: skip


def _check_processes(processes: Any, inprocess: Any) -> int:
    if not isinstance(inprocess, bool):
        raise ConfigTypeError(f"inprocess must be True or False, got {inprocess!r}")
    if processes is None:
        return 1 if inprocess else DEFAULT_PROCESSES
    if not is_int(processes):
        raise ConfigTypeError(f"processes must be a whole number >= 1, got {processes!r}")
    if not 1 <= int(processes) <= 1000:
        raise ConfigError(f"processes must be between 1 and 1000, got {processes!r}")
    if inprocess and processes != 1:
        raise ConfigError(
            f"inprocess times the statement in this process only: processes={processes} "
            "needs fresh processes (leave inprocess out)"
        )
    return int(processes)


def _check_name(name: Any, stmt: str) -> str:
    if name is None:
        return "; ".join(line.strip() for line in stmt.splitlines() if line.strip()) or "pass"
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name must be non-empty text (the results' key), got {name!r}")
    return name


def timeit(
    stmt: str | Sequence[str] = "pass",
    setup: str | Sequence[str] = "",
    *,
    number: int | None = None,
    processes: int | None = None,
    inprocess: bool = False,
    min_sample_time: float = _statement.MIN_SAMPLE_TIME,
    name: str | None = None,
    timeout: float | None = None,
    **options: Any,
) -> TimeitResult:
    """Time ``stmt`` after ``setup`` as ``pyperf timeit`` does, per execution.

    stmt, setup: Python source (or lists of lines). The setup runs once per process; names it
        binds are the statement's locals. A module of the current directory can be imported.
    number: executions per sample (default: calibrated in the first process so that a sample
        takes at least ``min_sample_time`` seconds, 20 us).
    processes: fresh processes, one after another (default 3); their spread enters the
        interval. ``inprocess=True``: time it here instead (one process).
    name: the results' key and model (default: the statement on one line).
    timeout: seconds a worker may take, start-up included (default 120 s plus twice the time
        budget).
    options: ``ic.measure``'s stopping, pinning and percentile options (``warmup``,
        ``iterations`` (samples per process), ``duration``, ``target_ci``, ``min_time``,
        ``max_time``, ``max_samples``, ``min_samples``, ``cpus``, ``percentiles``,
        ``percentile_method``).
    """
    stmt_text = _statement.code_text("stmt", stmt)
    setup_text = _statement.code_text("setup", setup)
    _statement.compiled(stmt_text, setup_text)  # compile errors before any process starts
    number = _statement.check_number(number)
    min_sample_time = _statement.check_min_sample_time(min_sample_time)
    k = _check_processes(processes, inprocess)
    key = _check_name(name, stmt_text)
    if "batch_size" in options:
        raise ConfigError("timeit times one statement per execution: batch_size does not apply")
    check_options(**options)
    if timeout is not None and (not is_real(timeout) or not float(timeout) > 0):
        raise ConfigError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    spec = TimeitSpec(
        stmt_text, setup_text, number, min_sample_time, os.getcwd(), {**options, "_share": k}
    )
    t0 = time.perf_counter()
    if inprocess:
        runs = [spec.execute()]
    else:
        runs = _in_processes(spec, k, timeout, options)
    elapsed = time.perf_counter() - t0
    parts = [r.measurement for r in runs]
    combined: Measurement = _combined(parts, options) if len(parts) > 1 else parts[0]
    from inferclock._platform.environment import environment

    return TimeitResult(
        name=key, stmt=stmt_text, setup=setup_text, number=runs[0].number,
        calibrated=runs[0].calibrated, measurement=_checked(combined), runs=tuple(runs),
        inprocess=inprocess, env=environment(), elapsed_s=elapsed, options=dict(options),
    )  # fmt: skip


def _in_processes(
    spec: TimeitSpec, k: int, timeout: float | None, options: dict[str, Any]
) -> list[StatementRun]:
    from inferclock._workers.supervisor import CtrlC, supervise

    budget = options.get("duration") or options.get("max_time") or 60.0
    limit = float(timeout) if timeout is not None else 120.0 + 2.0 * float(budget)
    runs: list[StatementRun] = []
    ctrl_c = CtrlC()
    with ctrl_c.installed():
        for _ in range(k):
            if runs:  # the first process's calibrated number, for every later one
                spec = dataclasses.replace(spec, number=runs[0].number)
            outcomes = supervise(spec, timeout=limit, ctrl_c=ctrl_c, on_ctrl_c="forward")  # type: ignore[arg-type]
            outcome = next(outcomes)
            outcomes.close()
            outcome.reissue_warnings(stacklevel=4)
            if outcome.error is not None:
                raise outcome.error
            runs.append(outcome.result)
    return runs
