"""Property-based checks of argument validation (issue 15): ic.pin, compare() and its gate, and
the compare command line. Random values of the wrong type or range must give the documented
error naming the argument, never another exception, and leave the CPU mask as it was."""

from __future__ import annotations

import contextlib
import io
import math
import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("hypothesis", reason="the property tests need hypothesis (pip install it)")

from hypothesis import HealthCheck, given, settings, strategies as st

from inferclock import _core
from inferclock.__main__ import main
from inferclock._analysis.cell import check_metric
from inferclock._analysis.compare import compare
from inferclock._common.errors import ConfigError, InferclockError, PinningError
from inferclock._platform.pin import active_pins, pin
from inferclock._platform.topology import topology

# Few examples each: these run in the normal suite. No example database in the source tree.
FEW = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ALLOWED = frozenset(os.sched_getaffinity(0))
TOPO = topology()

pytestmark = pytest.mark.filterwarnings("ignore::inferclock._platform.topology.PinningWarning")

# Values of no type any argument takes, and values of the right kind but out of range.
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.one_of(st.floats(), st.text(max_size=3), st.none()), min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(object),
)
big_or_negative = st.one_of(st.integers(max_value=-1), st.integers(min_value=2**31))


def _valid_cpus_text(text: str) -> bool:
    try:
        cpus = _core.parse_cpulist(text)
    except PinningError:
        return False
    return bool(cpus) and set(cpus) <= ALLOWED


def _bad_cpus() -> st.SearchStrategy[Any]:
    not_allowed = st.integers().filter(lambda c: c not in ALLOWED)
    return st.one_of(
        junk.filter(lambda v: not (isinstance(v, str) and _valid_cpus_text(v))),
        not_allowed,
        st.lists(not_allowed, min_size=1, max_size=3),
        st.lists(st.sampled_from(sorted(ALLOWED)), max_size=2).flatmap(
            lambda good: st.lists(junk, min_size=1, max_size=2).map(lambda bad: good + bad)
        ),
        st.text(alphabet="0123456789-, x", max_size=10).filter(lambda t: not _valid_cpus_text(t)),
    )


def _not(*good: object) -> st.SearchStrategy[Any]:
    return st.one_of(junk, st.integers()).filter(
        lambda v: not any(type(v) is type(g) and v == g for g in good)
    )


PIN_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "cpus": _bad_cpus().filter(lambda v: v is not None),
    "socket": st.one_of(junk.filter(lambda v: v is not None), big_or_negative),
    "numa_node": st.one_of(junk.filter(lambda v: v is not None), big_or_negative),
    "physical_only": _not(True, False),
    "membind": _not(True, False),
    "scope": _not("process", "thread"),
    "core_type": _not(None, "P", "E"),
    "topology": _not(None),
}


@FEW
@given(data=st.data(), name=st.sampled_from(sorted(PIN_ARGUMENTS)))
def test_pin_refuses_bad_arguments_by_name_and_pins_nothing(data: st.DataObject, name: str) -> None:
    value = data.draw(PIN_ARGUMENTS[name], label=name)
    before = os.sched_getaffinity(0)
    try:
        p = pin(**{name: value})
    except Exception as e:
        assert isinstance(e, PinningError), f"{type(e).__name__}: {e}"
        assert name in str(e), str(e)
    else:
        p.release()
        pytest.fail(f"pin({name}={value!r}) pinned to {p.cpus}")
    assert os.sched_getaffinity(0) == before
    assert active_pins() == []


# ---------------------------------------------------------------- compare


def _real(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _metric(v: object) -> bool:
    try:
        check_metric(v)
    except ConfigError:
        return False
    return True


# What each argument accepts; the strategies draw anything else.
COMPARE_VALID = {
    "threshold": lambda v: _real(v) and 0 <= v < 10,
    "confidence": lambda v: _real(v) and 0.5 <= v < 1,
    "metric": lambda v: _metric(v),
    "allow_mixed": lambda v: isinstance(v, bool),
    "a": lambda v: isinstance(v, (str, os.PathLike)),
    "b": lambda v: isinstance(v, (str, os.PathLike)),
}
COMPARE_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    name: st.one_of(junk, st.integers(), st.floats()).filter(lambda v, ok=ok: not ok(v))
    for name, ok in COMPARE_VALID.items()
}


@FEW
@given(data=st.data(), name=st.sampled_from(sorted(COMPARE_ARGUMENTS)))
def test_compare_refuses_bad_arguments_by_name_before_reading(
    data: st.DataObject, name: str
) -> None:
    value = data.draw(COMPARE_ARGUMENTS[name], label=name)
    kwargs: dict[str, Any] = {"a": "/nonexistent/a.jsonl", "b": "/nonexistent/b.jsonl"}
    kwargs[name] = value
    with pytest.raises(ConfigError) as e:  # FileNotFoundError here: a value got through
        compare(**kwargs)
    message = str(e.value)
    assert (f"compare: {name} must be" if name in ("a", "b") else f"{name} must be") in message


@pytest.fixture(scope="module")
def same(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from synthetic import write_table

    return write_table(tmp_path_factory.mktemp("hardening") / "a.jsonl", [("m", "f32", 1, "x")])


@FEW
@given(
    threshold=COMPARE_ARGUMENTS["threshold"].filter(lambda v: v is not None),
    allow=_not(True, False),
)
def test_gate_refuses_bad_arguments_by_name(same: Path, threshold: Any, allow: Any) -> None:
    c = compare(same, same)
    with pytest.raises(ConfigError, match="threshold must be"):
        c.gate(threshold)
    with pytest.raises(ConfigError, match="allow_missing must be"):
        c.gate(allow_missing=allow)


def _looks_like_a_threshold(text: str) -> bool:
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        return False
    return math.isfinite(v) and 0 <= v < 10


bad_threshold_text = st.one_of(
    st.text(max_size=10),
    st.floats().filter(lambda v: not 0 <= v < 10).map(repr),
    st.floats().filter(lambda v: not 0 <= v < 1000).map(lambda v: f"{v}%"),
).filter(lambda t: not _looks_like_a_threshold(t))


@FEW
@given(
    flag=st.sampled_from(["--threshold", "--fail-above"]),
    text=bad_threshold_text,
    joined=st.booleans(),
)
def test_compare_cli_refuses_bad_thresholds_before_any_work(
    same: Path, flag: str, text: str, joined: bool
) -> None:
    argv = ["compare", str(same), str(same), *([f"{flag}={text}"] if joined else [flag, text])]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse's own errors (a value that looks like an option)
            rc = int(e.code or 0)
    assert rc == 2, (argv, err.getvalue())
    assert "error: " in err.getvalue() and flag in err.getvalue(), err.getvalue()
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""


def test_errors_here_are_inferclock_errors() -> None:
    # What the properties above accept is the documented family.
    assert issubclass(PinningError, InferclockError) and issubclass(ConfigError, InferclockError)
