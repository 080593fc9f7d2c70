"""compare(): the ratio of each cell's metric with its interval, and a verdict per cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic import HEADER, lognormal_ns, make_row, write_table

from inferclock._analysis.compare import compare
from inferclock._analysis.table import ResultTable, ResultWriter
from inferclock._common.errors import ConfigError, ConfigTypeError

CELLS = [
    (m, p, b, mode)
    for m in ("tiny", "small")
    for p in ("f32", "bf16")
    for b in (1, 8)
    for mode in ("latency",)
]


def test_2x_slowdown_is_flagged(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = write_table(tmp_path / "b.jsonl", CELLS, scale=2.0)
    c = compare(a, b)
    assert len(c.cells) == len(CELLS) and not c.only_a and not c.only_b
    assert all(cell.verdict == "slower" for cell in c.cells)
    assert all(cell.metric == "median" and cell.method == "within" for cell in c.cells)
    assert all(cell.ci_low <= cell.ratio <= cell.ci_high for cell in c.cells)
    assert all(1.9 < cell.ci_low and cell.ci_high < 2.1 for cell in c.cells)
    assert len(c.regressions) == len(CELLS)
    assert c.worst_ratio == pytest.approx(2.0, rel=0.01)
    assert all(cell.throughput_ratio == pytest.approx(0.5, rel=0.01) for cell in c.cells)
    back = compare(b, a)  # the other way round it is an improvement
    assert all(cell.verdict == "faster" for cell in back.cells) and not back.regressions
    md = c.to_markdown()
    assert "**slower**" in md and f"{len(CELLS)} slower, 0 no interval, 0 inconclusive" in md


def test_equal_tables_are_same(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = write_table(tmp_path / "b.jsonl", CELLS)
    c = compare(ResultTable.load(a), ResultTable.load(b))
    assert [cell.verdict for cell in c.cells] == ["same"] * len(CELLS)
    assert all(cell.ratio == 1.0 and cell.ci_low < 1.0 < cell.ci_high for cell in c.cells)
    assert not c.regressions and c.worst_ratio == 1.0


def test_small_change_within_threshold_is_same_and_a_tighter_threshold_flags_it(
    tmp_path: Path,
) -> None:
    cells = [("tiny", "f32", 1, "latency")]
    a = write_table(tmp_path / "a.jsonl", cells)
    b = write_table(tmp_path / "b.jsonl", cells, scale=1.03, seed=7)  # other samples, +3%
    (loose,) = compare(a, b, threshold=0.10).cells
    assert loose.verdict == "same" and 1.0 < loose.ratio < 1.06
    (tight,) = compare(a, b, threshold=0.0).cells
    assert tight.verdict == "slower"


def test_spread_between_processes_widens_the_interval(tmp_path: Path) -> None:
    # B's two processes disagree (fast mode 1.0 ms, slow mode 1.3 ms): its combined median moves
    # about 14%, but which mode a process lands in is chance, so the verdict must not be sure.
    def table(path: Path, medians: tuple[float, float]) -> Path:
        w = ResultWriter(path, HEADER)
        for proc, m in enumerate(medians):
            w.append(make_row("tiny", "f32", 1, lognormal_ns(m, seed=proc), process=proc))
        return path

    a = table(tmp_path / "a.jsonl", (1.0, 1.0))
    b = table(tmp_path / "b.jsonl", (1.0, 1.3))
    (cell,) = compare(a, b).cells
    assert cell.runs_a == cell.runs_b == 2 and cell.n_a == 4000
    assert cell.ratio == pytest.approx(1.3**0.5, rel=0.02)
    assert cell.verdict == "inconclusive" and cell.method == "between"
    assert cell.ci_low < 1.0 and cell.ci_high > 1.3
    assert cell.multimodal_b is True and cell.multimodal_a is False


def test_unmatched_and_failed_cells_are_listed(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:3])
    b = write_table(tmp_path / "b.jsonl", CELLS[1:2] + CELLS[3:4])
    ResultWriter(b, HEADER).append(
        make_row("tiny", "f32", 1, None, error="timed out after 60 s", error_kind="timeout")
    )
    c = compare(a, b)
    assert [cell.key for cell in c.cells] == ["tiny|CPU|f32|8|latency|-"]
    assert c.only_a == ("tiny|CPU|bf16|1|latency|-",)
    assert c.only_b == ("tiny|CPU|bf16|8|latency|-",)
    assert c.failed_b == ("tiny|CPU|f32|1|latency|-",) and c.failed_a == ()
    md = c.to_markdown()
    k = "| tiny\\|CPU\\|{}\\|{}\\|latency\\|- | - | - | - | - | {} |"
    assert k.format("bf16", 1, "missing in B") in md and k.format("f32", 1, "error in B") in md
    assert k.format("bf16", 8, "only in B") in md
    assert "1 missing in B, 1 error in B, 1 same, 0 faster, 1 only in B" in md
    assert c.to_dict()["cells"][0]["verdict"] == "same"


def test_deterministic_and_validated(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:2])
    b = write_table(tmp_path / "b.jsonl", CELLS[:2], scale=1.2, seed=3)
    assert compare(a, b) == compare(a, b)
    with pytest.raises(ConfigError, match="threshold"):
        compare(a, b, threshold=-0.1)
    with pytest.raises(ConfigError, match="confidence"):
        compare(a, b, confidence=1.0)
    with pytest.raises(ConfigError, match="ResultTable or a results file path"):
        compare(a, 3)  # type: ignore[arg-type]


def test_environment_differences_are_reported(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:1])
    b = tmp_path / "b.jsonl"
    env = dict(HEADER["environment"], kernel="6.8.0")  # type: ignore[arg-type]
    ResultWriter(b, dict(HEADER, environment=env)).append(
        make_row("tiny", "f32", 1, lognormal_ns(0.8))
    )
    c = compare(a, b)
    assert c.environment_diff == ("kernel: '6.1.0' vs '6.8.0'",)
    assert "Machines differ: kernel" in c.to_markdown()


# ---------------------------------------------------------------- the gate (issue 15)


def _errors_only(path: Path, cells: list[tuple[str, str, int, str]]) -> Path:
    w = ResultWriter(path, HEADER)
    for model, prec, batch, mode in cells:
        w.append(make_row(model, prec, batch, None, mode=mode, error="boom", error_kind="crash"))
    return path


def test_gate_fails_when_every_row_of_b_is_an_error(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = _errors_only(tmp_path / "b.jsonl", CELLS)
    c = compare(a, b)
    assert c.cells == () and not c.regressions
    assert c.missing == tuple(f"{m}|CPU|{p}|{bs}|{mode}|-" for m, p, bs, mode in CELLS)
    gate = c.gate()
    assert not gate.passed and gate.compared == 0 and gate.missing == c.missing
    assert f"{len(CELLS)} error in B (B has only error rows): tiny|CPU|f32|1" in gate.summary()
    assert "nothing was compared" in gate.summary()
    # Allowing missing cells does not make an empty comparison pass.
    allowed = c.gate(allow_missing=True)
    assert not allowed.passed and allowed.reasons == (
        "no cell was measured successfully on both sides: nothing was compared",
    )


def test_gate_fails_when_no_cell_is_shared(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:2])
    renamed = [("tiny_v2", p, b, mode) for _, p, b, mode in CELLS[:2]]
    b = write_table(tmp_path / "b.jsonl", renamed)
    c = compare(a, b)
    assert c.cells == () and c.missing == c.only_a == tuple(
        f"tiny|CPU|{p}|{bs}|{mode}|-" for _, p, bs, mode in CELLS[:2]
    )
    gate = c.gate()
    assert not gate.passed
    assert gate.summary().startswith("FAIL: 2 missing in B (B has no row of the cell): tiny|CPU")


def test_gate_with_some_cells_missing(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:3])
    b = write_table(tmp_path / "b.jsonl", CELLS[:1])
    _errors_only(b, CELLS[1:2])  # the second cell failed in B; the third is not in B
    c = compare(a, b)
    assert [cell.key for cell in c.cells] == [CELLS_KEYS[0]]
    assert c.missing == (CELLS_KEYS[1], CELLS_KEYS[2])
    strict = c.gate()
    assert not strict.passed and len(strict.reasons) == 2
    lenient = c.gate(allow_missing=True)
    assert lenient.passed and lenient.compared == 1
    assert lenient.summary() == (
        "OK: no cell worse by more than 5.0% in its metric (1 compared: 0 slower, 0 no "
        "interval, 0 inconclusive, 0 unreadable, 1 missing in B, 1 error in B, 1 same, 0 faster; "
        "--allow-missing used); allowed: 1 error in B (B has only error rows): "
        f"{CELLS_KEYS[1]}; 1 missing in B (B has no row of the cell): {CELLS_KEYS[2]}"
    )
    assert list(c.to_dict()["missing"]) == [CELLS_KEYS[1], CELLS_KEYS[2]]


def test_a_cell_that_failed_in_a_is_not_missing(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:1])
    _errors_only(a, CELLS[1:2])  # nothing measured in A for this cell: B cannot miss it
    b = write_table(tmp_path / "b.jsonl", CELLS[:1])
    c = compare(a, b)
    assert c.missing == () and c.only_a == (CELLS_KEYS[1],)
    assert c.gate().passed


def test_gate_threshold_and_regressions(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = write_table(tmp_path / "b.jsonl", CELLS, scale=2.0)
    c = compare(a, b)
    gate = c.gate(0.05)
    assert not gate.passed and len(gate.regressions) == len(CELLS)
    assert gate.summary().startswith(
        f"FAIL: {len(CELLS)} slower (whole interval worse than the threshold)"
    )
    assert c.gate(1.5).passed  # 2x is within a 150% threshold
    assert c.gate().threshold == c.threshold
    assert c.gate(0.05).to_dict()["regressions"] == [cell.key for cell in c.cells]


CELLS_KEYS = [f"{m}|CPU|{p}|{b}|{mode}|-" for m, p, b, mode in CELLS]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"threshold": float("nan")}, ConfigError, r"threshold must be a finite fraction"),
        ({"threshold": float("inf")}, ConfigError, r"threshold must be a finite fraction"),
        ({"threshold": -0.05}, ConfigError, r"threshold .*a negative threshold makes no sense"),
        ({"threshold": True}, ConfigTypeError, r"threshold must be a finite fraction.*True"),
        ({"threshold": "5%"}, ConfigTypeError, r"threshold must be a finite fraction.*'5%'"),
        ({"confidence": "x"}, ConfigTypeError, r"confidence must be a number in \[0.5, 1\)"),
        ({"confidence": 0.2}, ConfigError, r"confidence must be a number in \[0.5, 1\)"),
        ({"metric": "p100"}, ConfigError, r"metric must be 'auto', 'median', 'throughput'"),
        ({"metric": "mean"}, ConfigError, r"metric must be .*a percentile such as 'p99'"),
        ({"metric": 99}, ConfigTypeError, r"metric must be"),
        ({"allow_mixed": "yes"}, ConfigTypeError, r"allow_mixed must be True or False"),
    ],
)
def test_arguments_are_checked_before_reading(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    # The files do not exist: the argument error comes first.
    with pytest.raises(error, match=message):
        compare("/nonexistent/a.jsonl", "/nonexistent/b.jsonl", **kwargs)  # type: ignore[arg-type]


def test_gate_arguments_are_checked(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS[:1])
    c = compare(a, a)
    with pytest.raises(ConfigError, match="threshold must be a finite fraction"):
        c.gate(float("nan"))
    with pytest.raises(ConfigTypeError, match="allow_missing must be True or False"):
        c.gate(allow_missing="yes")  # type: ignore[arg-type]
