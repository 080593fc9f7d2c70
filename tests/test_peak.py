"""``ic.find_peak_qps``: its rules (``_search.peak_rules``) on a queueing simulation whose peak
is known (an M/D/1 queue fed inferclock's own seeded Poisson schedule), and the search on the
real engine: every step a row, a second search on the same file resumes."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock._common import intervals as iv
from inferclock._common.errors import ConfigTypeError
from inferclock._search import peak_rules as rules
from inferclock._timing import loadgen as _loadgen

#: The simulated server: one request, a fixed service time (M/D/1), a p99 bound.
SERVICE_S = 1e-3
BOUND_MS = 10.0
PCT = 99.0


def md1_wait_cdf(rate: float, x: float) -> float:
    """P(wait <= x) in an M/D/1 queue of service SERVICE_S (Erlang's formula)."""
    total = 0.0
    for k in range(math.floor(x / SERVICE_S) + 1):
        u = rate * (k * SERVICE_S - x)
        total += u**k / math.factorial(k) * math.exp(-u)
    return (1 - rate * SERVICE_S) * total


def md1_peak() -> float:
    """The highest arrival rate whose p99 of latency (wait + service) is within BOUND_MS."""
    lo, hi = 1.0, 1 / SERVICE_S
    for _ in range(100):
        mid = (lo + hi) / 2
        ok = md1_wait_cdf(mid, BOUND_MS / 1e3 - SERVICE_S) >= PCT / 100
        lo, hi = (mid, hi) if ok else (lo, mid)
    return lo


class MD1:
    """The environment a search runs in: each step feeds inferclock's Poisson schedule at the
    step's rate (seeded as a server run's) to a FIFO server of fixed service time and reads
    the p99 of latency from the due time as a server run does (LoadGen's rank)."""

    def __init__(self, seed: int, queries: int = 50_000) -> None:
        self.seed, self.queries, self.rates = seed, queries, []  # type: ignore[var-annotated]

    def latencies_s(self, qps: float) -> np.ndarray:
        due = _loadgen.schedule(qps, "poisson", self.seed, queries=self.queries) / 1e9
        i = np.arange(due.size)
        done = (i + 1) * SERVICE_S + np.maximum.accumulate(due - i * SERVICE_S)  # Lindley
        return np.asarray(done - due)

    def step(self, qps: float) -> rules.PeakStep:
        self.rates.append(qps)
        lat = np.sort(self.latencies_s(qps))
        p99_ms = float(lat[iv.loadgen_index(lat.size, PCT)]) * 1e3
        over = int((lat * 1e3 > BOUND_MS).sum())
        passed, _ = _loadgen.early_stopping(lat.size, over, PCT)
        verdict = "VALID" if p99_ms <= BOUND_MS and passed else "INVALID"
        return rules.PeakStep(qps, verdict, None, p99_ms, None, f"sim@{qps:g}", False)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_loadgens_rule_finds_the_known_peak_of_an_md1_queue(seed: int) -> None:
    true = md1_peak()  # 773 qps for 1 ms service and a 10 ms p99 bound
    env = MD1(seed)
    b = rules.loadgen_search(100.0, env.step, BOUND_MS, decimals=1)
    assert b.lo is not None and b.hi is not None and b.note is None
    assert abs(b.lo / true - 1) <= 0.10, (b.lo, true)
    # LoadGen's path: the start, doubling until a step fails, then midpoints to 0.1 qps.
    assert env.rates[:4] == [100.0, 200.0, 400.0, 800.0] or env.rates[:3] == [100.0, 200.0, 400.0]
    assert rules.is_finished(b.lo, b.hi, 1) and b.hi - b.lo < 0.2
    judged = {q: env.step(q).percentile_latency_ms <= BOUND_MS for q in env.rates[:]}
    assert all(q <= b.lo for q, ok in judged.items() if ok)
    assert all(q >= b.hi for q, ok in judged.items() if not ok)


def test_loadgens_rule_needs_a_start_within_the_bound() -> None:
    env = MD1(0)
    b = rules.loadgen_search(2000.0, env.step, BOUND_MS, decimals=1)  # twice the capacity
    assert env.rates == [2000.0] and b.lo is None and b.hi == 2000.0
    assert b.note is not None and "start rate 2000 qps" in b.note and "start_qps" in b.note


def test_the_verdict_rule_brackets_by_the_full_verdict() -> None:
    env = MD1(1)
    b = rules.verdict_search(None, None, 3000.0, env.step, 0.02)  # halves from an INVALID start
    assert b.lo is not None and b.hi is not None and (b.hi - b.lo) / b.lo <= 0.02
    assert env.step(b.lo).verdict == "VALID" and env.step(b.hi).verdict == "INVALID"
    # Early stopping asks more of a rate than the percentile alone: never above LoadGen's peak.
    loadgen = rules.loadgen_search(100.0, MD1(1).step, BOUND_MS, decimals=1)
    assert loadgen.lo is not None and b.lo <= loadgen.lo * 1.02


def test_the_peak_is_the_highest_valid_rate_and_the_file_resumes(
    slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "peak.jsonl"

    def search() -> ic.PeakResult:
        return ic.find_peak_qps(
            str(slow_model), 10.0, out=out, queries=500, min_duration=0.3, tolerance=0.3,
            rule="verdict", quiet=True, requests=2, batch_size=1,
            # A loaded host can fail every rate (one query over 10 ms fails early stopping at
            # 500 queries), and then the halving runs on: each step doubles. A 40 s step cap
            # (steps of 12.5 qps and up) ends that; a bracket found keeps its invariants.
            time_budget=math.inf, max_step_time=40.0,
        )  # fmt: skip

    r = search()
    assert r.rule == "verdict" and r.capacity_qps is not None and r.steps
    valid = [s.qps for s in r.steps if s.verdict == "VALID"]
    invalid = [s.qps for s in r.steps if s.verdict == "INVALID"]
    if r.qps is None:  # no VALID rate above the cap's: the search said why it stopped
        assert not valid and r.stopped is not None and r.stopped.startswith("step cap")
    else:
        assert r.qps == max(valid)
        assert all(q > r.qps for q in invalid)
    if r.qps is not None and r.lowest_invalid is not None:  # closed to the tolerance
        assert r.lowest_invalid == min(invalid)
        assert (r.lowest_invalid - r.qps) / r.qps <= 0.3 or len(r.steps) == 24
    rows = ic.ResultTable.load(out).rows
    assert len(rows) == len(r.steps)
    assert {row["qps"] for row in rows} == {s.qps for s in r.steps}
    assert all(row["mode"] == "server" and row["queries"] == 500 for row in rows)
    again = search()
    assert again.qps == r.qps and all(s.resumed for s in again.steps)
    assert len(ic.ResultTable.load(out).rows) == len(rows)  # nothing ran again
    assert "peak" in again.summary() and "(from the file)" in again.summary()


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"latency_bound_ms": 0}, "latency_bound_ms"),
        ({"latency_bound_ms": 5, "percentile": 100}, "percentile"),
        ({"latency_bound_ms": 5, "tolerance": 0}, "tolerance"),
        ({"latency_bound_ms": 5, "mode": "latency"}, "sets mode itself"),
        ({"latency_bound_ms": 5, "start_qps": -1}, "start_qps"),
        ({"latency_bound_ms": 5, "min_duration": 0}, "min_duration"),
        ({"latency_bound_ms": 5, "queries": 0}, "queries"),
        ({"latency_bound_ms": 5, "warmpu": 3}, "unknown argument"),
        ({"latency_bound_ms": 5, "rule": "fast"}, "rule must be one of loadgen, verdict"),
        ({"latency_bound_ms": 5, "qps_decimals": 7}, "qps_decimals"),
        ({"latency_bound_ms": 5, "qps_decimals": -1}, "qps_decimals"),
        ({"latency_bound_ms": 5, "tolerance": 0.1}, "tolerance is the verdict rule's stop"),
        (
            {"latency_bound_ms": 5, "rule": "verdict", "qps_decimals": 2},
            "qps_decimals is the loadgen rule's stop",
        ),
    ],
)
def test_bad_peak_input_is_refused_by_name(
    matmul_model: Path, tmp_path: Path, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(ic.ConfigError, match=named):
        ic.find_peak_qps(str(matmul_model), out=tmp_path / "p.jsonl", **kwargs)  # type: ignore[arg-type]


def test_max_steps_is_checked_as_an_integer_by_its_declaration(
    matmul_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"
    with pytest.raises(
        ConfigTypeError, match=r"max_steps must be an integer in 1\.\.1000, got True"
    ):
        ic.find_peak_qps(str(matmul_model), 5, out=out, max_steps=True)
    # numpy.int64(3) passes: the search goes on to its next check (a mode it sets itself).
    with pytest.raises(ic.ConfigError, match="find_peak_qps sets mode itself"):
        ic.find_peak_qps(str(matmul_model), 5, out=out, max_steps=np.int64(3), mode="latency")
    assert not out.exists()


def test_loadgens_rule_on_the_real_engine_names_its_rule_and_replays_from_the_file(
    slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "peak.jsonl"

    def search(start: float | None = 50) -> ic.PeakResult:
        return ic.find_peak_qps(
            str(slow_model), 10.0, out=out, queries=300, min_duration=0.3, start_qps=start,
            qps_decimals=0, max_steps=3, quiet=True, requests=1,
            time_budget=math.inf, max_step_time=math.inf,
        )  # fmt: skip

    r = search()
    assert r.rule == "loadgen" and r.steps and r.steps[0].qps == 50.0
    assert "rule loadgen" in r.summary() and "FindPeakPerformance" in r.summary()
    if r.passed(r.steps[0]):  # then it doubles from the start: 100, then 200 or 75
        assert r.steps[1].qps == 100.0 and len(r.steps) == 3 and r.qps is not None
        assert r.stopped is not None and r.stopped.startswith("max_steps")
    else:  # a loaded host: the start itself missed the bound, and the search says so
        assert len(r.steps) == 1 and r.qps is None
        assert r.stopped is not None and "start rate 50 qps" in r.stopped
    rows = ic.ResultTable.load(out).rows
    assert [row["qps"] for row in rows] == [s.qps for s in r.steps]
    # Run again on the file: the same rates from the same start, every one read, none run.
    again = search()
    assert [s.qps for s in again.steps] == [s.qps for s in r.steps]
    assert all(s.resumed for s in again.steps) and again.qps == r.qps
    # Without start_qps it starts from the file's first step: no capacity run, nothing run.
    third = search(start=None)
    assert [s.qps for s in third.steps] == [s.qps for s in r.steps] and third.capacity_qps is None
    assert len(ic.ResultTable.load(out).rows) == len(rows)


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--rule", "fast"], "rule must be one of loadgen, verdict"),
     (["--tolerance", "0.1"], "tolerance is the verdict rule's stop"),
     (["--qps-decimals", "9"], "qps_decimals")],
)  # fmt: skip
def test_the_peak_command_refuses_a_bad_rule_by_name(
    matmul_model: Path, tmp_path: Path, flags: list[str], named: str
) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "inferclock", "peak", str(matmul_model), "--latency-bound",
         "5ms", "-o", str(tmp_path / "p.jsonl"), *flags],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2 and named in p.stderr and "Traceback" not in p.stderr


def test_the_peak_command_needs_a_bound(matmul_model: Path, tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "inferclock", "peak", str(matmul_model), "-o",
         str(tmp_path / "p.jsonl")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2 and "--latency-bound" in p.stderr and "Traceback" not in p.stderr
