"""The gate never passes what it did not judge (issue 22): every compared cell ends in a named
state, and the gate passes only same, faster, or not worse than its threshold.

Each numbered case of the issue (cells without an interval, values that cannot be read, a
damaged baseline, the same rows twice, rows that are not measurements) passed the gate of
main 2e3a272 with exit 0; here each fails it, or is counted once, and is named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops
from synthetic import lognormal_ns, make_row, write_table

import inferclock as ic
from inferclock.__main__ import main
from inferclock._analysis.compare import compare
from inferclock._analysis.states import STATES, metric_problem, outcome, row_problem
from inferclock._analysis.table import ResultTable, ResultWriter, load_file

CELLS = [("tiny", "f32", 1, "latency"), ("tiny", "f32", 8, "latency")]
KEYS = [f"tiny|CPU|f32|{b}|latency|-" for b in (1, 8)]


def gate_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        rc = main(["compare", *argv])
    except SystemExit as e:
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def edited(src: Path, dst: Path, edit: Any, only: int | None = None) -> Path:
    """``src`` rewritten with ``edit(row)`` applied to row ``only`` (every row with None)."""
    f = load_file(src)
    w = ResultWriter(dst, {k: v for k, v in f.header.items() if k not in ("kind", "created")})
    for i, row in enumerate(f.rows):
        row = dict(row)
        if only is None or i == only:
            edit(row)
        w.append(row)
    return dst


# ---------------------------------------------------------------- 1. no interval


def _matmul(path: Path, n: int) -> Path:
    x = ops.parameter([-1, n], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    ov.save_model(ov.Model([ops.relu(ops.matmul(x, w, False, False))], [x], "mm"), str(path))
    return path


def test_a_cell_without_an_interval_is_judged_on_its_point_ratio(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A real one-iteration sweep has no interval. B is A's row 1000x slower: one sample of a
    # bigger model on a loaded machine could come out faster than a preempted one of A.
    model = _matmul(tmp_path / "mm.xml", 32)
    a = tmp_path / "a.jsonl"
    ic.sweep([model], iterations=1, warmup=1, processes=1, out=a, quiet=True)
    (row,) = load_file(a).rows
    assert row["latency_ci_confidence"] == 0.0, "one sample's interval covers nothing"

    def slower(r: dict[str, Any]) -> None:
        for k in ("latency_median_ns", "latency_ci95_low_ns", "latency_ci95_high_ns"):
            r[k] *= 1000

    files = [str(a), str(edited(a, tmp_path / "b.jsonl", slower))]
    c = compare(*files)
    (cell,) = c.cells
    assert cell.state == "no interval" and cell.verdict == "slower" and cell.ratio > 2
    assert c.regressions == (cell,)
    rc, out, err = gate_cli(capsys, *files, "--fail-above", "5%")
    assert rc == 1, err
    assert "FAIL: 1 no interval (no interval, point ratio worse than the threshold)" in err
    assert "no interval (slower on the point)" in out
    # Neither allow flag lets a measured slow-down through.
    rc, _, err = gate_cli(capsys, *files, "--fail-above", "5%", "--allow-inconclusive",
                          "--allow-missing")  # fmt: skip
    assert rc == 1, err


def test_a_percentile_without_an_interval_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)

    def p999(row: dict[str, Any]) -> None:
        row["latency_percentiles"]["p99.9"] = {"value_ns": 4e8, "low_ns": None, "high_ns": None,
                                               "confidence": None}  # fmt: skip

    b = edited(a, tmp_path / "b.jsonl", p999)
    entry = {"value_ns": 4e6, "low_ns": 3e6, "high_ns": 5e6, "confidence": 0.95}
    a = edited(
        a, tmp_path / "a2.jsonl", lambda r: r["latency_percentiles"].update({"p99.9": entry})
    )
    rc, out, err = gate_cli(capsys, str(a), str(b), "--metric", "p99.9", "--fail-above", "5%")
    assert rc == 1 and "2 no interval" in err and "100.000 no interval" in out


def test_a_point_ratio_within_the_threshold_passes(tmp_path: Path) -> None:
    assert outcome("no interval", 1.03, 0.05, allow_missing=False, allow_inconclusive=False) == (
        "pass"
    )
    assert outcome("no interval", 1.06, 0.05, allow_missing=True, allow_inconclusive=True) == (
        "fail"
    )


# ---------------------------------------------------------------- 2. unreadable values


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (None, "latency_median_ns is null"),
        (0, "latency_median_ns is 0"),
        (-5, "latency_median_ns is -5"),
        ("5373", "latency_median_ns is not a number ('5373')"),
        (True, "latency_median_ns is not a number (True)"),
        ("absent", "latency_median_ns is absent"),
        ("reversed", "latency_median_ns's interval is reversed"),
    ],
)
def test_a_value_that_cannot_be_read_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any, words: str
) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    slow = write_table(tmp_path / "slow.jsonl", CELLS, scale=10.0)

    def spoil(row: dict[str, Any]) -> None:
        if value == "absent":
            del row["latency_median_ns"]
        elif value == "reversed":
            row["latency_ci95_low_ns"], row["latency_ci95_high_ns"] = (
                row["latency_ci95_high_ns"], row["latency_ci95_low_ns"])  # fmt: skip
        else:
            row["latency_median_ns"] = value

    b = edited(slow, tmp_path / "b.jsonl", spoil, only=0)
    c = compare(a, b)
    assert c.state_of(KEYS[0]).state == "unreadable"  # type: ignore[union-attr]
    assert words in c.state_of(KEYS[0]).reason  # type: ignore[union-attr]
    assert c.unreadable == (KEYS[0],) and [x.key for x in c.cells] == [KEYS[1]]
    rc, out, err = gate_cli(capsys, str(a), str(b), "--fail-above", "5%")
    assert rc == 1 and "1 unreadable (a value that is not a measurement)" in err, err
    assert "1 slower" in err and words in out
    # --allow-missing lets the unreadable cell pass, never the slower one beside it.
    rc, _, err = gate_cli(capsys, str(a), str(b), "--fail-above", "5%", "--allow-missing")
    assert rc == 1 and "1 slower" in err and "--allow-missing used" in err


def test_an_unreadable_cell_alone_passes_only_when_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = edited(a, tmp_path / "b.jsonl", lambda r: r.update(latency_median_ns=None), only=1)
    assert gate_cli(capsys, str(a), str(b), "--fail-above", "5%")[0] == 1
    rc, _, err = gate_cli(capsys, str(a), str(b), "--fail-above", "5%", "--allow-missing")
    assert rc == 0 and "allowed: 1 unreadable" in err and "--allow-missing used" in err


def test_a_cell_lacking_the_metric_is_unreadable_not_dropped(tmp_path: Path) -> None:
    entry = {"value_ns": 4e6, "low_ns": 3e6, "high_ns": 5e6, "confidence": 0.95}
    a = write_table(tmp_path / "a0.jsonl", CELLS)
    a = edited(a, tmp_path / "a.jsonl", lambda r: r["latency_percentiles"].update({"p99.9": entry}))
    b = edited(a, tmp_path / "b.jsonl", lambda r: r["latency_percentiles"].pop("p99.9"), only=0)
    c = compare(a, b, metric="p99.9")
    state = c.state_of(KEYS[0])
    assert state is not None and state.state == "unreadable" and "p99.9 is absent" in state.reason
    assert len(c.cells) == 1 and not c.gate().passed


def test_metric_problems_name_the_field() -> None:
    row = make_row("tiny", "f32", 1, lognormal_ns(1.0))
    assert row_problem(row) is None and metric_problem(row, "p99") is None
    assert metric_problem(row, "p99.9") is not None and "absent" in metric_problem(row, "p99.9")  # type: ignore[operator]
    assert row_problem({**row, "n": 0}) == "n is 0 (a measurement has at least one sample)"
    assert "throughput_fps is -1" in row_problem({**row, "throughput_fps": -1})  # type: ignore[operator]
    assert row_problem({**row, "latency_median_ns": None, "error": "boom"}) is None


# ---------------------------------------------------------------- 3. a damaged baseline


def test_torn_lines_are_named_and_fail_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cells = [*CELLS, ("tiny", "bf16", 1, "latency"), ("tiny", "bf16", 8, "latency")]
    a = write_table(tmp_path / "a.jsonl", cells)
    b = write_table(tmp_path / "b.jsonl", cells, scale=10.0)
    lines = a.read_text().splitlines()
    for i in (2, 3, 4):  # rows 2-4 of 4 torn in half
        lines[i] = lines[i][: len(lines[i]) // 2]
    a.write_text("\n".join(lines) + "\n")
    c = compare(a, b)
    assert (
        len(c.skipped) == 3 and c.skipped[0] == f"A {a}:3: not valid JSON (a torn or damaged line)"
    )
    rc, out, err = gate_cli(capsys, str(a), str(b), "--fail-above", "5%")
    assert rc == 1 and "3 line(s) of the files held no row" in err and f"{a}:5" in err
    assert "3 only in B" in out and "1 slower" in err


# ---------------------------------------------------------------- 6. the same rows twice


def test_the_same_rows_twice_are_counted_once(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    once, twice = ResultTable.load(a), ResultTable.load(a, a)
    assert len(twice) == len(once) and twice.duplicates == len(once) and once.duplicates == 0
    assert [(s.n, s.runs, s.ci95_low_ns) for s in twice.summary()] == [
        (s.n, s.runs, s.ci95_low_ns) for s in once.summary()
    ]
    assert "2 duplicate row(s) dropped" in twice.notes()[0]
    rows = once.rows
    assert len(ResultTable(rows + rows)) == len(rows)
    md = (ic.report((a, a), tmp_path / "rep")).read_text()
    assert "2 rows: 2 measured" in md and "2 duplicate row(s) dropped" in md


# ---------------------------------------------------------------- 7. rows that are not measurements


def test_rows_that_are_not_measurements_are_named_never_averaged(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = edited(a, tmp_path / "b.jsonl", lambda r: r.update(latency_median_ns=-5000.0), only=0)
    b = edited(b, tmp_path / "c.jsonl", lambda r: r.update(latency_median_ns="5373"), only=1)
    t = ResultTable.load(b)
    assert len(t.ok()) == 0 and len(t.invalid()) == 2 and t.summary() == []
    (note,) = t.notes()
    assert note.startswith("2 row(s) are not valid measurements: tiny|CPU|f32|1|latency|- ")
    md = (ic.report(b, tmp_path / "rep")).read_text()
    assert "0 measured, 0 errors, 2 not valid measurements (left out), 0 cells" in md
    assert "latency_median_ns is -5000.0" in md and "-0.0050 ms" not in md


def test_every_state_is_documented_with_its_exit_code() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "statistics.md").read_text()
    table = doc[doc.index("## The gate's states") :]
    for state in STATES:
        assert f"| {state} |" in table, state
    rows = json.dumps(table)
    assert "--allow-inconclusive" in rows and "--allow-missing" in rows
