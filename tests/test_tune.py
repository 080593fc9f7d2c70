"""ic.tune and ``inferclock tune``: the grid, the local search, the baseline and the gain, the
results file and its resume, and the arguments refused before anything runs.

The search itself is tested on made-up figures (no OpenVINO); the tunes run real workers on
the small models of conftest.py, with tiny spaces and short runs (about 30 s in all).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import inferclock as ic
from inferclock._cli import tune as _cli_tune
from inferclock._cli.common import Formatter
from inferclock._common.errors import ConfigError, InferclockError
from inferclock._search import tune_space as ts
from inferclock._search.tune import TuneResult

SHORT: dict[str, Any] = {"max_time": 0.3, "min_time": 0.1, "warmup": 0.05}


def _lines(data: bytes) -> list[dict[str, Any]]:
    """The result rows among JSON lines (headers and notes left out)."""
    out = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
    return [r for r in out if r.get("kind") == "row"]


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()[1:]]


def cli(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``inferclock tune ...`` as ``inferclock.__main__.main`` runs a command: inferclock's
    errors print ``error: ...`` and exit 2."""
    parser = argparse.ArgumentParser(prog="inferclock")
    _cli_tune.add_parser(parser.add_subparsers(dest="command"), Formatter, "")
    try:
        args = parser.parse_args(["tune", *argv])
        rc = _cli_tune.run(args)
    except InferclockError as e:
        print(f"error: {e}")
        rc = 2
    except SystemExit as e:  # argparse's own errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


# ---------------------------------------------------------------- the search, on made-up figures


SPACE = {"streams": [1, 2, 4], "requests": [1, 2, 4, 8]}


def pt(streams: int, requests: int) -> ts.Point:
    return (("streams", streams), ("requests", requests))


def surface(peak: tuple[int, int]) -> dict[ts.Point, ts.Estimate]:
    """A smooth hill with its top at ``peak``, each figure +-1% around its value."""
    out = {}
    for p in ts.grid(SPACE):
        s, r = ts.as_dict(p)["streams"], ts.as_dict(p)["requests"]
        v = 1000.0 / (1 + abs(math.log2(s / peak[0])) + 0.5 * abs(math.log2(r / peak[1])))
        out[p] = ts.Estimate(v, 0.99 * v, 1.01 * v)
    return out


def test_descend_walks_uphill_along_the_axes_and_stops_at_the_top() -> None:
    figures = surface((4, 8))
    asked: list[ts.Point] = []

    def evaluate(p: ts.Point) -> ts.Estimate:
        asked.append(p)
        return figures[p]

    start = ts.snap(SPACE, {"streams": 1, "requests": 2})
    s = ts.descend(SPACE, start, evaluate, budget=12)
    # From (1,2): neighbours (2,2), (1,1), (1,4); (2,2) is highest. Then (4,2), then (4,4),
    # then (4,8), where no neighbour beats it.
    assert [ts.as_dict(p) for p in s.path] == [
        {"streams": 1, "requests": 2},
        {"streams": 2, "requests": 2},
        {"streams": 4, "requests": 2},
        {"streams": 4, "requests": 4},
        {"streams": 4, "requests": 8},
    ]
    assert s.stop == "converged" and s.kind == "local"
    assert asked == list(s.measured)  # each point measured once, in that order
    assert len(set(asked)) == len(asked) < ts.size(SPACE)
    assert s.measured[:4] == (pt(1, 2), pt(2, 2), pt(1, 1), pt(1, 4))
    # The same figures give the same path.
    assert ts.descend(SPACE, start, figures.__getitem__, budget=12) == s


def test_descend_stops_when_the_budget_is_spent() -> None:
    figures = surface((4, 8))
    s = ts.descend(SPACE, pt(1, 1), figures.__getitem__, budget=4)
    assert s.stop == "budget" and len(s.measured) == 4


def test_descend_does_not_move_on_a_gain_within_the_intervals() -> None:
    flat = {p: ts.Estimate(100.0 + i * 0.1, 95.0, 106.0) for i, p in enumerate(ts.grid(SPACE))}
    s = ts.descend(SPACE, pt(2, 2), flat.__getitem__, budget=12)
    assert s.path == (pt(2, 2),) and s.stop == "converged"
    assert len(s.measured) == 5  # the start and its four neighbours


def test_a_failed_point_is_left_for_any_measured_one() -> None:
    a = ts.Estimate(10.0, 9.0, 11.0)
    assert ts.beats(None, a) and not ts.beats(a, None) and not ts.beats(None, None)
    assert ts.beats(a, ts.Estimate(12.0, 11.5, 12.5))
    assert not ts.beats(a, ts.Estimate(10.5, 10.2, 10.8))  # within a's interval
    assert ts.beats(a, ts.Estimate(10.5))  # no interval: the values decide


def test_snap_takes_the_nearest_value_by_ratio_and_the_middle_when_unknown() -> None:
    space = {"streams": [1, 2, 8], "requests": [2, 4, 16], "threads": [1, 2]}
    p = ts.snap(space, {"streams": 3, "requests": None, "threads": 2})
    assert ts.as_dict(p) == {"streams": 2, "requests": 4, "threads": 2}


def test_the_grid_order_is_seeded() -> None:
    order = ts.exhaustive(SPACE, lambda p: None, seed=1).measured
    assert sorted(order) == sorted(ts.grid(SPACE)) and order != tuple(ts.grid(SPACE))
    assert ts.exhaustive(SPACE, lambda p: None, seed=1).measured == order


# ---------------------------------------------------------------- arguments refused


BAD = {
    "unknown_key": ({"space": {"streams": [1], "cores": [2]}}, "unknown key 'cores'"),
    "empty_list": ({"space": {"streams": []}}, "space['streams'] is empty"),
    "streams_0": (
        {"space": {"streams": [0, 1]}},
        "space['streams'] must be an integer in 1..4096, got 0",
    ),
    "none_value": ({"space": {"requests": [1, None]}}, "space['requests'] lists None"),
    "text_value": ({"space": {"threads": ["2"]}}, "space['threads'] must be an integer"),
    "empty_space": ({"space": {}}, "space is empty"),
    "banana": (
        {"objective": "banana"},
        "objective must be one of throughput, peak_qps; got 'banana'",
    ),
    "peak_no_bound": ({"objective": "peak_qps"}, "needs latency_bound_ms"),
    "bound_for_throughput": (
        {"latency_bound_ms": 5},
        "latency_bound_ms: for objective 'peak_qps' only",
    ),
    "max_points_0": ({"max_points": 0}, "max_points must be an integer"),
    "processes_0": ({"processes": 0}, "processes must be an integer"),
    "axis_and_option": (
        {"space": {"streams": [1]}, "streams": 2},
        "streams is an axis of the space",
    ),
    "mode": ({"mode": "latency"}, "tune sets mode itself"),
    "hint": ({"hint": "none"}, "tune sets hint itself"),
    "unknown_option": ({"bogus": 1}, "unknown argument(s) bogus"),
    "peak_processes": (
        {"objective": "peak_qps", "latency_bound_ms": 5, "processes": 2},
        "processes applies",
    ),
    # find_peak_qps's options, checked by their declaration before anything runs
    "max_steps_bool": (
        {"objective": "peak_qps", "latency_bound_ms": 5, "max_steps": True},
        "max_steps must be an integer in 1..1000, got True",
    ),
    "tolerance_1": (
        {"objective": "peak_qps", "latency_bound_ms": 5, "tolerance": 1},
        "tolerance must be a fraction in (0, 1)",
    ),
    "max_points_text": ({"max_points": "24"}, "max_points must be an integer"),
}


@pytest.mark.parametrize(("kwargs", "named"), list(BAD.values()), ids=list(BAD))
def test_bad_arguments_are_refused_by_name_before_anything_runs(
    kwargs: dict[str, Any], named: str, tmp_path: Path
) -> None:
    out = tmp_path / "t.jsonl"
    with pytest.raises(ConfigError) as e:
        ic.tune(tmp_path / "no-such-model.xml", out=out, **kwargs)
    assert named in str(e.value)
    assert not out.exists()


# ---------------------------------------------------------------- real tunes


@pytest.fixture(scope="module")
def grid_tune(matmul_model: Path, tmp_path_factory: pytest.TempPathFactory) -> TuneResult:
    out = tmp_path_factory.mktemp("tune") / "grid.jsonl"
    space = {"streams": [1, 2], "requests": [1, 2]}
    return ic.tune(matmul_model, space=space, out=out, processes=2, quiet=True, **SHORT)


def test_a_small_space_is_measured_whole_each_run_a_row(grid_tune: TuneResult) -> None:
    r = grid_tune
    assert r.search == "grid" and r.space_size == 4 and len(r.points) == 4
    assert {tuple(p.config.items()) for p in r.points} == {
        (("streams", s), ("requests", q)) for s in (1, 2) for q in (1, 2)
    }
    table = ic.ResultTable.load(r.out)
    found = rows(Path(r.out))
    for p in r.points:
        mine = [x for x in found if x["key"] == p.key]
        assert sorted(x["process"] for x in mine) == [0, 1] and p.runs == 2
        for x in mine:
            assert x["tune_role"] == "point" and x["hint"] == "none" and x["error"] is None
            assert x["streams_requested"] == p.config["streams"] == x["streams"]
            assert x["requests_requested"] == p.config["requests"] == x["requests"]
            assert x["batch_size"] == 1 and x["tune_value"] == x["throughput_fps"] > 0
    # The baseline: the hint alone, once before the points and once after, pooled.
    base = [x for x in found if x["key"] == r.baseline.key]
    assert [x["process"] for x in base] == [0, 1]
    assert found.index(base[0]) == 0 and found.index(base[1]) == len(found) - 1
    assert all(x["hint"] == "throughput" and x["streams_requested"] is None for x in base)
    assert r.baseline.config["streams"] == int(base[0]["config"]["NUM_STREAMS"])
    # Each point's value is the summary's throughput of its rows.
    summary = {s.key: s for s in table.summary()}
    for p in [*r.points, r.baseline]:
        assert p.value == pytest.approx(summary[p.key].throughput_fps)
        assert (p.low, p.high) == pytest.approx(
            (summary[p.key].throughput_ci_low_fps, summary[p.key].throughput_ci_high_fps)
        )


def test_the_answer_is_the_best_measured_point_and_its_gain_has_an_interval(
    grid_tune: TuneResult,
) -> None:
    r = grid_tune
    top = max(r.points, key=lambda p: p.value or 0.0)
    assert r.best == top.config and r.value == top.value
    assert r.baseline.value is not None and r.value is not None
    assert r.gain == pytest.approx(r.value / r.baseline.value)
    if r.gain_low is None or r.gain_high is None:
        # A stall on a loaded machine can leave a run without its throughput interval (the
        # batch means reach zero): then the gain has none either, and only then.
        assert (r.gain_low, r.gain_high) == (None, None)
        ends = [(x["throughput_ci_low_fps"], x["throughput_ci_high_fps"])
                for x in rows(Path(r.out)) if x["key"] in (top.key, r.baseline.key)]  # fmt: skip
        assert (None, None) in ends, ends
    else:
        assert r.gain_low < r.gain < r.gain_high
    text = r.summary()
    assert "gain" in text and f"{r.gain:.3f}x" in text and r.out in text


def test_a_second_tune_on_the_file_measures_nothing_and_answers_the_same(
    grid_tune: TuneResult, matmul_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = Path(grid_tune.out).read_bytes()
    space = {"streams": [1, 2], "requests": [1, 2]}
    again = ic.tune(matmul_model, space=space, out=grid_tune.out, processes=2, quiet=True, **SHORT)
    assert again.best == grid_tune.best and again.gain == grid_tune.gain
    # The command line, on the same file and settings.
    argv = [str(matmul_model), "--streams", "1,2", "--requests", "1", "--requests", "2",
            "-o", grid_tune.out, "--processes", "2", "--quiet", "--max-time", "0.3",
            "--min-time", "0.1", "--warmup", "0.05"]  # fmt: skip
    rc, out, _ = cli(argv, capsys)
    assert rc == 0 and again.summary() in out
    after = Path(grid_tune.out).read_bytes()
    # Runs are retried only when they failed (a worker error on a loaded machine); a file
    # whose runs all succeeded is left byte for byte.
    failed = {(r["key"], r["process"]) for r in _lines(before) if r["error"] or r["interrupted"]}
    assert after[: len(before)] == before
    assert {(r["key"], r["process"]) for r in _lines(after[len(before) :])} <= failed


def test_a_file_of_another_tune_is_refused(
    grid_tune: TuneResult, matmul_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError, match=r"run\.max_time: 0\.3 in the file, 0\.2 now"):
        ic.tune(matmul_model, space={"streams": [1]}, out=grid_tune.out, processes=2,
                quiet=True, **{**SHORT, "max_time": 0.2})  # fmt: skip
    rc, out, _ = cli([str(matmul_model), "--streams", "1", "-o", grid_tune.out], capsys)
    assert rc == 2 and out.startswith("error: results file")


def test_a_large_space_is_searched_locally_from_the_hints_choice(
    matmul_model: Path, tmp_path: Path
) -> None:
    space = {"streams": [1, 2], "requests": [1, 2, 4]}
    out = tmp_path / "local.jsonl"
    kw: dict[str, Any] = dict(space=space, out=out, processes=1, max_points=3, quiet=True)
    r = ic.tune(matmul_model, **kw, **SHORT)
    assert r.search == "local" and 1 <= len(r.points) <= 3 < r.space_size == 6
    assert r.stop in ("converged", "budget")
    hinted = {k: r.baseline.config[k] for k in space}
    assert r.path[0] == ts.as_dict(ts.snap(space, hinted)) == r.points[0].config
    keys = {x["key"] for x in rows(out) if x["tune_role"] == "point"}
    assert keys == {p.key for p in r.points}
    # Given the rows, the same path and nothing measured again.
    before = out.read_bytes()
    again = ic.tune(matmul_model, **kw, **SHORT)
    assert again.path == r.path and [p.config for p in again.points] == [p.config for p in r.points]
    assert out.read_bytes() == before


def test_peak_qps_runs_a_search_per_point_kept_as_a_row(matmul_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "peak.jsonl"
    r = ic.tune(matmul_model, "peak_qps", 50.0, {"streams": [1]}, out=out, quiet=True,
                max_steps=2, queries=500, max_time=0.3)  # fmt: skip
    assert r.unit == "queries/s" and len(r.points) == 1
    found = rows(out)
    assert [x["tune_role"] for x in found] == ["baseline", "point", "baseline"]
    for x in found:
        assert x["mode"] == "server" and (tmp_path / x["tune_file"]).exists()
        if x["tune_value"] is None:  # no rate kept the bound: the lowest tried is the row
            assert x["verdict"] == "INVALID"
        else:  # the row of the peak: its p99 within the bound (LoadGen's rule, the default)
            assert x["server"]["percentile_latency_ns"] <= 50e6
            assert x["qps"] == x["tune_value"] == x["tune_low"]
    (p,) = r.points
    assert p.value == pytest.approx(found[1]["tune_value"]) and found[1]["streams_requested"] == 1
    if r.gain is not None and r.gain_low is not None and r.gain_high is not None:
        assert r.gain_low <= r.gain <= r.gain_high


def test_the_cli_refuses_what_tune_sets_itself(
    matmul_model: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = str(tmp_path / "x.jsonl")
    for argv, said in [
        (["--mode", "latency"], "error: tune takes no --mode"),
        (["--streams", "0"], "error: space['streams'] must be an integer in 1..4096, got 0"),
        (["--objective", "peak_qps"], "error: objective 'peak_qps' needs latency_bound_ms"),
        (["--threads", "1", "--max-points", "0"], "error: max_points must be"),
    ]:
        rc, text, _ = cli([str(matmul_model), "-o", out, *argv], capsys)
        assert rc == 2 and text.startswith(said), text
    assert not Path(out).exists()


def test_a_peak_qps_tolerance_selects_the_verdict_rule() -> None:
    # find_peak_qps's default is LoadGen's rule, which stops at qps_decimals, not a tolerance:
    # a tune given a tolerance searches each point by the full verdict.
    from inferclock._search.options import TuneOptions
    from inferclock._search.tune_space import plan

    given = plan(TuneOptions(objective="peak_qps", tolerance=0.1), 5, None, {})
    assert given.serve["rule"] == "verdict" and given.serve["tolerance"] == 0.1
    default = plan(TuneOptions(objective="peak_qps"), 5, None, {})
    assert "rule" not in default.serve and "tolerance" not in default.serve
