"""compare() of results files streams them: each row cut to the fields a comparison reads
(``compare_cells.fields_kept``), duplicates found on whole rows. Its answers are those of the
same files loaded whole; its memory follows the kept fields, not the rows' size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from synthetic import HEADER, lognormal_ns, make_row

from inferclock._analysis.compare import compare
from inferclock._analysis.table import ResultTable, ResultWriter

CELLS = [(m, p, b) for m in ("tiny", "small") for p in ("f32", "bf16") for b in (1, 8)]


def _rows(scale: float, seed: int) -> list[dict[str, Any]]:
    out = []
    for i, (m, p, b) in enumerate(CELLS):
        for proc in range(2):
            samples = (lognormal_ns(0.5 * b**0.7, seed=seed + 10 * i + proc) * scale).astype(
                np.int64
            )
            out.append(make_row(m, p, b, samples, process=proc))
    return out


def _varied(path: Path, scale: float, seed: int, *, b_side: bool) -> Path:
    """A file with what readers must name: a torn line, duplicate rows, a row named by its
    host and its unnamed twin (a duplicate once the name is filled in), unreadable values,
    error rows, a cell without p99, cells only on one side."""
    w = ResultWriter(path, HEADER)
    rows = _rows(scale, seed)
    rows[0]["host_name"] = "w1"
    for r in rows:
        w.append(r)
    with path.open("ab") as fh:
        fh.write(b'{"kind": "row", "key": "torn|CPU|f')  # a torn write, ended by the next append
    w.append(rows[2])  # the same measurement twice
    w.append({k: v for k, v in rows[0].items() if k != "host_name"})  # a twin once named
    if b_side:
        bad = dict(rows[4], latency_median_ns=None)  # unreadable in B
        w.append(bad)
        w.append(dict(rows[6], throughput_fps="fast", key="odd|CPU|f32|1|latency|-"))
        w.append(make_row("tiny", "int8", 1, None, error="crash", error_kind="crash"))
        w.append(make_row("gone", "f32", 1, None, error="crash", error_kind="crash"))
        w.append(make_row("broken", "f32", 1, lognormal_ns(0.4, seed=7)))
        r = dict(rows[8 % len(rows)])
        r["latency_percentiles"] = {}
        w.append(dict(r, key="nop99|CPU|f32|1|latency|-", process=0))
        w.append(dict(r, n=0, key="only_b|CPU|f32|1|latency|-"))
    else:
        w.append(make_row("tiny", "int8", 1, lognormal_ns(0.4, seed=9)))
        w.append(make_row("gone", "f32", 1, lognormal_ns(0.4, seed=8)))
        w.append(make_row("broken", "f32", 1, None, error="crash", error_kind="crash"))
        w.append(dict(rows[8 % len(rows)], key="nop99|CPU|f32|1|latency|-", process=0))
    return path


def test_streamed_files_compare_as_the_same_files_loaded_whole(tmp_path: Path) -> None:
    a = _varied(tmp_path / "a.jsonl", 1.0, 0, b_side=False)
    b = _varied(tmp_path / "b.jsonl", 1.3, 100, b_side=True)
    for metric in ("auto", "median", "throughput", "p99", "p90"):
        streamed = compare(a, b, metric=metric)
        whole = compare(ResultTable.load(a), ResultTable.load(b), metric=metric)
        # NaN (a cell without an interval) is not equal to itself: compare the JSON text.
        assert json.dumps(streamed.to_dict(), default=str) == json.dumps(
            whole.to_dict(), default=str
        ), metric
        assert streamed.to_markdown() == whole.to_markdown()
    c = compare(a, b)
    assert {s.state for s in c.states} >= {
        "unreadable",
        "error in A",
        "error in B",
        "slower",
        "only in B",
    }
    assert any(":" in line and "not valid JSON" in line for line in c.skipped)
    assert any("2 duplicate row(s)" in n for n in c.notes)  # the twin counts once named


_GROWTH = """
import os, resource, sys
from inferclock._analysis.compare import compare
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
compare(sys.argv[1], sys.argv[1])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_compare_memory_follows_the_fields_it_reads_not_the_rows(tmp_path: Path) -> None:
    # A real row (a tiny sweep's, kept in tests/data) copied into 200 cells x 25 processes.
    header, row = (
        json.loads(line)
        for line in (Path(__file__).parent / "data" / "real_sweep_row.jsonl")
        .read_text()
        .split("\n")[:2]
    )
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(header) + "\n")
        for i in range(5000):
            r = dict(row, key=f"m{i % 200}|CPU|f32|1|latency|-", process=i // 200)
            r["latency_median_ns"] = row["latency_median_ns"] * (1 + (i % 7) / 100)
            fh.write(json.dumps(r) + "\n")
    size_kib = path.stat().st_size / 1024
    out = subprocess.run(
        [sys.executable, "-c", _GROWTH, str(path)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard only
        check=True,
    )
    growth_kib = int(out.stdout.strip())
    # Both sides read the file: whole rows held as dicts took several times its size each;
    # the fields a comparison reads take a fraction of it.
    assert growth_kib < size_kib, (growth_kib, size_kib)
