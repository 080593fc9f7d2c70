"""``ic.ab``: is B faster than A, on this noisy machine? A and B in alternating fresh processes
(ABBA order), the ratio's interval from the pairs, and ``compare``'s verdict.

Two files recorded minutes apart cannot tell a change from a speed mode of the machine;
measurements interleaved in time can: pair i runs A then B when i is even, B then A when
odd, each measurement in its own fresh process (``ab_side``). Each pair gives the log of B's
metric over A's; drift and speed modes that last longer than a pair move both sides alike
and cancel in that ratio. The interval is Student's t over the pairs' log ratios (the pairs
are the independent units, whatever the correlation of samples within a process), turned
back into a ratio. The verdict is ``compare``'s: ``_analysis.states.judged_state`` at the
threshold, and ``outcome`` for the gate (docs/statistics.md, "Interleaved A/B (ab)").
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from inferclock._analysis import cell as _cell, states as _states
from inferclock._analysis.gate import check_threshold
from inferclock._common import checks as _checks
from inferclock._common.distributions import t_quantile
from inferclock._common.errors import ConfigError, InferclockError, Terminated
from inferclock._timing import schema as _schema
from inferclock._timing.modelinfo import ModelBook
from inferclock._workers.ab_result import ABPair, ABResult, StopReason, value_text
from inferclock._workers.ab_side import Side, make_side

#: The adaptive stop needs this many pairs, and an even count: two whole ABBA blocks, so each
#: side went first equally often (an effect of going first cancels in the mean) and the
#: spread rests on three degrees of freedom (t = 3.18), not one or two, where a lucky pair
#: of close ratios would end the run with an interval that does not hold.
MIN_PAIRS = 4
#: The adaptive stop's defaults: the ratio within +-2%, within 50 pairs and 120 s.
TARGET = 0.02
MAX_PAIRS = 50
MAX_TOTAL_TIME = 120.0
CONFIDENCE = 0.95


def paired_interval(
    log_ratios: list[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """(ratio, low, high): exp of the mean log ratio and of its Student-t interval (NaN bounds
    below two pairs)."""
    n = len(log_ratios)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = math.fsum(log_ratios) / n
    if n < 2:
        return math.exp(mean), math.nan, math.nan
    half = t_quantile(0.5 + confidence / 2, n - 1) * statistics.stdev(log_ratios) / math.sqrt(n)
    return math.exp(mean), math.exp(mean - half), math.exp(mean + half)


def half_width(ratio: float, high: float) -> float:
    """The interval's relative half-width on the ratio (``high / ratio - 1``; inf without one)."""
    return high / ratio - 1 if math.isfinite(high) else math.inf


def _metric(metric: Any, a: Side, b: Side) -> str:
    m = _cell.check_metric(metric)
    if m == "auto":
        if a.options.mode != b.options.mode:
            raise ConfigError(
                f"metric='auto' is the median in latency mode and throughput in throughput "
                f"mode, but A runs mode {a.options.mode!r} and B {b.options.mode!r}: give metric="
            )
        m = _cell.metric_for(m, a.options.mode)
    for side in (a, b):
        if m not in ("median", "throughput"):
            have = [f"p{p:g}" for p in side.options.percentiles]
            if m not in have:
                raise ConfigError(
                    f"metric {m!r}: side {side.label} reports only {', '.join(have)}; add it to "
                    "percentiles="
                )
    return m


def _value(row: Mapping[str, Any], metric: str, side: str, pair: int) -> float:
    why = _states.metric_problem(row, metric)
    run = _cell.run_of(row, metric, pair)
    if why is not None or run is None:
        raise InferclockError(f"ab: pair {pair + 1}, side {side}: {why or 'no ' + metric}")
    return run.value


def _stop_budget(
    n: int, fixed: int | None, max_pairs: int, max_total_time: float, elapsed: float
) -> StopReason | None:
    """Why no further pair starts: the count, or the time (going by the pairs so far, it would
    end past ``max_total_time``)."""
    if fixed is not None and n >= fixed:
        return "pairs"
    if fixed is None and n >= max_pairs:
        return "max_pairs"
    if n > 0 and elapsed + elapsed / n > max_total_time:
        return "max_total_time"
    return None


def ab(
    a: Any,
    b: Any = None,
    pairs: int | None = None,
    *,
    target: float | None = None,
    max_pairs: int | None = None,
    max_total_time: float | None = None,
    threshold: float = 0.05,
    metric: str = "auto",
    allow_inconclusive: bool = False,
    a_options: Mapping[str, Any] | None = None,
    b_options: Mapping[str, Any] | None = None,
    a_python: Any = None,
    b_python: Any = None,
    progress: bool = True,
    **options: Any,
) -> ABResult:
    """Is B faster than A? Time them in alternating fresh processes and judge the ratio B/A.

    a, b: the models (anything ``ic.run`` takes; ``b`` None: the same model as ``a``, for two
        option sets, environments or interpreters). ``options``: ``ic.run``'s options for
        both sides; ``a_options`` / ``b_options``: a side's own (over the common ones), e.g.
        ``b_options={"precision": "bf16"}`` or ``{"env": {"OMP_WAIT_POLICY": "PASSIVE"}}``.
        Each measurement is one fresh process timing ``duration=0.5`` s unless the options
        set iterations, duration or max_time; ``processes`` does not apply.
    a_python / b_python: run that side with another interpreter (a virtual environment with
        inferclock installed, e.g. an older version): each measurement is ``ic.run`` there,
        in a fresh process, with the options given here (JSON: no ``inputs``/``calibration``).
    pairs: a fixed number of pairs (>= 2). Otherwise the adaptive stop: after at least 4 pairs
        and at an even count, stop when the 95% interval of the ratio is within +-``target``
        (default 0.02) of it, or at ``max_pairs`` (default 50) or ``max_total_time`` (seconds
        for the whole comparison, default 120, none with ``pairs``; a pair that would end
        past it is not started). ``max_time`` is each run's own, as in ``ic.run``.
    metric: "auto" (throughput in throughput mode, else the median latency), "median",
        "throughput" or a reported percentile ("p99"). threshold / allow_inconclusive: the
        verdict as ``compare`` gives it (``result.state``, ``result.passed``).
    progress: one line per pair on stderr.

    Bad arguments raise ConfigError / ConfigTypeError naming them before anything runs.
    Ctrl-C ends it with the pairs completed (``result.interrupted``). A measurement's error
    (a crash, a timeout, a model that fails to compile) is raised as itself when no pair has
    completed; after that it ends the A/B with the pairs completed, ``stop_reason`` "error",
    ``result.error`` saying what, and a gate outcome of "fail" (as compare's "error in B").
    """
    fixed = _checks.integer(2, optional=True)("pairs", pairs)
    if fixed is not None and (target is not None or max_pairs is not None):
        raise ConfigError(
            "pairs= fixes the number of pairs; target= and max_pairs= belong to the adaptive "
            "stop: give one or the other"
        )
    tgt = TARGET if target is None else _checks.fraction("target", target)
    limit = _checks.integer(MIN_PAIRS, optional=True)("max_pairs", max_pairs) or MAX_PAIRS
    budget = _checks.seconds(optional=True, inf=True)("max_total_time", max_total_time)
    budget = (MAX_TOTAL_TIME if fixed is None else math.inf) if budget is None else budget
    t = check_threshold("threshold", threshold)
    flags = {"allow_inconclusive": allow_inconclusive, "progress": progress}
    for name, value in flags.items():
        _checks.boolean()(name, value)
    with tempfile.TemporaryDirectory(prefix="inferclock-ab-") as d, ModelBook(d) as book:
        side_a = make_side("A", a, options, a_options, a_python, book, d)
        side_b = make_side("B", a if b is None else b, options, b_options, b_python, book, d)
        m = _metric(metric, side_a, side_b)
        return _loop(
            side_a, side_b, m, fixed, tgt, limit, budget, t, allow_inconclusive, progress, Path(d)
        )


def _loop(
    a: Side,
    b: Side,
    metric: str,
    fixed: int | None,
    target: float,
    max_pairs: int,
    max_total_time: float,
    threshold: float,
    allow_inconclusive: bool,
    progress: bool,
    workdir: Path,
) -> ABResult:

    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    say(f"ab: {a.describe()}\nab: {b.describe()}")
    done: list[ABPair] = []
    logs: list[float] = []
    start = time.monotonic()
    stop: StopReason | None = None
    error = None
    try:
        while stop is None:
            n = len(done)
            stop = _stop_budget(n, fixed, max_pairs, max_total_time, time.monotonic() - start)
            if stop is not None:
                break
            order = (a, b) if n % 2 == 0 else (b, a)
            began = time.monotonic()
            rows = {}
            for side in order:
                rows[side.label] = side.measure(workdir)
                if _schema.get(rows[side.label], "interrupted"):
                    raise KeyboardInterrupt  # a partial measurement: the pair is not counted
            va, vb = (_value(rows[s], metric, s, n) for s in ("A", "B"))
            logs.append(math.log(vb / va))
            done.append(
                ABPair(
                    index=n, order="AB" if n % 2 == 0 else "BA", a_value=va, b_value=vb,
                    ratio=vb / va, seconds=time.monotonic() - began,
                    a_n=int(_schema.get(rows["A"], "n") or 0),
                    b_n=int(_schema.get(rows["B"], "n") or 0),
                )
            )  # fmt: skip
            ratio, lo, hi = paired_interval(logs)
            hw = half_width(ratio, hi)
            so_far = f"{ratio:.4f} [{lo:.4f}, {hi:.4f}] +-{hw:.1%}" if len(logs) > 1 else "-"
            say(
                f"ab pair {n + 1} ({done[-1].order}): A {value_text(va, metric)}, "
                f"B {value_text(vb, metric)}, B/A {vb / va:.4f}; so far {so_far}, "
                f"{time.monotonic() - start:.1f} s"
            )
            n += 1
            if fixed is None and n >= MIN_PAIRS and n % 2 == 0 and hw <= target:
                stop = "target"
    except Terminated:
        raise
    except KeyboardInterrupt:
        stop = "interrupted"
    except InferclockError as e:  # a crash, a timeout, a model that fails to compile
        if not done:
            raise  # nothing to judge: the error itself is the answer
        stop, error = "error", f"pair {len(done) + 1}: {type(e).__name__}: {e}"
        say(f"ab: {error}")
    result = _result(
        a, b, metric, done, logs, stop, target if fixed is None else None, threshold,
        allow_inconclusive, time.monotonic() - start,
    )  # fmt: skip
    return replace(result, error=error, outcome="fail") if error else result


def _result(
    a: Side,
    b: Side,
    metric: str,
    done: list[ABPair],
    logs: list[float],
    stop: StopReason,
    target: float | None,
    threshold: float,
    allow_inconclusive: bool,
    elapsed: float,
) -> ABResult:
    ratio, lo, hi = paired_interval(logs)
    if not done:
        state: _states.State = "no interval"
        verdict: _states.Outcome = "fail"  # compared nothing: never green
    else:
        state, verdict = _states.judge_ratio(
            ratio, lo, hi, metric, threshold, allow_inconclusive=allow_inconclusive
        )
    return ABResult(
        metric=metric, a=a.describe(), b=b.describe(), pairs=tuple(done), ratio=ratio,
        ci_low=lo, ci_high=hi, confidence=CONFIDENCE, half_width=half_width(ratio, hi),
        target=target, threshold=threshold, state=state, outcome=verdict, stop_reason=stop,
        elapsed_s=elapsed,
    )  # fmt: skip
