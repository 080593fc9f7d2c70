"""Results files: durable JSONL writing, tolerant reading, ResultTable filters and exports."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic import HEADER, lognormal_ns, make_row, write_table

from inferclock._analysis.table import (
    FORMAT_VERSION,
    ResultTable,
    ResultWriter,
    load_file,
    read_rows,
)
from inferclock._core import ConfigError, InferclockError

CELLS = [("tiny", p, b, "latency") for p in ("f32", "bf16") for b in (1, 8)]


def test_header_and_rows_round_trip(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", CELLS)
    header, rows = read_rows(path)
    assert header["kind"] == "header" and header["format_version"] == FORMAT_VERSION
    assert header["environment"] == HEADER["environment"] and "created" in header
    assert len(rows) == 4
    assert [r["key"] for r in rows] == [f"tiny|CPU|{p}|{b}|latency|-" for _, p, b, _ in CELLS]
    expected = make_row("tiny", "f32", 1, lognormal_ns(0.8, seed=0), raw=rows[0]["raw_latencies"])
    assert rows[0] == {"kind": "row", **expected}
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6  # header + 4 rows, newline-terminated
    assert all(json.loads(line) for line in lines[:-1])


def test_existing_file_is_appended_not_rewritten(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", CELLS[:2])
    before = path.read_bytes()
    w = ResultWriter(path, {"environment": {"cpu_model": "other"}})
    assert not w.created and w.header["environment"]["cpu_model"] == "Synthetic CPU @ 2.0GHz"
    w.append(make_row("tiny", "f32", 32, lognormal_ns(2.0)))
    after = path.read_bytes()
    assert after.startswith(before)
    assert len(read_rows(path)[1]) == 3


def test_torn_last_line_is_skipped_and_next_append_starts_clean(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", CELLS[:2])
    with path.open("ab") as fh:
        fh.write(b'{"kind": "row", "key": "tiny|CPU|f32|8|lat')  # power cut mid-row
    f = load_file(path)
    assert len(f.rows) == 2 and f.skipped_lines == 1
    ResultWriter(path, HEADER).append(make_row("tiny", "bf16", 8, lognormal_ns(0.5)))
    data = path.read_bytes()
    assert b'|lat\n{"kind": "row"' in data and data.endswith(b"\n")
    f = load_file(path)
    assert [r["key"] for r in f.rows][-1] == "tiny|CPU|bf16|8|latency|-"
    assert len(f.rows) == 3 and f.skipped_lines == 1
    t = ResultTable.load(path)
    assert len(t) == 3 and t.skipped_lines == 1


def test_empty_file_gets_a_header_torn_header_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.touch()
    w = ResultWriter(empty, HEADER)
    assert w.created and read_rows(empty)[0]["format_version"] == FORMAT_VERSION
    torn = tmp_path / "torn.jsonl"
    torn.write_bytes(b'{"kind": "header", "format_ver')
    with pytest.raises(InferclockError, match="first line is not a valid header"):
        ResultWriter(torn, HEADER)


def test_newer_or_unknown_format_version_raises_clear_error(tmp_path: Path) -> None:
    newer = tmp_path / "newer.jsonl"
    newer.write_text(
        json.dumps({"kind": "header", "format_version": FORMAT_VERSION + 1})
        + "\n"
        + json.dumps({"kind": "row", "key": "a|CPU|f32|1|latency|-"})
        + "\n"
    )
    with pytest.raises(InferclockError, match=r"newer than this inferclock reads.*upgrade"):
        read_rows(newer)
    with pytest.raises(InferclockError, match="newer"):
        ResultTable.load(newer)
    with pytest.raises(InferclockError, match="newer"):
        ResultWriter(newer, HEADER)
    old = tmp_path / "old.jsonl"
    old.write_text(json.dumps({"kind": "header", "format_version": 0}) + "\n")
    with pytest.raises(InferclockError, match="unknown format_version 0"):
        read_rows(old)
    not_ours = tmp_path / "other.jsonl"
    not_ours.write_text('{"a": 1}\n')
    with pytest.raises(InferclockError, match="not an inferclock results file"):
        read_rows(not_ours)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_rows(tmp_path / "missing.jsonl")


def test_rows_are_strict_json(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    w = ResultWriter(path, HEADER)
    row = make_row("tiny", "f32", 1, lognormal_ns(1.0, n=1))  # n=1: cv of one sample
    row.update(latency_cv=float("nan"), n=np.int64(1), throughput_fps=np.float32(3.5))
    w.append(row)
    line = path.read_text().splitlines()[1]
    assert "NaN" not in line
    back = json.loads(line)
    assert back["latency_cv"] is None and back["n"] == 1 and back["throughput_fps"] == 3.5
    with pytest.raises(ConfigError, match="key"):
        w.append({"model": "tiny"})
    with pytest.raises(TypeError, match="cannot write a object"):
        w.append({"key": "k", "x": object()})
    assert len(read_rows(path)[1]) == 1  # failed appends wrote nothing


def test_bad_output_paths_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ResultWriter(tmp_path / "missing" / "r.jsonl", HEADER)
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="not a directory"):
        ResultWriter(a_file / "r.jsonl", HEADER)
    with pytest.raises(ConfigError, match="is a directory"):
        ResultWriter(tmp_path, HEADER)
    # /proc refuses new files even for root: the directory passes the checks, creation fails.
    with pytest.raises(ConfigError, match="/proc"):
        ResultWriter("/proc/inferclock-results.jsonl", HEADER)
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", CELLS[:1]))
    with pytest.raises(ConfigError, match="does not exist"):
        t.to_csv(tmp_path / "missing" / "r.csv")
    with pytest.raises(ConfigError, match="not a directory"):
        t.to_json(a_file / "r.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            ResultWriter(ro / "r.jsonl", HEADER)
    finally:
        ro.chmod(0o755)


def test_table_load_filter_ok_errors_keys(tmp_path: Path) -> None:
    a = write_table(tmp_path / "a.jsonl", CELLS)
    b = write_table(tmp_path / "b.jsonl", [("small", "f32", 1, "throughput")])
    ResultWriter(b, HEADER).append(
        make_row(
            "small",
            "int8",
            1,
            None,
            mode="throughput",
            error="worker killed by SIGKILL",
            error_kind="crash (SIGKILL)",
        )
    )
    t = ResultTable.load(a, b)
    assert len(t) == 6 and len(t.headers) == 2 and t.paths == [a, b]
    assert len(t.filter(model="tiny")) == 4
    assert len(t.filter(model="tiny", batch_size=8, precision_requested="bf16")) == 1
    assert len(t.filter(batch_size=[1, 8], mode="latency")) == 4
    slow = t.filter(lambda r: (r.get("latency_median_ns") or 0) > 1.5e6)
    assert sorted(r["batch_size"] for r in slow) == [8, 8]
    assert len(t.filter(lambda r: r["batch_size"] == 1, model="tiny")) == 2
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['precison'\]"):
        t.filter(precison="f32")
    assert len(t.ok()) == 5 and len(t.errors()) == 1
    assert t.errors().rows[0]["error_kind"] == "crash (SIGKILL)"
    assert t.keys()[-1] == "small|CPU|int8|1|throughput|-"
    assert "small|CPU|int8|1|throughput|-" not in t.keys(ok_only=True)
    assert len(t.keys()) == 6
    with pytest.raises(ConfigError, match="at least one"):
        ResultTable.load()


def test_raw_latencies_resolve_against_the_file(tmp_path: Path, monkeypatch: Any) -> None:
    path = write_table(tmp_path / "r.jsonl", CELLS[:1])
    monkeypatch.chdir("/")
    t = ResultTable.load(path)
    raw = t.raw_latencies(t.rows[0])
    assert raw is not None and raw.dtype == np.int64
    assert np.array_equal(raw, lognormal_ns(0.8, seed=0))
    assert t.raw_latencies(t.filter(model="tiny").rows[0]) is not None  # survives filtering


def test_summary_pools_processes(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    w = ResultWriter(path, HEADER)
    for proc, median in enumerate((1.0, 1.5, 1.1)):
        w.append(make_row("tiny", "f32", 1, lognormal_ns(median, seed=proc), process=proc))
    (s,) = ResultTable.load(path).summary()
    meds = [r["latency_median_ns"] for r in read_rows(path)[1]]
    # Combined on the log scale: the geometric mean of the process medians; the processes
    # disagree far beyond their own intervals, so the between-process term sets the width.
    assert s.runs == 3 and s.processes == 3 and s.n == 6000
    assert s.median_ns == pytest.approx(float(np.exp(np.mean(np.log(meds)))))
    assert s.spread == pytest.approx((max(meds) - min(meds)) / sorted(meds)[1])
    assert s.ci95_low_ns is not None and s.ci95_high_ns is not None
    assert s.ci95_low_ns < min(meds) and s.ci95_high_ns > max(meds)
    assert s.multimodal is True


def test_to_csv_json_markdown(tmp_path: Path) -> None:
    path = write_table(tmp_path / "r.jsonl", CELLS)
    ResultWriter(path, HEADER).append(
        make_row("tiny", "int8", 1, None, error="NNCF failed | shape", error_kind="ModelError")
    )
    t = ResultTable.load(path)
    out = t.to_csv(tmp_path / "r.csv")
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 5 and rows[0]["model"] == "tiny"
    assert json.loads(rows[0]["precision_mix"])["mix"]["i32"]["ops"] == 3
    assert rows[0]["model_path"] == "" and float(rows[0]["latency_median_ns"]) > 0
    assert rows[4]["error_kind"] == "ModelError"
    doc = json.loads(t.to_json(tmp_path / "r.json").read_text())
    assert doc["format_version"] == FORMAT_VERSION and len(doc["rows"]) == 5
    assert doc["headers"][0]["environment"]["cores"] == 2
    md = t.to_markdown()
    assert "| model | device | precision req/exec |" in md
    assert "| tiny | CPU | bf16/bf16 | 8 | latency |" in md
    assert "Errors (1 rows)" in md and "NNCF failed \\| shape" in md


def test_to_pandas(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", CELLS))
    df = t.to_pandas()
    assert isinstance(df, pd.DataFrame) and df.shape == (4, len(t.columns()))
    assert df.groupby("precision_requested")["latency_median_ns"].median()["bf16"] > 0


def test_to_pandas_without_pandas_names_the_extra(tmp_path: Path, monkeypatch: Any) -> None:
    t = ResultTable.load(write_table(tmp_path / "r.jsonl", CELLS[:1]))
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'inferclock\[pandas\]'"):
        t.to_pandas()


# Imports inferclock._common.jsonl under a bare "inferclock" package (its __init__ not run: today it
# imports report, results and compare eagerly) and prints every module then loaded, so the
# test sees what the format module itself pulls in.
_IMPORT_FORMAT_ONLY = """
import importlib.util, sys, types
spec = importlib.util.find_spec("inferclock")
pkg = types.ModuleType("inferclock")
pkg.__path__ = list(spec.submodule_search_locations)
pkg.__spec__ = spec
sys.modules["inferclock"] = pkg
import inferclock._common.jsonl
print("\\n".join(sorted(sys.modules)))
"""
_RENDERING = ("pandas", "matplotlib", "inferclock._analysis.text", "inferclock._analysis.table")


def test_format_module_imports_no_rendering(tmp_path: Path) -> None:
    """A worker writes rows with the format module alone: no tables, markdown or plotting."""
    proc = subprocess.run(
        [sys.executable, "-c", _IMPORT_FORMAT_ONLY],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = proc.stdout.split()
    assert "inferclock._common.jsonl" in loaded and "inferclock._render.report" not in loaded
    pulled_in = [m for m in loaded if m in _RENDERING or m.split(".")[0] in _RENDERING]
    assert pulled_in == []
