"""ic.measure in fresh processes (issue 23 item 2): a callable importable by name runs in k
workers, its interval combining the variation within and between them; a closure runs here,
labelled so; speed modes and instability are named."""

from __future__ import annotations

import math

import measure_targets
import pytest

import inferclock as ic
from inferclock._analysis.stability import InstabilityWarning, modes, reasons
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._common.intervals import Run

FAST = {"max_time": 0.3, "min_time": 0.05, "warmup": 20}


def test_a_function_by_name_runs_in_three_processes() -> None:
    m = ic.measure("measure_targets:sort_1000", **FAST)
    assert m.processes == 3 and len(m.process_measurements) == 3
    assert m.interval_scope == "within and between 3 processes"
    medians = [p.stats.median_ns for p in m.process_measurements]
    assert m.stats.median_ns == pytest.approx(math.prod(medians) ** (1 / 3), rel=1e-9)
    low, high = m.stats.ci_ns
    assert low <= m.stats.median_ns <= high
    assert m.stats.n == sum(p.stats.n for p in m.process_measurements)
    # A module-level function object is importable by name too, with a setup per process.
    m2 = ic.measure(measure_targets.needs_setup, processes=2, setup=measure_targets.setup, **FAST)
    assert m2.processes == 2 and m2.multimodal is not None


def test_a_closure_runs_here_and_says_so() -> None:
    m = ic.measure(lambda: sorted(range(100)), **FAST)
    assert m.processes == 1 and m.interval_scope == "within one process"
    assert m.multimodal is None and m.process_measurements == ()
    with pytest.raises(ConfigError, match="needs a callable a fresh process can import"):
        ic.measure(lambda: None, processes=3)


def test_an_unstable_callable_is_warned_about() -> None:
    with pytest.warns(InstabilityWarning, match="coefficient of variation") as caught:
        m = ic.measure(measure_targets.unstable, processes=1, **FAST)
    assert m.instability and "may be unstable" in str(caught[0].message)


def test_the_reasons_for_instability() -> None:
    assert reasons(1000, 0.05, 0.9e6, 1.0e6, None) == ()
    assert reasons(10, 0.05, 0.9e6, 1.0e6, None) == ("only 10 sample(s) (fewer than 30)",)
    (why,) = reasons(1000, 2.33, 0.9e6, 1.0e6, None)
    assert why == "coefficient of variation 233% (above 50%)"
    (why,) = reasons(1000, 0.05, 0.3e6, 1.0e6, None)
    assert why.startswith("the fastest sample took 30% of the median")
    (why,) = reasons(1000, 0.05, 0.9e6, 1.0e6, "two speed modes: ...")
    assert why == "processes disagree: two speed modes: ..."


def test_a_worker_error_comes_back_as_itself() -> None:
    with pytest.raises(ValueError, match="boom from a worker"):
        ic.measure("measure_targets:fails", processes=2, **FAST)


@pytest.mark.parametrize(
    ("kwargs", "err", "words"),
    [
        ({"fn": "no_such_module_xyz:f"}, ConfigError, "cannot import module 'no_such_module_xyz'"),
        ({"fn": "measure_targets:nope"}, ConfigError, "has no 'nope'"),
        ({"fn": "measure_targets"}, ConfigError, "'package.module:function'"),
        ({"fn": "measure_targets:_STATE"}, ConfigTypeError, "not a callable"),
        ({"fn": "measure_targets:sort_1000", "processes": 0}, ConfigError, "processes"),
        ({"fn": "measure_targets:sort_1000", "processes": True}, ConfigTypeError, "processes"),
        ({"fn": "measure_targets:sort_1000", "bogus": 1}, TypeError, "bogus"),
        ({"fn": "measure_targets:sort_1000", "setup": 3}, ConfigTypeError, "setup must be"),
        ({"fn": "measure_targets:sort_1000", "iterations": -1}, ConfigError, "iterations"),
    ],
)
def test_bad_arguments_are_refused_before_any_worker(
    kwargs: dict[str, object], err: type[Exception], words: str
) -> None:
    fn = kwargs.pop("fn")
    with pytest.raises(err, match=words):
        ic.measure(fn, **kwargs)  # type: ignore[arg-type]


def _runs(values: list[float], width: float) -> list[Run]:
    return [Run(i, v, v * (1 - width), v * (1 + width), 0.95) for i, v in enumerate(values)]


def test_multimodal_means_speed_modes_not_spread() -> None:
    assert modes(_runs([1.00e6, 1.02e6, 1.03e6], 0.001)) is None  # ordinary spread
    assert modes(_runs([1.0e6], 0.001)) is None
    note = modes(_runs([29.6e6, 30.1e6, 57.0e6], 0.01))
    assert note is not None and "2 process(es) near" in note and "1 near 57 ms" in note
    assert modes(_runs([1.0e6, 1.3e6], 0.2)) is None  # 30% apart, but the intervals overlap


def test_a_run_with_too_few_samples_is_warned_about_and_says_so(matmul_model: object) -> None:
    with pytest.warns(InstabilityWarning, match=r"only 5 sample\(s\)"):
        r = ic.run(matmul_model, iterations=5, warmup=2)
    assert r.instability[0] == "only 5 sample(s) (fewer than 30)"
    assert "UNSTABLE  only 5 sample(s)" in r.summary()
    assert r.to_dict()["instability"] == list(r.instability)
