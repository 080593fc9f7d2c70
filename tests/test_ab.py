"""``ic.ab`` and ``inferclock ab``: interleaved A/B in alternating fresh processes.

The stopping rule, the ABBA order and the verdict are tested on sides whose measurements are
scripted (no process, no clock: the loop's own clock is replaced); real processes run only
where the outcome is clear-cut (8x more work is slower) or where only the structure is
asserted (another interpreter's side).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import inferclock as ic
from inferclock.__main__ import main
from inferclock._analysis import states
from inferclock._timing.options import RunOptions
from inferclock._workers import ab as ab_mod, ab_side

# -- scripted sides ---------------------------------------------------------------------------


class Script:
    """Scripted measurements: each side's values in turn, every call logged, a fake clock
    advanced ``step`` seconds per measurement; ``stop_at``: Ctrl-C on that call."""

    def __init__(self, a: list[float], b: list[float], step: float = 1.0, key: str = "median"):
        self.values = {"A": iter(a), "B": iter(b)}
        self.calls: list[str] = []
        self.now, self.step, self.key = 0.0, step, key
        self.stop_at: int | None = None
        self.partial_at: int | None = None
        self.crash_at: int | None = None

    def monotonic(self) -> float:
        return self.now

    def measure(self, side: ab_side.Side, workdir: Path) -> dict[str, Any]:
        self.calls.append(side.label)
        self.now += self.step
        if self.stop_at == len(self.calls):
            raise KeyboardInterrupt
        if self.crash_at == len(self.calls):
            raise ic.WorkerCrash("the worker process crashed (SIGSEGV)", "crash (SIGSEGV)")
        v = next(self.values[side.label])
        field = "throughput_fps" if self.key == "throughput" else "latency_median_ns"
        row: dict[str, Any] = {"latency_median_ns": 1e6, "n": 100, "throughput_fps": 1000.0}
        row[field] = v
        row["interrupted"] = self.partial_at == len(self.calls)
        return row


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    made: list[Script] = []

    def use(a: list[float], b: list[float], mode: str = "latency", **kw: Any) -> Script:
        s = Script(a, b, key="throughput" if mode == "throughput" else "median", **kw)
        made.append(s)

        def make_side(label: str, *args: Any) -> ab_side.Side:
            return ab_side.Side(label, f"m{label}", "m.xml", RunOptions(mode=mode))

        monkeypatch.setattr(ab_mod, "make_side", make_side)
        monkeypatch.setattr(ab_side.Side, "measure", lambda side, d: s.measure(side, d))
        monkeypatch.setattr(ab_mod.time, "monotonic", s.monotonic)
        return s

    yield use


def test_pairs_alternate_abba_and_the_ratio_is_paired(script: Any) -> None:
    # A drifts 4x over the run; B is always 1.5x A: the pairs see 1.5 every time.
    a = [1e6 * (1 + i) for i in range(6)]
    s = script(a, [1.5 * v for v in a])
    r = ic.ab("a.xml", "b.xml", pairs=6, progress=False)
    assert s.calls == list("ABBAABBAABBA")
    assert [p.order for p in r.pairs] == ["AB", "BA", "AB", "BA", "AB", "BA"]
    assert r.ratio == pytest.approx(1.5) and r.ci_low == pytest.approx(1.5)
    assert r.state == "slower" and r.outcome == "fail" and r.exit_code == 1
    assert r.stop_reason == "pairs" and r.target is None


def test_the_adaptive_stop_waits_for_four_pairs_and_an_even_count(script: Any) -> None:
    s = script([1e6] * 50, [1e6] * 50)  # identical: the interval has no width from pair 2
    r = ic.ab("a.xml", pairs=None, progress=False)
    assert len(r.pairs) == ab_mod.MIN_PAIRS == 4 and r.stop_reason == "target"
    assert r.state == "same" and r.passed and (r.ci_low, r.ci_high) == (1.0, 1.0)
    # One pair of 1.5 among 1.0s: within +-30% first at 5 pairs (25%), an odd count; at 6: 19%.
    s = script([1e6] * 50, [1.5e6] + [1e6] * 49)
    r = ic.ab("a.xml", target=0.3, progress=False)
    assert len(r.pairs) == 6 and r.stop_reason == "target" and r.half_width <= 0.3

    def hw(pairs: int) -> float:
        return ab_mod.half_width(
            *ab_mod.paired_interval([math.log(1.5)] + [0.0] * (pairs - 1))[::2]
        )

    assert hw(4) > 0.3 >= hw(5)  # within the target at 5 pairs, but 5 is odd
    assert len(s.calls) == 12


def test_budgets_end_it_and_say_which(script: Any) -> None:
    noisy = [1e6, 2e6] * 40
    script(noisy, list(reversed(noisy)))
    r = ic.ab("a.xml", max_pairs=6, progress=False)
    assert len(r.pairs) == 6 and r.stop_reason == "max_pairs" and r.state == "inconclusive"
    assert "max_pairs reached" in r.summary()
    # 2 s a pair; a third would end at 6 s, past 5 s: not started.
    script(noisy, list(reversed(noisy)))
    r = ic.ab("a.xml", max_total_time=5, progress=False)
    assert len(r.pairs) == 2 and r.stop_reason == "max_total_time"


def test_ctrl_c_keeps_the_pairs_completed(script: Any) -> None:
    s = script([1e6] * 9, [2e6] * 9)
    s.stop_at = 7  # during pair 4
    r = ic.ab("a.xml", pairs=8, progress=False)
    assert len(r.pairs) == 3 and r.interrupted and r.ratio == pytest.approx(2.0)
    s = script([1e6] * 9, [2e6] * 9)
    s.partial_at = 4  # pair 2's second run comes back partial: not counted
    r = ic.ab("a.xml", pairs=8, progress=False)
    assert len(r.pairs) == 1 and r.interrupted and r.state == "no interval"
    s = script([1e6], [1e6])
    s.stop_at = 1  # nothing compared: never a pass
    r = ic.ab("a.xml", pairs=4, progress=False)
    assert r.pairs == () and r.outcome == "fail" and math.isnan(r.ratio)
    assert r.to_dict()["ratio"] is None


def test_a_crash_after_some_pairs_ends_it_failed_with_those_pairs(script: Any) -> None:
    s = script([1e6] * 9, [1e6] * 9)
    s.crash_at = 6  # pair 3's second run
    r = ic.ab("a.xml", pairs=8, progress=False)
    assert len(r.pairs) == 2 and r.stop_reason == "error" and r.outcome == "fail"
    assert r.state == "same" and not r.passed and r.exit_code == 1
    assert r.error is not None and "pair 3" in r.error and "SIGSEGV" in r.error
    assert "error: pair 3" in r.summary()
    s = script([1e6] * 9, [1e6] * 9)
    s.crash_at = 2  # no pair completed: the error itself
    with pytest.raises(ic.WorkerCrash, match="SIGSEGV"):
        ic.ab("a.xml", pairs=8, progress=False)


@pytest.mark.parametrize(
    ("mode", "b_factor", "state"),
    [("latency", 0.5, "faster"), ("latency", 1.01, "same"), ("throughput", 0.5, "slower"),
     ("throughput", 2.0, "faster")],
)  # fmt: skip
def test_the_verdict_is_compares(script: Any, mode: str, b_factor: float, state: str) -> None:
    a = [1e6 * (1 + 0.01 * (i % 3)) for i in range(4)]
    script(a, [b_factor * v for v in a], mode=mode)
    r = ic.ab("a.xml", pairs=4, progress=False)
    assert r.metric == ("throughput" if mode == "throughput" else "median")
    assert r.state == state == states.judged_state(r.ratio, r.ci_low, r.ci_high, r.metric, 0.05)


def test_progress_is_one_line_per_pair(script: Any, capsys: pytest.CaptureFixture[str]) -> None:
    script([1e6] * 3, [1.1e6] * 3)
    ic.ab("a.xml", pairs=3)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.startswith("ab pair")]
    assert len(lines) == 3 and "B/A 1.1000" in lines[-1] and "(AB)" in lines[-1]


# -- argument checks, before anything runs -----------------------------------------------------

BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"pairs": 1}, ic.ConfigError, "pairs"),
    ({"pairs": 2.5}, ic.ConfigTypeError, "pairs"),
    ({"pairs": True}, ic.ConfigTypeError, "pairs"),
    ({"target": 0}, ic.ConfigError, "target"),
    ({"target": "2%"}, ic.ConfigTypeError, "target"),
    ({"pairs": 4, "target": 0.05}, ic.ConfigError, "target="),
    ({"max_pairs": 3}, ic.ConfigError, "max_pairs"),
    ({"max_total_time": -1}, ic.ConfigError, "max_total_time"),
    ({"max_total_time": math.nan}, ic.ConfigError, "max_total_time"),
    ({"threshold": -0.1}, ic.ConfigError, "threshold"),
    ({"metric": "p101"}, ic.ConfigError, "metric"),
    ({"metric": "p99.9"}, ic.ConfigError, "percentiles="),
    ({"processes": 3}, ic.ConfigError, "processes"),
    ({"b_options": "bf16"}, ic.ConfigTypeError, "b_options"),
    ({"b_options": {"precison": "bf16"}}, ic.ConfigError, "precison"),
    ({"b_options": {"mode": "throughput"}}, ic.ConfigError, "metric="),
    ({"batch_size": 0}, ic.ConfigError, "batch_size"),
    ({"a_python": 42}, ic.ConfigTypeError, "a_python"),
    ({"b_python": "/no/such/python"}, ic.ConfigError, "b_python"),
    ({"progress": "yes"}, ic.ConfigTypeError, "progress"),
]


@pytest.mark.parametrize(("kwargs", "error", "named"), BAD)
def test_bad_arguments_are_refused_by_name_before_anything_runs(
    matmul_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    error: type[Exception],
    named: str,
) -> None:
    ran: list[str] = []
    monkeypatch.setattr(ab_side.Side, "measure", lambda side, d: ran.append(side.label))
    with pytest.raises(error, match=named.replace("(", r"\(")):
        ic.ab(matmul_model, **kwargs)
    assert ran == []


def test_a_python_that_lacks_inferclock_is_refused(tmp_path: Path, matmul_model: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'No module named inferclock' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(ic.ConfigError, match=r"a_python .*cannot import inferclock"):
        ic.ab(matmul_model, a_python=fake)
    with pytest.raises(ic.ModelError, match="neither a file"):
        ic.ab(matmul_model, tmp_path / "missing.xml")


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(max_value=1), st.floats(), st.text(max_size=3), st.none()))
def test_any_pairs_but_an_integer_from_2_is_refused(pairs: Any) -> None:
    if pairs is None:
        return  # the adaptive stop
    with pytest.raises(ic.ConfigError, match="pairs"):
        ic.ab("unused.xml", pairs=pairs)


# -- real processes ----------------------------------------------------------------------------


def chain(path: Path, layers: int) -> Path:
    """``layers`` 256x256 MatMul+ReLU: the work grows with the layers."""
    import openvino as ov
    import openvino.opset13 as ops

    rng = np.random.default_rng(7)
    x = ops.parameter([-1, 256], np.float32, name="x")
    h = x
    for _ in range(layers):
        w = ops.constant(rng.standard_normal((256, 256)).astype(np.float32) * 0.05)
        h = ops.relu(ops.matmul(h, w, False, False))
    ov.save_model(ov.Model([h], [x], f"chain{layers}"), str(path), compress_to_fp16=False)
    return path


RUN = ["--iterations", "300", "--warmup", "30", "--threads", "1"]


def test_cli_finds_8x_more_work_slower_and_gates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fast, slow = chain(tmp_path / "fast.xml", 2), chain(tmp_path / "slow.xml", 16)
    out = tmp_path / "ab.json"
    argv = ["ab", str(fast), str(slow), "--pairs", "4", "--fail-above", "5%", "--json", str(out)]
    rc = main([*argv, *RUN])
    printed, err = capsys.readouterr()
    assert rc == 1, printed + err
    assert "slower" in printed and "stopped after 4 pairs" in printed
    assert len([ln for ln in err.splitlines() if ln.startswith("ab pair")]) == 4
    d = json.loads(out.read_text())
    assert d["state"] == "slower" and d["outcome"] == "fail" and len(d["pairs"]) == 4
    assert d["ci_low"] > 1.05 and [p["order"] for p in d["pairs"]] == ["AB", "BA"] * 2


@pytest.mark.parametrize(
    ("argv", "named"),
    [(["--a-args=--bogus 1"], "--a-args"), (["--b-args", '"unclosed'], "--b-args"),
     (["--b-args=-b 0"], "batch_size"), (["--target", "abc"], "--target"),
     (["--allow-inconclusive"], "--fail-above"), (["--fail-above=-5%"], "--fail-above"),
     (["--pairs", "1"], "pairs")],
)  # fmt: skip
def test_cli_bad_input_exits_2_before_anything_runs(
    matmul_model: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    named: str,
) -> None:
    monkeypatch.setattr(ab_side.Side, "measure", lambda side, d: pytest.fail("it ran"))
    assert main(["ab", str(matmul_model), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and named in err and "Traceback" not in err


def test_another_interpreter_runs_a_side(tmp_path: Path, matmul_model: Path) -> None:
    """A second virtual environment that sees this one's packages (a .pth file): side B runs
    there, one fresh process per measurement; only the structure is asserted."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    import sysconfig

    site = next(venv.glob("lib/python*/site-packages"))
    (site / "parent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    r = ic.ab(
        matmul_model, pairs=2, b_python=python, progress=False, iterations=200, warmup=20,
        threads=1, b_options={"env": {"OMP_WAIT_POLICY": "PASSIVE"}},
    )  # fmt: skip
    assert str(python) in r.b and str(python) not in r.a and "inferclock" in r.b
    assert [p.order for p in r.pairs] == ["AB", "BA"]
    assert all(p.a_n == p.b_n == 200 and p.a_value > 0 and p.b_value > 0 for p in r.pairs)
    assert math.isfinite(r.ci_low) and r.ci_low <= r.ratio <= r.ci_high
    with pytest.raises(ic.ConfigError, match="b_python: inputs="):
        ic.ab(matmul_model, b_python=python, inputs={"x": np.zeros((1, 64), np.float32)})
