"""The sweep's progress line at 80 columns: the count and the ETA first, the cell name cut with
an ellipsis; and the int8 note printed once per model, not once per int8 cell.

The terminal's width is set the way a terminal sets it for a program (``COLUMNS``, which
``shutil.get_terminal_size`` and rich read); what the displays write to stderr is read back.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import inferclock as ic
from inferclock._sweeps import progress as _progress

LONG = "ssdlite_mobilenet_v2|CPU|int8|8|throughput|hint=THROUGHPUT,streams=4,requests=8 p2"
HEAD = re.compile(r"^\[?\s*\d+/\d+(,? \d+ failed)?,? ETA \S+")


def _drawn(err: str) -> list[str]:
    """Each line a display drew: the text between carriage returns and newlines."""
    return [s.rstrip() for s in re.split(r"[\r\n]", err) if s.strip()]


def test_plain_line_fits_80_columns_count_and_eta_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    p = _progress.Plain()
    p.start(48)
    p.running(LONG)
    p.advance(failed=True)
    p.running(LONG + " and more")
    p.close()
    lines = _drawn(capsys.readouterr().err)
    assert lines
    for line in lines:
        assert len(line) <= 80, line
        assert HEAD.match(line), line
        assert line.endswith(_progress.ELLIPSIS), line
    assert lines[-1].startswith("[1/48, 1 failed, ETA "), lines[-1]


def test_plain_line_keeps_a_short_name_whole(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    p = _progress.Plain()
    p.start(3)
    p.running("mm|CPU|f32|1|latency|- p0")
    p.close()
    (line,) = _drawn(capsys.readouterr().err)
    assert line == "[0/3, ETA ?] mm|CPU|f32|1|latency|- p0"


def test_fit_cuts_with_an_ellipsis() -> None:
    assert _progress.fit("abcdef", 6) == "abcdef"
    assert _progress.fit("abcdef", 4) == "abc\u2026"
    assert _progress.fit("abcdef", 0) == ""
    assert len(_progress.line(1, 2, 0, 5.0, "x" * 200, 30)) == 30


def test_rich_bar_fits_80_columns_count_and_eta_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("rich")
    monkeypatch.setenv("COLUMNS", "80")
    p = _progress.Rich()
    p.start(48)
    p.running(LONG)
    p.advance(failed=True)
    p.close()  # rich draws the last state on stderr when it stops
    lines = _drawn(capsys.readouterr().err)
    assert lines
    last = lines[-1]
    assert len(last) <= 80, last
    assert HEAD.match(last.strip()), last
    assert last.strip().startswith("1/48 1 failed ETA"), last
    assert _progress.ELLIPSIS in last and "ssdlite_mobilenet_v2|CPU" in last, last


def test_tqdm_bar_fits_80_columns_count_and_eta_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setenv("COLUMNS", "80")
    p = _progress.Tqdm()
    p.start(48)
    p.running(LONG)
    p.advance(failed=True)
    p.close()
    lines = _drawn(capsys.readouterr().err)
    assert lines
    for line in lines:
        assert len(line) <= 80, line
        assert HEAD.match(line), line


def test_the_int8_note_is_printed_once_per_model(
    matmul_model: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("nncf")
    calibration = [
        np.random.default_rng(i).standard_normal((1, 64)).astype(np.float32) for i in range(4)
    ]
    # Four int8 cells of one model (2 batch sizes x 2 modes), as the demo has per model.
    table = ic.sweep(
        str(matmul_model), precisions=["int8"], batch_sizes=[1, 2],
        modes=["latency", "throughput"], calibration=calibration, out=tmp_path / "r.jsonl",
        quiet=False, iterations=3, warmup=1, strict=False, processes=1,
    )  # fmt: skip
    assert len(table.rows) == 4
    err = capfd.readouterr().err
    assert err.count("is quantized with NNCF") == 1, err
