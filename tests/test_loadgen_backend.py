"""The LoadGen backend: real MLPerf LoadGen (``mlcommons-loadgen``, the ``loadgen`` extra) drives
inferclock's engine through the C++ SUT; its summary log is parsed into the row. The runs are
short and judged by what LoadGen and the SUT report, never by a timing outcome (a VALID or
INVALID result depends on the machine's load and is not asserted)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock import _core
from inferclock._common.errors import ConfigError, ConfigTypeError
from inferclock._timing import schema
from inferclock._timing.loadgen_log import parse_summary, read_summary

needs_loadgen = pytest.mark.skipif(
    importlib.util.find_spec("mlperf_loadgen") is None,
    reason="the loadgen extra is absent: pip install 'inferclock[loadgen]' (CI installs it)",
)


def summary_number(log_dir: Path, label: str) -> float:
    """One 'label : number' line of LoadGen's own summary, read apart from the parser."""
    text = (log_dir / "mlperf_log_summary.txt").read_text()
    m = re.search(rf"^{re.escape(label)}\s*:\s*([\d.]+)\s*$", text, re.M)
    assert m, f"{label!r} not in the summary"
    return float(m[1])


# ---------------------------------------------------------------- real LoadGen runs


@needs_loadgen
def test_server_run_parses_the_summary_into_the_row(matmul_model: Path, tmp_path: Path) -> None:
    logs = tmp_path / "lg"
    r = ic.run(
        matmul_model, backend="loadgen", scenario="server", qps=200, latency_bound_ms=50,
        duration=0.5, loadgen_logs=logs,
    )  # fmt: skip
    assert (logs / "mlperf_log_summary.txt").is_file()
    assert (logs / "mlperf_log_detail.txt").is_file()
    row = r.to_dict()
    lg = schema.get(row, "loadgen")
    assert lg["sut_name"] == "inferclock"  # LoadGen called the SUT's Name() through its vtable
    assert lg["scenario"] == "server" and lg["mode"] == "PerformanceOnly"
    assert lg["result"] in ("VALID", "INVALID")
    assert schema.get(row, "verdict") == lg["result"]
    assert lg["scheduled_sps"] == summary_number(logs, "Scheduled samples per second")
    assert lg["completed_sps"] == summary_number(logs, "Completed samples per second")
    assert lg["percentiles_ns"]["p99"] == summary_number(logs, "99.00 percentile latency (ns)")
    assert lg["percentiles_ns"]["p50"] == summary_number(logs, "50.00 percentile latency (ns)")
    assert lg["target_qps"] == 200 and lg["target_latency_ns"] == 50_000_000
    assert lg["min_duration_ms"] == 500
    assert set(lg["constraints"]) >= {"min_duration", "min_queries", "early_stopping"}
    assert lg["log_dir"] == str(logs.resolve())
    # inferclock's own measurement of the same samples: one latency per sample LoadGen issued.
    assert lg["issued"] == lg["issue_calls"] == r.n > 0
    assert schema.get(row, "latency_p99_ns") == r.latency.p99_ns
    assert schema.get(row, "mode") == "server" and schema.get(row, "qps") == 200
    assert lg["completion"] == "direct"  # the wheel's symbol table has the C entry point
    assert "loadgen" in r.summary() and "inferclock" in r.summary()
    assert lg["schedule_rng_seed"] == lg["sample_index_rng_seed"] == lg["qsl_rng_seed"] == 0


@needs_loadgen
def test_the_run_s_seed_draws_loadgen_s_schedule(matmul_model: Path, tmp_path: Path) -> None:
    """seed= reaches LoadGen's own seeds (as it draws inferclock's own server schedule), read
    back from LoadGen's summary."""
    logs = tmp_path / "seeded"
    r = ic.run(
        matmul_model, backend="loadgen", scenario="server", qps=200, latency_bound_ms=50,
        duration=0.2, seed=7, loadgen_logs=logs,
    )  # fmt: skip
    lg = r.loadgen
    assert lg is not None
    for name in ("schedule_rng_seed", "sample_index_rng_seed", "qsl_rng_seed"):
        assert lg[name] == summary_number(logs, name) == 7


@needs_loadgen
def test_offline_run_issues_one_query(matmul_model: Path, tmp_path: Path) -> None:
    r = ic.run(
        matmul_model, backend="loadgen", scenario="offline", duration=0.3,
        loadgen_logs=tmp_path / "off",
    )  # fmt: skip
    lg = r.loadgen
    assert lg is not None
    assert lg["scenario"] == "offline"
    assert lg["samples_per_second"] == summary_number(tmp_path / "off", "Samples per second")
    assert lg["issue_calls"] == 1  # LoadGen's Offline: every sample in one query
    assert lg["issued"] == r.n == lg["samples_per_query"]
    assert lg["dispatched"] == lg["max_queued"]  # the queue, emptied as requests came free


@needs_loadgen
def test_singlestream_run_reports_its_percentile_and_estimate(
    matmul_model: Path, tmp_path: Path
) -> None:
    r = ic.run(
        matmul_model, backend="loadgen", scenario="singlestream", duration=0.3, queries=100,
        loadgen_logs=tmp_path / "ss",
    )  # fmt: skip
    lg = r.loadgen
    assert lg is not None
    assert lg["scenario"] == "singlestream" and lg["target_percentile"] == 90.0
    assert lg["target_latency_ns_measured"] == lg["percentiles_ns"]["p90"]
    assert set(lg["early_stopping_estimates_ns"]) >= {"p90"}
    assert r.requests == 1 and r.n == lg["issued"] >= 100
    # A query is issued only once the previous one completed, onto the freed request.
    assert lg["max_queued"] == 0 and lg["dispatched"] == 0


@needs_loadgen
def test_a_pinned_run_runs_loadgen_in_a_pinned_worker(matmul_model: Path, tmp_path: Path) -> None:
    cpu = max(os.sched_getaffinity(0))
    r = ic.run(
        matmul_model, backend="loadgen", scenario="offline", cpus=[cpu], duration=0.2,
        loadgen_logs=tmp_path / "pin",
    )  # fmt: skip
    assert r.isolated and r.cpus == [cpu]
    assert r.loadgen is not None and (tmp_path / "pin" / "mlperf_log_summary.txt").is_file()
    assert r.n == r.loadgen["issued"] > 0


@needs_loadgen
def test_python_completions_when_asked(matmul_model: Path, tmp_path: Path) -> None:
    from inferclock._workers.run import run_loadgen

    r = run_loadgen(
        str(matmul_model), {"duration": 0.3}, backend="loadgen", scenario="multistream",
        loadgen_logs=tmp_path / "ms", completion="python",
    )  # fmt: skip
    lg = r.loadgen
    assert lg is not None
    assert lg["completion"] == "python" and lg["scenario"] == "multistream"
    assert lg["samples_per_query"] == 8
    assert r.n == lg["issued"] == 8 * lg["issue_calls"]


@needs_loadgen
def test_cli_writes_the_row_and_the_logs_beside_it(matmul_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "lg.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "inferclock", "loadgen", str(matmul_model), "--scenario",
         "offline", "--duration", "0.2", "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr  # 0 VALID, 1 INVALID
    assert "loadgen   offline" in proc.stdout
    from inferclock._common.jsonl import load_file

    rows = load_file(out).rows
    assert len(rows) == 1
    lg = schema.get(rows[0], "loadgen")
    assert Path(lg["log_dir"]).parent == tmp_path / "lg.mlperf"
    assert read_summary(lg["log_dir"])["result"] == lg["result"]
    assert proc.returncode == (0 if lg["result"] == "VALID" else 1)


@needs_loadgen
def test_find_peak_reads_loadgen_s_peak(matmul_model: Path, tmp_path: Path) -> None:
    """LoadGen's FindPeakPerformance through the backend: a start that meets the minimum
    duration and query count always ends in a peak at or above it, read from the detail log."""
    logs = tmp_path / "fp"
    r = ic.run(
        matmul_model, backend="loadgen", scenario="server", loadgen_mode="find_peak", qps=50,
        latency_bound_ms=50, duration=0.2, queries=20, loadgen_logs=logs,
    )  # fmt: skip
    lg = r.loadgen
    assert lg is not None and lg["requested_mode"] == "find_peak"
    assert lg["peak_qps"] is not None and lg["peak_qps"] >= 50, lg.get("peak_note")
    detail = (logs / "mlperf_log_detail.txt").read_text()
    assert f"Found peak performance field: {lg['peak_qps']:.6f}" in detail


# ---------------------------------------------------------------- the C++ SUT without LoadGen


def test_sut_starts_every_sample_once_and_reports_it(matmul_model: Path) -> None:
    """IssueQuery as LoadGen's thread calls it, 40 samples onto 2 requests: what finds no free
    request waits in the queue, the dispatcher starts it as callbacks free them, and every
    sample's id is reported exactly once, after it completed."""
    engine = _core.Engine(str(matmul_model), "CPU", 1, {}, {}, "", 2)
    seen: list[int] = []
    lock = threading.Lock()

    def complete(response_id: int) -> None:
        with lock:
            seen.append(response_id)

    sut = _core.LoadgenSut(engine, complete)
    assert sut.name == "inferclock" and sut.handle != 0
    sut.begin()
    ids = list(range(1000, 1040))
    sut.issue([(i, k) for k, i in enumerate(ids)])
    sut.finish()
    assert sorted(seen) == ids
    issued, started, completed = sut.ticks()
    assert sut.issued == 40 and sut.issue_calls == 1
    # What IssueQuery could not start at once waited in the queue; the dispatcher started
    # exactly those (how many depends on how fast the requests came free).
    assert sut.dispatched == sut.max_queued <= 38
    assert (issued > 0).all() and (started >= issued).all() and (completed > started).all()
    # The engine is free again for its own loops.
    buf = np.empty(3, dtype=np.int64)
    assert engine.run_sync(buf, 0, 3)[0] == 3


def test_sut_holds_the_engine_until_finish(matmul_model: Path) -> None:
    engine = _core.Engine(str(matmul_model), "CPU", 1, {}, {}, "", 1)
    sut = _core.LoadgenSut(engine, lambda _id: None)
    sut.begin()
    try:
        with pytest.raises(ConfigError, match="in use"):
            engine.async_start()
    finally:
        sut.finish()
    engine.async_start()
    engine.async_stop()


# ---------------------------------------------------------------- the parser


def test_parser_refuses_a_text_without_a_result() -> None:
    with pytest.raises(ConfigError, match="not a LoadGen summary"):
        parse_summary("SUT name : x\nScenario : Server\n")


def test_a_missing_summary_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"LoadGen wrote no summary: .*mlperf_log_summary\.txt"):
        read_summary(tmp_path)


def test_parser_reads_each_field_kind() -> None:
    text = """SUT name : inferclock
Scenario : SingleStream
Mode     : PerformanceOnly
90.0th percentile latency (ns) : 39283
Result is : VALID
  Min duration satisfied : Yes
  Early stopping satisfied: NO
 * Early stopping 90.0th percentile estimate: 41137
 * Early stopping 99.0th percentile estimate: 103132
Scheduled samples per second : 194.70
99.90 percentile latency (ns)   : 4728538
"""
    s = parse_summary(text)
    assert s["result"] == "VALID" and s["scenario"] == "singlestream"
    assert s["target_percentile"] == 90.0 and s["target_latency_ns_measured"] == 39283
    assert s["constraints"] == {"min_duration": True, "early_stopping": False}
    assert s["early_stopping_estimates_ns"] == {"p90": 41137, "p99": 103132}
    assert s["scheduled_sps"] == 194.7 and s["percentiles_ns"] == {"p99.9": 4728538}


# ---------------------------------------------------------------- bad inputs

BAD: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"backend": "tensorrt", "scenario": "server"}, ConfigError, "backend must be one of"),
    ({"backend": 3, "scenario": "server"}, ConfigTypeError, "backend must be one of"),
    ({"backend": "loadgen", "scenario": "burst"}, ConfigError, "scenario must be one of"),
    ({"backend": "loadgen", "scenario": 7}, ConfigTypeError, "scenario must be one of"),
    ({"scenario": "server", "qps": 5}, ConfigError, "scenario applies to backend 'loadgen'"),
    ({"backend": "loadgen"}, ConfigError, "needs scenario"),
    ({"backend": "loadgen", "scenario": "server"}, ConfigError, "needs qps"),
    ({"backend": "loadgen", "scenario": "singlestream", "qps": 5}, ConfigError, "qps does not"),
    ({"backend": "loadgen", "scenario": "offline", "latency_bound_ms": 5}, ConfigError,
     "latency_bound_ms applies to scenario 'server'"),
    ({"backend": "loadgen", "scenario": "server", "qps": 5, "arrival": "constant"}, ConfigError,
     "arrival does not apply"),
    ({"backend": "loadgen", "scenario": "offline", "loadgen_mode": "find_peak"}, ConfigError,
     "needs scenario 'server'"),
    ({"backend": "loadgen", "scenario": "offline", "loadgen_mode": "fast"}, ConfigError,
     "loadgen_mode must be one of"),
    ({"backend": "loadgen", "scenario": "server", "qps": 5, "mode": "latency2"}, ConfigError,
     "mode does not apply"),
    ({"backend": "loadgen", "scenario": "offline", "iterations": 9}, ConfigError,
     "iterations does not apply"),
    ({"backend": "loadgen", "scenario": "offline", "processes": 2}, ConfigError,
     "processes must be 1"),
    ({"backend": "loadgen", "scenario": "server", "qps": -1}, ConfigError, "qps"),
    ({"backend": "loadgen", "scenario": "offline", "loadgen_logs": 3}, ConfigError,
     "loadgen_logs must be a folder path"),
    ({"loadgen_mode": "find_peak"}, ConfigError, "apply to backend 'loadgen'"),
]  # fmt: skip


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_arguments_are_refused_before_anything_runs(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as info:
        ic.run("no_such_model.xml", **kwargs)
    assert "\n" not in str(info.value)


def test_loadgen_logs_naming_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "f.txt"
    f.write_text("x")
    with pytest.raises(ConfigError, match="is not a folder"):
        ic.run("m.xml", backend="loadgen", scenario="offline", loadgen_logs=f)


def test_missing_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # as if not installed
    with pytest.raises(ConfigError, match=r"pip install 'inferclock\[loadgen\]'"):
        ic.run("m.xml", backend="loadgen", scenario="offline")


def test_cli_missing_extra_is_one_line_exit_2() -> None:
    code = (
        "import sys; sys.modules['mlperf_loadgen'] = None\n"
        "from inferclock.__main__ import main\n"
        "sys.exit(main(['loadgen', 'm.xml', '--scenario', 'offline']))"
    )
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: backend 'loadgen' needs MLPerf LoadGen: pip install 'inferclock[loadgen]'"
    ]


def test_cli_bad_scenario_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "inferclock", "loadgen", "m.xml", "--scenario", "burst"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: scenario must be one of server, offline")
