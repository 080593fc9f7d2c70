"""LoadGen's early stopping against LoadGen's own code: ``tests/data/loadgen`` holds its
``early_stopping.cc`` unchanged and a driver with the loop of ``results.cc`` that makes the
early-stopping percentile estimate; compiled here, they answer the same questions as
``_timing.early_stopping`` (skipped where no C++ compiler is found)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from inferclock._timing import early_stopping as es, loadgen as _loadgen

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
