"""``ic.find_peak_qps`` on the real engine: the bracket and binary search keep every INVALID
rate above the peak, every step is a row, and a second search on the same file resumes."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock._common.errors import ConfigTypeError


def test_the_peak_is_the_highest_valid_rate_and_the_file_resumes(
    slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "peak.jsonl"

    def search() -> ic.PeakResult:
        return ic.find_peak_qps(
            str(slow_model), 10.0, out=out, queries=500, min_duration=0.3, tolerance=0.3,
            quiet=True, requests=2, batch_size=1,
            # The bracket is under test, not the budget: a loaded machine may need long steps.
            time_budget=math.inf, max_step_time=math.inf,
        )  # fmt: skip

    r = search()
    assert r.qps is not None and r.capacity_qps is not None and r.steps
    valid = [s.qps for s in r.steps if s.verdict == "VALID"]
    invalid = [s.qps for s in r.steps if s.verdict == "INVALID"]
    assert r.qps == max(valid)
    assert all(q > r.qps for q in invalid)
    if r.lowest_invalid is not None:  # the bracket closed to the tolerance (or the rounding)
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


def test_the_peak_command_needs_a_bound(matmul_model: Path, tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "inferclock", "peak", str(matmul_model), "-o",
         str(tmp_path / "p.jsonl")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert p.returncode == 2 and "--latency-bound" in p.stderr and "Traceback" not in p.stderr
