"""Random values of the wrong type and range to every argument of the public entry points
(ic.run, ic.measure, ic.sweep, the run and sweep command lines): an InferclockError that is
also a ValueError or TypeError, naming the argument, or the value is accepted; never another
exception, never a hang, and the process's CPU mask unchanged."""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import inferclock as ic
from inferclock.__main__ import main
from inferclock._sweeps.options import SweepOptions
from inferclock._timing import options as _options

MISSING = "/nonexistent/model.xml"  # an accepted value runs into this: ModelError
RUN = [o.name for o in _options.options()]
SWEEP = [o.name for o in _options.options(SweepOptions) if o.name != "out"]
STOPPING = ["warmup", "iterations", "duration", "target_ci", "min_time", "max_time"]
STOPPING += ["max_samples", "cpus"]
FLAGS = [o for o in _options.options() if o.meta.cli in ("value", "append")]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0, -1, 0.0, 1e300, 2**64]),
    st.text(max_size=12),
    st.lists(st.one_of(st.integers(-5, 2**40), st.floats(), st.text(max_size=3)), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.just(object()),
    st.just(np.float32(0.5)),
)
texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["nan", "inf", "-1", "0", "1e9", "2**70", "x[1,-1]", "a=", "=b", "5%", ""]),
)
SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Hang(Exception):
    pass


@contextmanager
def bounded(seconds: int = 20) -> Iterator[None]:
    """Fail, instead of hanging, when one example takes longer than ``seconds``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(call: Callable[[], Any], name: str, accepted: type[BaseException]) -> None:
    mask = os.sched_getaffinity(0)
    try:
        with bounded():
            call()
    except accepted:
        pass  # the value passed its check; the call stopped at what comes next
    except ic.InferclockError as e:
        assert isinstance(e, (ValueError, TypeError)), f"{type(e).__name__} for {name}: {e}"
        assert name in str(e) or name.replace("_", "-") in str(e), f"{name} not named: {e}"
    assert os.sched_getaffinity(0) == mask


@SETTINGS
@given(name=st.sampled_from(RUN), value=values)
def test_run_options(name: str, value: Any) -> None:
    check(lambda: ic.run(MISSING, **{name: value}), name, ic.ModelError)


class Called(Exception):
    pass


def _called() -> None:
    raise Called


@SETTINGS
@given(name=st.sampled_from(STOPPING), value=values)
def test_measure_options(name: str, value: Any) -> None:
    check(lambda: ic.measure(_called, **{name: value}), name, Called)


@SETTINGS
@given(name=st.sampled_from(SWEEP + RUN), value=values)
def test_sweep_options(name: str, value: Any, tmp_path: Path) -> None:
    axes = {o.name: a for a, o in _options.axes().items()}
    kwargs = {axes.get(name, name): value}
    check(lambda: ic.sweep(MISSING, out=tmp_path / "r.jsonl", **kwargs), name, ic.ModelError)
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("command", ["run", "sweep"])
@SETTINGS
@given(opt=st.sampled_from(FLAGS), text=texts)
def test_command_line_flags(
    command: str,
    opt: _options.Option,
    text: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = ["-o", str(tmp_path / "r.jsonl")] if command == "sweep" else []
    mask = os.sched_getaffinity(0)
    try:
        with bounded():
            rc = main([command, MISSING, *out, opt.flag, text])
    except SystemExit as e:  # argparse's own usage errors (a value that looks like a flag)
        rc = e.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert rc == 2, err
    named = opt.name in err or opt.flag in err or (opt.meta.axis or "?") in err
    assert named or "neither a file nor a built-in model" in err, err
    assert "Traceback" not in err
    assert os.sched_getaffinity(0) == mask
