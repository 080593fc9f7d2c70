"""LoadGen's early stopping against LoadGen's own code: ``tests/data/loadgen`` holds its
``early_stopping.cc`` unchanged and a driver with the loop of ``results.cc`` that makes the
early-stopping percentile estimate; compiled here, they answer the same questions as
``_timing.early_stopping`` (skipped where no C++ compiler is found)."""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock._timing import early_stopping as es, loadgen as _loadgen, schema as _schema

DATA = Path(__file__).parent / "data" / "loadgen"


@pytest.fixture(scope="module")
def loadgen_driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cxx = shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build LoadGen's early_stopping.cc")
    exe = tmp_path_factory.mktemp("loadgen") / "driver"
    subprocess.run(
        [cxx, "-O2", "-std=c++17", "-o", str(exe), str(DATA / "driver.cc"),
         str(DATA / "early_stopping.cc")],
        check=True, timeout=600,
    )  # fmt: skip
    return exe


def ask(driver: Path, lines: list[str]) -> list[int]:
    p = subprocess.run(
        [str(driver)], input="\n".join(lines) + "\n", capture_output=True, text=True,
        check=True, timeout=1200,
    )  # fmt: skip
    return [int(x) for x in p.stdout.split()]


@pytest.mark.parametrize("pct", ["90", "99", "99.9", "95", "97"])
def test_min_passing_is_loadgens_for_t_up_to_2000(loadgen_driver: Path, pct: str) -> None:
    ts = [*range(0, 300), *range(300, 2001, 17)]
    want = ask(loadgen_driver, [f"mp {t} {pct}" for t in ts])
    got = [es.min_passing(t, float(pct)) for t in ts]
    assert got == want
    # The server verdict's early stopping reads the same finder.
    assert [_loadgen.min_passing(t, float(pct)) for t in ts[:50]] == want[:50]


@pytest.mark.parametrize(("pct", "last"), [("90", 3000), ("99", 12000)])
def test_the_estimates_rank_is_loadgens_for_every_n(
    loadgen_driver: Path, pct: str, last: int
) -> None:
    # LoadGen's walk for every run length from 1 to `last` queries (p90: SingleStream's; p99:
    # MultiStream's and Server's), against the bisection.
    want = ask(loadgen_driver, [f"range 1 {last} {pct}"])
    got = [es.overlatency_allowed(n, float(pct)) for n in range(1, last + 1)]
    assert [-1 if t is None else t for t in got] == want
    first = want.index(1) + 1
    assert first == es.min_passing(1, float(pct)) + 1  # 64 at p90, 662 at p99


@pytest.mark.parametrize("pct", ["90", "99"])
def test_the_estimates_rank_is_loadgens_for_long_runs(loadgen_driver: Path, pct: str) -> None:
    ns = [20_011, 54_321, 100_000, 262_144, 1_000_000]
    want = ask(loadgen_driver, [f"est {n} {pct}" for n in ns])
    assert [es.overlatency_allowed(n, float(pct)) for n in ns] == want


def test_the_estimate_is_the_sorted_latency_at_that_rank() -> None:
    lat = np.random.default_rng(7).permutation(np.arange(1, 1001, dtype=np.float64) * 1e3)
    e = es.estimate(lat, 90.0)
    t = es.overlatency_allowed(1000, 90.0)
    assert t == 78  # LoadGen's driver above says the same
    assert e.value_ns == np.sort(lat)[1000 - t] and e.discarded == t - 1 and e.queries == 1000
    plain = float(np.sort(lat)[int(1000 * 0.9)])
    assert e.value_ns > plain  # the estimate is above the plain p90: an upper bound


def test_too_few_queries_give_no_estimate_and_say_how_many() -> None:
    e = es.estimate(np.ones(63), 90.0)
    assert e.value_ns is None and e.needed == 64 and "64" in e.reason
    assert es.estimate(np.ones(64), 90.0).value_ns == 1.0
    p99 = es.estimate(np.ones(661), 99.0)
    assert p99.value_ns is None and p99.needed == 662


def test_an_estimate_on_a_query_that_never_completed_is_none() -> None:
    lat = np.concatenate([np.ones(900), np.full(100, np.inf)])
    e = es.estimate(lat, 90.0)
    assert e.value_ns is None and "never completed" in e.reason


# ------------------------------------------------------------ the estimate in a run's result


def test_latency_mode_reports_singlestreams_p90_and_p99_estimates(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=700, warmup=5, isolate=False)
    p90, p99 = r.early_stopping
    ordered = np.sort(r.samples_ns)
    t90 = es.overlatency_allowed(700, 90.0)
    assert t90 is not None and p90.percentile == 90.0
    assert p90.value_ns == ordered[700 - t90] and p90.discarded == t90 - 1
    t99 = es.overlatency_allowed(700, 99.0)
    assert t99 is not None and p99.value_ns == ordered[700 - t99]
    row = r.to_dict()
    assert _schema.get(row, "early_stopping") == [p90.to_dict(), p99.to_dict()]
    assert "early stopping (LoadGen's estimate) p90" in r.summary()
    assert "plain p90" in r.summary()


def test_a_short_run_says_why_it_has_no_estimate(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=100, warmup=5, isolate=False)
    p90, p99 = r.early_stopping
    assert p90.value_ns is not None  # 100 >= 64
    assert p99.value_ns is None and p99.needed == 662 and "662" in p99.reason
    assert "p99 none: 100 queries; early stopping needs at least 662" in r.summary()


@pytest.mark.parametrize("mode", ["server", "multistream"])
def test_open_loop_modes_estimate_their_percentile(matmul_model: Path, mode: str) -> None:
    # multistream takes no rate (LoadGen 6.0: each query issued when the previous completes)
    rate = {"qps": 300} if mode == "server" else {}
    r = ic.run(str(matmul_model), mode=mode, queries=700, percentile=99.0,
               latency_bound_ms=50, isolate=False, **rate)  # fmt: skip
    (e,) = r.early_stopping
    assert r.server is not None and e.percentile == 99.0
    queries = r.server.completed + r.server.skipped
    assert e.queries == queries
    lat = np.sort(np.concatenate([r.samples_ns, np.full(r.server.skipped, np.inf)]))
    t = es.overlatency_allowed(queries, 99.0)
    if t is None:  # skipped multistream queries can leave it short
        assert e.value_ns is None and "662" in e.reason
    elif math.isfinite(lat[queries - t]):
        assert e.value_ns == lat[queries - t]
    else:
        assert e.value_ns is None and "never completed" in e.reason
    assert _schema.get(r.to_dict(), "early_stopping") == [e.to_dict()]
    assert "early stopping (LoadGen's estimate) p99" in r.summary()


def test_throughput_mode_has_no_estimate(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), mode="throughput", max_time=0.3, warmup=5, isolate=False)
    assert r.early_stopping == () and _schema.get(r.to_dict(), "early_stopping") is None


def test_the_report_table_lists_the_estimate_beside_the_percentiles(
    matmul_model: Path, tmp_path: Path
) -> None:
    t = ic.sweep(str(matmul_model), modes=["latency", "server"], qps=[200], queries=700,
                 iterations=700, processes=1, out=tmp_path / "s.jsonl", quiet=True)  # fmt: skip
    md = t.to_markdown()
    header = next(line for line in md.splitlines() if line.startswith("| model"))
    assert "early-stopping estimate ms" in header
    cells = {s.mode: s for s in t.summary()}
    assert cells["latency"].early_stopping_percentile == 90.0
    assert cells["server"].early_stopping_percentile == 99.0
    for s in cells.values():
        assert s.early_stopping_ns is not None
        assert f"p{s.early_stopping_percentile:g} " in md
