"""Phases of a timed callable: ic.phase / ic.mark inside ic.measure, on the real C++ core."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import inferclock as ic
from inferclock import _core
from inferclock._render import phase_plots as _phase_plots
from inferclock._timing import phases as _phases

SPIN = _core.busy_wait_ns


def spin(ns: int) -> None:
    SPIN(ns, False)  # the GIL held: nothing else runs in between


def near(value: float, want: float, rel: float = 0.03) -> bool:
    # 3%: the spin is timed on the calibrated clock, whose frequency a loaded 2-vCPU VM can
    # make 1-2% off (CI saw a 200 us spin read 202.5 us); the phases tested differ by 2x+.
    return abs(value / want - 1.0) < rel


def rounding(m: ic.Measurement) -> float:
    """How far mean shares may sum from 1: each phase's ticks round to ns, half a ns a call."""
    return 0.5 * (len(m.phases) + 1) / m.stats.mean_ns


def test_two_spinning_phases_get_their_times_and_shares() -> None:
    def step() -> None:
        with ic.phase("short"):
            spin(200_000)
        with ic.phase("long"):
            spin(600_000)

    m = ic.measure(step, warmup=3, iterations=100, batch_size=8)
    assert list(m.phases) == ["short", "long", "(other)"]
    short, long, other = m.phases.values()
    # A spin never runs short; a loaded machine can preempt any share of the calls, so the
    # shortest of the 100 is the clean one, and no median may fall below its spin.
    assert near(short.samples_ns.min(), 200_000), short.stats
    assert near(long.samples_ns.min(), 600_000), long.stats
    assert short.stats.median_ns >= 0.97 * 200_000 and long.stats.median_ns >= 0.97 * 600_000
    assert short.samples_ns.size == long.samples_ns.size == m.samples_ns.size == 100
    assert (short.spans == 1).all() and short.depth == 0 and short.parent is None
    # Mean shares add up exactly (to the ns rounding); median shares about.
    assert sum(p.mean_share for p in m.phases.values()) == pytest.approx(1.0, abs=rounding(m))
    # A median share is the phase's median over the step's; they add up to about 1 only on a
    # quiet machine (a median of sums is not the sum of medians once preemptions skew calls).
    for p in m.phases.values():
        assert p.share == pytest.approx(p.stats.median_ns / m.stats.median_ns)
    assert 0.75 * 0.97 <= float(np.median(long.samples_ns / m.samples_ns)) <= 0.75 / 0.97
    assert 0 <= other.stats.median_ns < 0.01 * m.stats.median_ns
    # Per call, the phases and the rest make up the step.
    total = short.samples_ns + long.samples_ns + other.samples_ns
    assert np.abs(total - m.samples_ns).max() <= 2  # rounding of three tick counts to ns
    assert m.throughput == pytest.approx(8e9 / m.stats.median_ns)
    assert short.throughput == pytest.approx(8e9 / short.stats.median_ns)
    lo, hi = short.throughput_ci or (0.0, 0.0)
    assert lo <= short.throughput <= hi


def test_phases_nest_and_count_once_inside_themselves() -> None:
    def step() -> None:
        with ic.phase("outer"):
            with ic.phase("inner"):
                spin(200_000)
            with ic.phase("inner"):  # twice in a call: both count
                spin(200_000)
            with ic.phase("outer"):  # inside itself: already counted by the outer span
                spin(200_000)

    m = ic.measure(step, warmup=2, iterations=40)
    outer, inner, other = m.phases["outer"], m.phases["inner"], m.phases["(other)"]
    assert (outer.depth, outer.parent) == (0, None)
    assert (inner.depth, inner.parent) == (1, "outer")
    assert (inner.spans == 2).all()
    assert near(inner.samples_ns.min(), 400_000)  # the clean call (see the first test)
    # Inclusive of inner, the repeat counted once: about 600 us, not 800.
    assert (outer.samples_ns >= inner.samples_ns + 200_000).all()
    assert near(outer.samples_ns.min(), 600_000)
    # Shares add up over the top level: outer and (other); inner is inside outer.
    assert outer.mean_share + other.mean_share == pytest.approx(1.0, abs=rounding(m))
    assert inner.share == pytest.approx(inner.stats.median_ns / m.stats.median_ns)
    assert float(np.median(inner.samples_ns / m.samples_ns)) == pytest.approx(2 / 3, abs=0.03)


def test_mark_is_a_boundary_to_the_next_mark_or_the_end() -> None:
    def step() -> None:
        ic.mark("a")
        spin(200_000)
        ic.mark("b")  # ends a
        spin(500_000)
        with ic.phase("c"):  # nests inside b
            ic.mark("d")
            spin(100_000)
        # b runs on to the end of the call

    m = ic.measure(step, warmup=2, iterations=40)
    assert list(m.phases) == ["a", "b", "c", "d", "(other)"]
    assert near(m.phases["a"].samples_ns.min(), 200_000)  # the clean call (the first test)
    b, c = m.phases["b"], m.phases["c"]
    assert (b.samples_ns >= c.samples_ns + 500_000).all()  # c is inside b
    assert near(b.samples_ns.min(), 600_000, rel=0.04)
    assert (m.phases["c"].depth, m.phases["c"].parent) == (1, "b")
    assert (m.phases["d"].depth, m.phases["d"].parent) == (2, "c")
    assert near(m.phases["d"].samples_ns.min(), 100_000, rel=0.04)
    top = m.phases["a"].mean_share + m.phases["b"].mean_share
    assert top + m.phases["(other)"].mean_share == pytest.approx(1.0, abs=rounding(m))


def test_outside_measure_and_on_other_threads_phases_do_nothing() -> None:
    with ic.phase("untimed") as p:  # no measure running: a no-op
        ic.mark("untimed too")
    assert p is ic.phase("untimed")  # one object per name, returned by __enter__

    def elsewhere() -> None:
        with ic.phase("thread"):
            spin(1000)

    def step() -> None:
        t = threading.Thread(target=elsewhere)
        t.start()
        t.join()
        with ic.phase("here"):
            spin(1000)

    m = ic.measure(step, warmup=0, iterations=5)
    assert list(m.phases) == ["here", "(other)"]  # the other thread's phase is not ours
    plain = ic.measure(lambda: None, warmup=0, iterations=5)
    assert plain.phases == {} and plain.dropped_calls == 0
    assert plain.throughput == pytest.approx(1e9 / plain.stats.median_ns)  # batch_size=1


class Boom(Exception):
    pass


def test_exception_inside_a_phase_comes_back_as_itself() -> None:
    calls = 0
    boom = Boom("in forward")

    def step() -> None:
        nonlocal calls
        calls += 1
        with ic.phase("forward"):
            if calls in (6, 7):
                raise boom

    with pytest.raises(Boom) as info:
        ic.measure(step, warmup=0, iterations=50)
    assert info.value is boom
    assert any("#6" in n for n in info.value.__notes__)
    # The failing loop's log is no longer active: marks after it go nowhere.
    log = _core.PhaseLog(16)
    out = np.empty(4, np.int64)
    done, _, exc = _core.time_calls(step, out, 0, 4, log)  # call 7 raises
    assert (done, exc, log.size) == (0, boom, 1)
    ic.mark("z")
    with ic.phase("forward"):
        pass
    assert log.size == 1
    m = ic.measure(lambda: ic.mark("z"), warmup=0, iterations=3)
    assert list(m.phases) == ["z", "(other)"] and (m.phases["z"].spans == 1).all()


def test_the_note_counts_every_call_before_the_failing_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A small log: the loop stops to drain every few calls, and call 7 is dropped (too many
    # spans); the note still names the failing call by its number among all calls.
    monkeypatch.setattr(_phases, "INITIAL_CAPACITY", 8)
    calls = 0

    def step() -> None:
        nonlocal calls
        calls += 1
        for _ in range(40 if calls == 7 else 1):
            ic.mark("p")
        if calls == 23:
            raise Boom("late")

    with pytest.raises(Boom) as info:
        ic.measure(step, warmup=0, iterations=50)
    assert any("call #23 " in n for n in info.value.__notes__), info.value.__notes__


def mlp_step(batch: int, seed: int = 0) -> tuple[Callable[[], None], list[float]]:
    """A two-layer MLP trained by SGD on a random teacher's labels, backward pass by hand."""
    rng = np.random.default_rng(seed)
    d_in, d_hid, d_out, lr = 32, 64, 8, 0.1
    x_all = rng.standard_normal((2048, d_in))
    y_all = np.argmax(x_all @ rng.standard_normal((d_in, d_out)), axis=1)
    w1 = rng.standard_normal((d_in, d_hid)) * 0.2
    w2 = rng.standard_normal((d_hid, d_out)) * 0.2
    b1, b2 = np.zeros(d_hid), np.zeros(d_out)
    losses: list[float] = []
    rows = np.arange(batch)

    def step() -> None:
        with ic.phase("data"):
            idx = rng.integers(0, x_all.shape[0], batch)
            x, y = x_all[idx], y_all[idx]
        with ic.phase("forward"):
            h = x @ w1 + b1
            a = np.maximum(h, 0.0)
            logits = a @ w2 + b2
        with ic.phase("loss"):
            z = np.exp(logits - logits.max(axis=1, keepdims=True))
            p = z / z.sum(axis=1, keepdims=True)
            losses.append(float(-np.log(p[rows, y]).mean()))
        with ic.phase("backward"):
            p[rows, y] -= 1.0
            g = p / batch
            dw2, db2 = a.T @ g, g.sum(axis=0)
            dh = (g @ w2.T) * (h > 0)
            dw1, db1 = x.T @ dh, dh.sum(axis=0)
        with ic.phase("optimizer"):
            for param, grad in ((w1, dw1), (b1, db1), (w2, dw2), (b2, db2)):
                param -= lr * grad

    return step, losses


def test_numpy_training_step_at_two_batch_sizes(tmp_path: Path) -> None:
    names = ["data", "forward", "loss", "backward", "optimizer", "(other)"]
    results = {}
    for batch in (16, 256):
        step, losses = mlp_step(batch)
        m = ic.measure(step, warmup=20, iterations=300, batch_size=batch)
        results[batch] = m
        assert list(m.phases) == names
        assert np.mean(losses[-50:]) < 0.8 * np.mean(losses[:50]), "it trains"
        assert sum(p.mean_share for p in m.phases.values()) == pytest.approx(1.0, abs=rounding(m))
        # Median shares add up to about 1 only on a quiet machine (a median of sums is not
        # the sum of medians once preemptions skew some calls; a loaded VM saw 0.15): each is
        # its median over the step's.
        for p in m.phases.values():
            assert p.share == pytest.approx(p.stats.median_ns / m.stats.median_ns)
        assert all(p.stats.median_ns > 0 for p in m.phases.values())
        assert m.throughput == pytest.approx(batch * 1e9 / m.stats.median_ns)
        for p in m.phases.values():
            assert p.throughput == pytest.approx(batch * 1e9 / p.stats.median_ns)
        d = json.loads(json.dumps(m.to_dict(samples=True)))
        assert d["batch_size"] == batch and list(d["phases"]) == names
        assert len(d["phases"]["forward"]["samples_ns"]) == 300
    plotted = _phase_plots.plot_phases(results, tmp_path, title="numpy MLP")
    assert plotted == ["phases.png", "phases.svg"]
    assert all((tmp_path / f).stat().st_size > 1000 for f in plotted)
    table = _phase_plots.phase_table(results).splitlines()
    assert len(table) == 2 + 2 * (1 + len(names))  # header, rule; per batch: step and phases
    assert table[2].startswith("| 16 | **step** |") and "(other)" in table[8]
    with pytest.raises(ic.ConfigError, match="no phases"):
        _phase_plots.phase_table({1: ic.measure(lambda: None, iterations=3)})
    # The report's "Phases" section: the stacked bars and the table beside a results table.
    from synthetic import write_table

    results_file = write_table(tmp_path / "r.jsonl", [("m", "f32", 1, "latency")])
    md = ic.report(results_file, tmp_path / "report", phases=results).read_text()
    assert "## Phases" in md and "![Phases of a step](phases.png)" in md and "| 256 |" in md
    assert (tmp_path / "report" / "phases.svg").stat().st_size > 1000
    with pytest.raises(ic.ConfigError, match=r"phases\[1\] has no phases"):
        ic.report(results_file, tmp_path / "x", phases={1: ic.measure(lambda: None, iterations=3)})


@pytest.mark.parametrize("fn", [ic.phase, ic.mark])
@pytest.mark.parametrize(
    ("name", "error"),
    [(42, ic.ConfigTypeError), (None, ic.ConfigTypeError), (b"fwd", ic.ConfigTypeError),
     ("", ic.ConfigError), ("(other)", ic.ConfigError)],
)  # fmt: skip
def test_bad_names_name_the_argument(
    fn: Callable[[str], object], name: object, error: type
) -> None:
    with pytest.raises(error, match="name must be"):
        fn(name)  # type: ignore[arg-type]


@settings(max_examples=50, deadline=None)
@given(st.one_of(st.integers(), st.floats(), st.binary(), st.none(), st.lists(st.text())))
def test_any_non_str_name_is_a_config_type_error(name: object) -> None:
    for fn in (ic.phase, ic.mark):
        with pytest.raises(ic.ConfigTypeError, match="name must be a non-empty str"):
            fn(name)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "error"), [(0, ic.ConfigError), (2.5, ic.ConfigTypeError)])
def test_bad_batch_size_names_itself(value: object, error: type) -> None:
    with pytest.raises(error, match="batch_size"):
        ic.measure(lambda: None, iterations=3, batch_size=value)  # type: ignore[arg-type]


def test_a_call_too_big_for_the_log_is_dropped_and_the_log_grows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_phases, "INITIAL_CAPACITY", 8)
    calls = 0

    def step() -> None:
        nonlocal calls
        calls += 1
        for _ in range(40 if calls == 7 else 1):
            with ic.phase("p"):
                pass

    m = ic.measure(step, warmup=0, iterations=30)
    assert m.dropped_calls == 1 and calls == 31
    assert m.samples_ns.size == 30 and (m.phases["p"].spans == 1).all()
    assert m.stop_reason == "iterations"


def test_a_log_that_cannot_grow_enough_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_phases, "INITIAL_CAPACITY", 8)
    monkeypatch.setattr(_phases, "MAX_CAPACITY", 64)
    calls = 0

    def step() -> None:
        nonlocal calls
        calls += 1
        for _ in range(100 if calls == 12 else 1):
            ic.mark("p")

    m = ic.measure(step, warmup=0, iterations=30)
    assert m.stop_reason == "phase_overflow"
    assert m.samples_ns.size == 11 and m.dropped_calls == 1
    with pytest.raises(ic.InferclockError, match="100 phase spans"):
        ic.measure(lambda: [ic.mark("p") for _ in range(100)], warmup=0, iterations=5)


def test_phases_nested_too_deep_stop_the_run() -> None:
    def deep(n: int) -> None:
        with ic.phase("deep"):
            if n:
                deep(n - 1)

    with pytest.raises(ic.InferclockError, match=f"more than {_phases.MAX_DEPTH} phases open"):
        ic.measure(lambda: deep(_phases.MAX_DEPTH + 1), warmup=0, iterations=3)
    m = ic.measure(lambda: deep(_phases.MAX_DEPTH - 1), warmup=0, iterations=3)
    assert (m.phases["deep"].spans == 1).all()  # every level but the outer one a repeat


def test_phases_that_begin_late_are_recorded_from_then_on() -> None:
    # No phase in the first batch: later batches run the plain loop, the log watching. When
    # a phase shows up, the rest of that batch is dropped and recording takes over.
    calls = 0

    def step() -> None:
        nonlocal calls
        calls += 1
        if calls > 500:
            with ic.phase("late"):
                spin(1000)

    m = ic.measure(step, warmup=0, iterations=2000)
    late = m.phases["late"]
    assert m.samples_ns.size == 2000 and m.stop_reason == "iterations"
    assert calls == 2000 + m.dropped_calls and m.dropped_calls >= 1
    assert (late.spans[:500] == 0).all() and (late.spans[500:] == 1).all()
    assert (late.samples_ns[500:] >= 1000).all()
