"""A Python statement timed in this process, as ``python -m timeit`` times one: SETUP runs once,
then every sample executes STMT ``number`` times in a loop, timed by ``ic.measure``'s loop with
the calibrated clock; the per-execution figures are each sample's time divided by ``number``.

The statement and its setup are compiled into one generator function, so that the names the
setup binds are the statement's local variables, as timeit's template makes them (and as
fast to read)::

    def _inferclock_timeit(_inferclock_n, _inferclock_repeat):
        SETUP
        yield                   # the first next() runs the setup alone
        while True:
            for _inferclock_i in _inferclock_repeat(None, _inferclock_n[0]):
                STMT
            yield               # each later next() is one sample

``number``, when not given, is calibrated (:func:`calibrate`): the first of 1, 2, 5, 10, 20,
50, ... (timeit's autorange sequence) whose sample takes at least ``min_sample_time`` (20 us
by default: the clock reads and the resumption around each sample, ~30 ns here, are then
below 0.2% of it, and a sample is still short enough for its percentiles to mean something).

Each part is compiled alone first, so a syntax error names the part (setup or statement);
an exception raised by either becomes a :class:`StatementError` naming which, its text and
the exception, on one line.
"""

from __future__ import annotations

import builtins
import dataclasses
import itertools
import math
import os
import sys
import textwrap
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from types import GeneratorType
from typing import Any, cast

from inferclock import stats
from inferclock._common.errors import ConfigError, ConfigTypeError, StatementError
from inferclock._common.util import first_line, is_int, is_real, utc_now
from inferclock._timing.measure import Measurement, check_options, measure

#: The shortest sample the calibration aims for, in seconds.
MIN_SAMPLE_TIME = 20e-6
#: The most executions per sample (an empty statement reaches ~5000 at 20 us).
MAX_NUMBER = 10**9
#: A calibration call at least this long (ns), on the wall clock and on the CPU, settles
#: ``number`` at once: no second call of a statement that takes seconds.
_SLOW_NS = 10_000_000
_NAME = "_inferclock_timeit"


@dataclass(frozen=True)
class StatementRun:
    """One process's timing of a statement: per-execution samples in ``measurement``."""

    measurement: Measurement
    number: int  # executions per sample
    calibrated: bool  # number was chosen by calibrate(), not given
    started_at: str
    finished_at: str


def code_text(what: str, value: Any) -> str:
    """A statement or setup given as text or as lines (joined by newlines, as timeit's command
    line joins its arguments); ConfigTypeError for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise ConfigTypeError(f"{what} must be Python source text (or a list of lines), got {value!r}")


def shown(text: str, limit: int = 60) -> str:
    """The code as an error names it: one line, quoted, cut at ``limit`` characters."""
    one = "; ".join(line.strip() for line in text.splitlines() if line.strip()) or "pass"
    return repr(one if len(one) <= limit else one[: limit - 3] + "...")


def check_code(what: str, text: str) -> str:
    """``text`` compiled alone (module level, as timeit does first): a StatementError naming
    ``what`` ("statement" or "setup") and the line when it does not compile."""
    try:
        compile(text, f"<{what}>", "exec")
    except SyntaxError as e:
        line = f" (line {e.lineno})" if e.lineno and text.count("\n") else ""
        raise StatementError(f"the {what} {shown(text)} does not compile: {e.msg}{line}") from None
    except ValueError as e:  # a NUL byte in the source
        raise StatementError(f"the {what} {shown(text)} does not compile: {e}") from None
    return text


def check_number(number: Any) -> int | None:
    """``number`` (executions per sample): None (calibrate) or a whole number in 1..1e9."""
    if number is None:
        return None
    if not is_int(number):
        raise ConfigTypeError(f"number must be a whole number >= 1 (or None), got {number!r}")
    if not 1 <= int(number) <= MAX_NUMBER:
        raise ConfigError(f"number must be between 1 and {MAX_NUMBER}, got {number!r}")
    return int(number)


def check_min_sample_time(value: Any) -> float:
    """``min_sample_time``: seconds > 0, at most 10 (the calibration aims for it)."""
    if isinstance(value, bool) or not is_real(value):
        raise ConfigTypeError(f"min_sample_time must be seconds > 0, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0 < v <= 10):
        raise ConfigError(f"min_sample_time must be seconds in (0, 10], got {value!r}")
    return v


def _source(stmt: str, setup: str) -> str:
    setup_body = textwrap.indent(setup, " " * 4) if setup.strip() else "    pass"
    stmt_body = textwrap.indent(stmt, " " * 12) if stmt.strip() else "            pass"
    return (
        f"def {_NAME}(_inferclock_n, _inferclock_repeat):\n{setup_body}\n    yield\n"
        "    while True:\n"
        "        for _inferclock_i in _inferclock_repeat(None, _inferclock_n[0]):\n"
        f"{stmt_body}\n"
        "        yield\n"
    )


def compiled(stmt: str, setup: str) -> Callable[..., GeneratorType[None, None, None]]:
    """The generator function of the module docstring, for ``stmt`` after ``setup`` (each
    checked alone first); a StatementError when the two do not compile together (a setup's
    ``from m import *``: only allowed at module level, as in timeit)."""
    check_code("setup", setup)
    check_code("statement", stmt)
    namespace: dict[str, Any] = {"__name__": "__inferclock_timeit__", "__builtins__": builtins}
    try:
        code = compile(_source(stmt, setup), "<timeit>", "exec")
    except SyntaxError as e:
        raise StatementError(
            f"the statement {shown(stmt)} and its setup {shown(setup)} do not compile "
            f"together: {e.msg}"
        ) from None
    exec(code, namespace)
    return cast("Callable[..., GeneratorType[None, None, None]]", namespace[_NAME])


def _raised(what: str, text: str, e: BaseException) -> StatementError:
    if isinstance(e, RuntimeError) and isinstance(e.__cause__, StopIteration):
        e = e.__cause__  # PEP 479 turned the statement's StopIteration into this
    said = first_line(str(e))
    return StatementError(
        f"the {what} {shown(text)} raised {type(e).__name__}{f': {said}' if said else ''}"
    )


def _candidates() -> Generator[int, None, None]:
    for power in itertools.count():
        for digit in (1, 2, 5):
            n = digit * 10**power
            if n > MAX_NUMBER:
                return
            yield n


def calibrate(
    sample: Callable[[], object],
    cell: list[int],
    min_sample_ns: float,
    clock: Callable[[], int] = time.perf_counter_ns,
    cpu_clock: Callable[[], int] = time.thread_time_ns,
) -> int:
    """The first of 1, 2, 5, 10, ... whose sample (``cell[0]`` executions) takes at least
    ``min_sample_ns`` on ``clock``: each candidate's fastest of 3 calls (a preempted call is
    not the statement's cost), or its first call alone when it spent 10 ms or more on the CPU
    (``cpu_clock``: the thread's CPU time, which a wait for the CPU on a busy machine does not
    enter; the wall clock alone let one preempted call of a 5 us statement settle number 1)."""
    for number in _candidates():
        cell[0] = number
        best = math.inf
        for _ in range(3):
            c0, t0 = cpu_clock(), clock()
            sample()
            t, c = clock() - t0, cpu_clock() - c0
            if t >= _SLOW_NS and c >= _SLOW_NS:
                return number
            best = min(best, t)
        if best >= min_sample_ns:
            return number
    return MAX_NUMBER


def per_execution(m: Measurement, number: int) -> Measurement:
    """``m`` (one sample: ``number`` executions) as per-execution figures: every sample, the
    warm-up and the statistics divided by ``number`` (float ns: a 10 ns statement keeps its
    fraction of a nanosecond)."""
    if number == 1:
        return m
    x = m.samples_ns / float(number)
    s = m.stats
    return dataclasses.replace(
        m,
        samples_ns=cast(Any, x),
        warmup_ns=cast(Any, m.warmup_ns / float(number)),
        stats=stats.summarize(x, percentiles=[p.p for p in s.percentiles], method=s.method),
    )


def _add_cwd(cwd: str | None) -> None:
    # As `python -m timeit` does, a setup may import modules of the directory it was run in
    # (appended: a folder there never shadows an installed package).
    if cwd and cwd not in sys.path and os.path.isdir(cwd):
        sys.path.append(cwd)


def time_statement(
    stmt: str,
    setup: str = "",
    *,
    number: int | None = None,
    min_sample_time: float = MIN_SAMPLE_TIME,
    cwd: str | None = None,
    on_phase: Callable[[str], None] | None = None,
    **options: Any,
) -> StatementRun:
    """Time ``stmt`` after ``setup`` here: setup once, ``number`` executions per sample
    (calibrated when None), the samples taken by ``_timing.measure.measure`` with ``options``
    (its stopping, pinning and percentile options). The result is per execution."""
    check_options(**{k: v for k, v in options.items() if k != "_share"})
    number = check_number(number)
    target_ns = check_min_sample_time(min_sample_time) * 1e9
    started = utc_now()
    _add_cwd(cwd)
    cell = [number or 1]
    gen = compiled(stmt, setup)(cell, itertools.repeat)
    try:
        next(gen)
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # SystemExit too: a statement's exit is its error, not ours
        raise _raised("setup", setup, e) from None
    sample = gen.__next__
    try:
        calibrated = number is None
        if number is None:
            number = calibrate(sample, cell, target_ns)
        cell[0] = number
        if on_phase is not None:
            on_phase("timing")
        m = measure(sample, **options)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        if gen.gi_frame is None:  # the generator ended: the exception came from the statement
            raise _raised("statement", stmt, e) from None
        raise  # measure's own (its options were checked above)
    return StatementRun(
        measurement=per_execution(m, number),
        number=number,
        calibrated=calibrated,
        started_at=started,
        finished_at=utc_now(),
    )
