"""One definition per figure (issue 23 item 4): a cell's median, percentiles, drift and the
coverage its interval achieved come from one function, whichever path reads them."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from synthetic import lognormal_ns, make_row

import inferclock as ic
from inferclock._analysis import cell as _cell
from inferclock._analysis.summary import summarize_cells
from inferclock._timing.rows import result_row


def test_run_with_processes_and_the_summary_agree_on_the_same_rows(matmul_model: Path) -> None:
    r = ic.run(matmul_model, processes=3, iterations=200, warmup=5, percentiles=[50, 90, 99])
    rows = [{"key": "k", **result_row(p), "process": i} for i, p in enumerate(r.process_runs)]
    (s,) = summarize_cells(rows)
    assert s.median_ns == pytest.approx(r.latency.median_ns, rel=1e-12)
    assert s.p99_ns == pytest.approx(r.latency.p99_ns, rel=1e-12)
    p99 = next(p for p in r.latency.percentiles if p.p == 99)
    c = _cell.percentile_figure(rows, 99)
    assert c is not None and p99.value_ns == pytest.approx(c.estimate, rel=1e-12)
    assert (p99.low_ns, p99.high_ns) == pytest.approx((c.low, c.high), rel=1e-12)
    # The drift is a process's own (the largest), never one over the pooled samples.
    own = [p.drift for p in r.process_runs]
    assert r.drift == pytest.approx(max(own, key=abs), rel=1e-12)


def test_drift_and_percentiles_of_a_cell_from_rows() -> None:
    rows = [
        make_row("m", "f32", 1, lognormal_ns(1.0 + 0.5 * i, seed=i), process=i) for i in range(3)
    ]
    for i, d in enumerate((0.01, -0.04, 0.02)):
        rows[i]["latency_drift"] = d
    assert _cell.drift_of(rows) == -0.04
    assert _cell.drift_of([{**rows[0], "latency_drift": None}]) is None
    p99 = _cell.percentile_figure(rows, 99)
    vals = [r["latency_percentiles"]["p99"]["value_ns"] for r in rows]
    assert p99 is not None and p99.estimate == pytest.approx(math.prod(vals) ** (1 / 3))


def test_a_single_run_reports_the_coverage_it_achieved() -> None:
    row = make_row("m", "f32", 1, lognormal_ns(1.0, n=5))
    c = _cell.combine_rows([row], "median")
    assert c is not None and c.confidence == row["latency_ci_confidence"] < 0.95
    (s,) = summarize_cells([row])
    assert s.ci_confidence == row["latency_ci_confidence"]
