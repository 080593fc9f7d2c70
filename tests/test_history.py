"""ic.history on SQLite: runs and rows, idempotent adds, the v1 -> v2 migration, concurrent
writers, change detection on synthetic series, the CLI and the sweep's history option.
(PostgreSQL: test_history_pg.py.)"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from synthetic import HEADER, lognormal_ns, make_row, write_table

import inferclock as ic
from inferclock.__main__ import main
from inferclock._common.errors import ConfigError, ConfigTypeError

CELLS = [("tiny", "f32", 1, "latency"), ("tiny", "bf16", 4, "throughput")]
KEY = "m|CPU|f32|1|latency|-"


def step_rows(n: int, step_at: int | None, noise: float, seed: int, step: float = 1.10,
              mode: str = "latency") -> list[dict[str, Any]]:  # fmt: skip
    """One row per run: a latency of 1 ms times lognormal run-to-run noise, times ``step``
    from run ``step_at`` on."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        f = (step if step_at is not None and i >= step_at else 1.0) * np.exp(rng.normal(0, noise))
        samples = lognormal_ns(float(f), n=2000, seed=seed * 1000 + i)
        rows.append(make_row("m", "f32", 1, samples, mode=mode))
    return rows


def fill(h: ic.History, rows: list[dict[str, Any]]) -> None:
    for i, r in enumerate(rows):
        assert h.add([r], header={**HEADER, "openvino_version": f"2026.{i}"}) == 1


def test_add_file_twice_adds_rows_once(tmp_path: Path) -> None:
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False, processes=2)
    with ic.history(tmp_path / "h.db") as h:
        assert h.add_file(res) == 4
        assert h.add_file(res) == 0
        df = h.query()
        assert len(df) == 4
        assert set(df["run_id"]) == {1}  # the second add left no empty run
        assert list(h.query(precision="bf16")["batch_size"]) == [4, 4]
        assert h.query(model="other").empty
        assert df["openvino_version"].iloc[0] == HEADER["openvino_version"]
        assert [k for k, _ in h.cells()] == sorted({r[0] for r in h.cells()})
        assert len(h.cells()) == 2
    wal = sqlite3.connect(tmp_path / "h.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert wal == "wal"


def test_v1_database_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    c = sqlite3.connect(db)
    c.executescript(
        """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE runs (run_id INTEGER PRIMARY KEY, added_at TEXT NOT NULL, source TEXT,
                           header TEXT);
        CREATE TABLE result_rows (row_id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL
                                  REFERENCES runs(run_id), key TEXT NOT NULL, data TEXT NOT NULL);
        """
    )
    rows = step_rows(3, None, 0.02, seed=1)
    for run in (1, 2):  # v1 had no identity: the same file added twice was stored twice
        c.execute(
            "INSERT INTO runs VALUES (?, ?, 'r.jsonl', ?)",
            (run, f"2026-01-0{run}T00:00:00+00:00", json.dumps(HEADER)),
        )
        for r in rows:
            c.execute("INSERT INTO result_rows (run_id, key, data) VALUES (?, ?, ?)",
                      (run, r["key"], json.dumps(r)))  # fmt: skip
    c.commit()
    c.close()
    with ic.history(db) as h:
        df = h.query(model="m")
        assert len(df) == 3
        assert list(df["latency_median_ns"]) == [r["latency_median_ns"] for r in rows]
        assert set(df["inferclock_version"]) == {HEADER["inferclock_version"]}
        assert h.add(rows) == 0  # identities filled in by the migration
    c = sqlite3.connect(db)
    assert c.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "result_rows" not in tables and "results" in tables


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import inferclock as ic
    target, who, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    h = ic.history(target)
    while not go.exists():
        time.sleep(0.005)
    for i in range(200):
        assert h.add([{"key": f"cell{i % 7}", "model": "m", "writer": who, "i": i}]) == 1
    h.close()
    """
)


def concurrent_writers(target: str, tmp_path: Path) -> None:
    """Two processes, each adding 200 distinct rows (one add each) at the same time."""
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, target, who, str(go)]) for who in ("a", "b")
    ]
    go.touch()
    assert [p.wait(timeout=300) for p in procs] == [0, 0]


def test_two_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    target = str(tmp_path / "h.db")
    concurrent_writers(target, tmp_path)
    with ic.history(target) as h:
        df = h.query()
        assert len(df) == 400
        assert sorted(df.groupby("writer").size()) == [200, 200]


def test_step_at_run_20_is_the_one_regression(tmp_path: Path) -> None:
    with ic.history(tmp_path / "h.db") as h:
        fill(h, step_rows(30, 20, 0.02, seed=3))
        s = h.series(KEY)
        assert len(s) == 30 and list(s["run_id"]) == list(range(1, 31))
        steps = h.regressions()
    assert len(steps) == 1
    st = steps[0]
    assert (st.index, st.run_id, st.direction, st.metric) == (20, 21, "slower", "median")
    assert 1.06 < st.ratio < 1.14
    assert st.version == f"inferclock {HEADER['inferclock_version']}, openvino 2026.20"


def test_throughput_falls_is_slower(tmp_path: Path) -> None:
    with ic.history(tmp_path / "h.db") as h:
        fill(h, step_rows(30, 20, 0.02, seed=4))
        steps = h.regressions(metric="throughput")
    assert [(s.index, s.direction, s.metric) for s in steps] == [(20, "slower", "throughput")]
    assert steps[0].ratio < 0.95


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("noise", [0.02, 0.03])
def test_flat_noisy_history_has_no_step(tmp_path: Path, seed: int, noise: float) -> None:
    with ic.history(tmp_path / "h.db") as h:
        fill(h, step_rows(30, None, noise, seed=10 + seed))
        assert len(h.series(KEY)) == 30
        assert h.regressions() == []


def test_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigError, match=r"pip install 'inferclock\[postgres\]'"):
        ic.history("postgresql://ci@127.0.0.1:1/db")


def test_bad_targets_are_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigTypeError, match="history must be"):
        ic.history(3)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cannot open history"):
        ic.history(tmp_path)  # a directory


def test_cli_add_push_regressions_query(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFERCLOCK_HISTORY", raising=False)
    db = str(tmp_path / "h.db")
    res = write_table(tmp_path / "r.jsonl", CELLS, raw=False)
    assert main(["history", "regressions"]) == 2
    assert "give --history" in capsys.readouterr().err
    assert main(["history", "add", str(res), "--history", db]) == 0
    assert "2 new row(s)" in capsys.readouterr().out
    assert main(["history", "push", str(res), "--to", db]) == 0
    assert "0 new row(s)" in capsys.readouterr().out
    with ic.history(db) as h:
        fill(h, step_rows(30, 20, 0.02, seed=3))
    monkeypatch.setenv("INFERCLOCK_HISTORY", db)
    assert main(["history", "regressions"]) == 0
    out = capsys.readouterr().out
    assert KEY in out and "openvino 2026.20" in out and "slower" in out
    assert len(out.strip().splitlines()) == 2  # the heading and the one step
    csv = tmp_path / "q.csv"
    assert main(["history", "query", "--model", "tiny", "--csv", str(csv)]) == 0
    assert len(csv.read_text().strip().splitlines()) == 3
    assert main(["history", "regressions", "--metric", "p101"]) == 2
    assert "metric must be" in capsys.readouterr().err


def test_sweep_history_option_checks() -> None:
    from inferclock._sweeps.options import SweepOptions

    assert SweepOptions(history=Path("h.db")).history == "h.db"
    with pytest.raises(ConfigTypeError, match="history"):
        SweepOptions(history=3)
    with pytest.raises(ConfigError, match="history"):
        SweepOptions(history="  ")


def test_sweep_adds_its_rows(tmp_path: Path, matmul_model: Path) -> None:
    out, db = tmp_path / "r.jsonl", tmp_path / "h.db"
    fast = {"iterations": 20, "warmup": 2, "processes": 1}
    ic.sweep(matmul_model, batch_sizes=[1, 2], out=out, history=db, quiet=True, **fast)
    with ic.history(db) as h:
        assert len(h.query()) == 2
        ic.sweep(matmul_model, batch_sizes=[1, 2, 4], out=out, history=db, quiet=True,
                 force_resume=True, **fast)  # fmt: skip
        df = h.query()
    assert len(df) == 3 and list(df["run_id"]) == [1, 1, 2]  # only the new row, as a new run


def test_sweep_history_failure_keeps_the_results(tmp_path: Path, matmul_model: Path) -> None:
    out = tmp_path / "r.jsonl"
    with pytest.warns(RuntimeWarning, match="not added to history"):
        t = ic.sweep(matmul_model, out=out, history=tmp_path, quiet=True,
                     iterations=20, warmup=2, processes=1)  # fmt: skip
    assert len(t) == 1 and out.exists()


def test_sweep_cli_history_flag(tmp_path: Path, matmul_model: Path) -> None:
    out, db = tmp_path / "r.jsonl", tmp_path / "h.db"
    argv = ["sweep", str(matmul_model), "-o", str(out), "--history", str(db), "--quiet",
            "--processes", "1", "--iterations", "20", "--warmup", "2"]  # fmt: skip
    assert main(argv) == 0
    with ic.history(db) as h:
        assert len(h.query()) == 1
    header = json.loads(out.read_text().splitlines()[0])
    assert "history" not in header["sweep"]  # a URL may hold a password
