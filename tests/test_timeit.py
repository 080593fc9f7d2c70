"""``inferclock timeit``: a statement timed in fresh processes, end to end in subprocesses.

What is checked is what the command guarantees whatever the timing: how many times the setup
and the statement ran (counted by bytes they append to a file), the structure of the text,
the JSON and the rows, the errors, and that ``compare``, ``history`` and ``publish`` take the
rows. No figure is compared with a duration.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferclock._analysis.table import load_file
from inferclock._timing import schema, statement

#: Unbuffered appends: each execution of the statement adds one byte, the setup an "S".
SETUP = "import os; fd = os.open({path!r}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)"
SETUP_MARK = "os.write(fd, b'S')"
STMT = "os.write(fd, b'x')"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferclock", "timeit", *args],
        capture_output=True, text=True, cwd=cwd, timeout=300,
    )  # fmt: skip


def counting(path: Path) -> list[str]:
    """The flags that time STMT with SETUP writing to ``path``."""
    return ["-s", SETUP.format(path=str(path)), "-s", SETUP_MARK, STMT]


def one_json(stdout: str) -> dict[str, Any]:
    """stdout holds exactly one JSON object (json.loads refuses anything after it)."""
    obj = json.loads(stdout)
    assert isinstance(obj, dict)
    return obj


def test_the_statement_runs_number_times_per_sample_in_each_process(tmp_path: Path) -> None:
    log = tmp_path / "log"
    r = cli(*counting(log), "-n", "3", "--iterations", "40", "--warmup", "0", "-p", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = one_json(r.stdout)
    assert (out["number"], out["number_calibrated"], out["processes"]) == (3, False, 2)
    assert (out["n"], out["executions"]) == (80, 240)
    assert out["interval_scope"] == "within and between 2 processes"
    data = log.read_bytes()
    assert data.count(b"S") == 2  # the setup once per process
    assert data.count(b"x") == 2 * 40 * 3  # nothing but the timed samples ran the statement


def test_inprocess_runs_here_once(tmp_path: Path) -> None:
    log = tmp_path / "log"
    r = cli(*counting(log), "-n", "2", "--iterations", "30", "--warmup", "0", "--inprocess",
            "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = one_json(r.stdout)
    assert (out["processes"], out["inprocess"], out["n"]) == (1, True, 30)
    assert out["interval_scope"] == "within one process"
    assert log.read_bytes().count(b"S") == 1 and log.read_bytes().count(b"x") == 60


def test_number_is_calibrated_once_and_shared_by_the_processes(tmp_path: Path) -> None:
    log, rows = tmp_path / "log", tmp_path / "r.jsonl"
    r = cli(*counting(log), "--iterations", "30", "--warmup", "0", "-p", "2", "--json",
            "-o", str(rows))  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = one_json(r.stdout)
    number = out["number"]
    assert out["number_calibrated"] is True and 1 <= number <= statement.MAX_NUMBER
    assert [schema.at(row, "timeit_number") for row in load_file(rows).rows] == [number] * 2
    # Each process's writes follow its setup's "S": the first calibrated (at least 3 calls
    # more than its samples), the second took the first's number and ran only its samples.
    first, second = log.read_bytes().split(b"S")[1:]
    assert first.count(b"x") >= 30 * number + 3
    assert second.count(b"x") == 30 * number


def test_per_execution_divides_every_sample_by_number() -> None:
    import numpy as np

    from inferclock import stats
    from inferclock._timing.measure import Measurement

    x = np.array([3000, 6000, 9000, 3000, 6000], dtype=np.int64)
    m = Measurement(samples_ns=x, warmup_ns=np.array([30], dtype=np.int64),
                    stats=stats.summarize(x), warmup_steady=None, drift=0.0,
                    stop_reason="iterations", elapsed_s=1.0, migrations=0)  # fmt: skip
    per = statement.per_execution(m, 3)
    assert per.samples_ns.tolist() == [1000, 2000, 3000, 1000, 2000]
    assert per.warmup_ns.tolist() == [10]
    assert (per.stats.median_ns, per.stats.min_ns, per.stats.n) == (2000, 1000, 5)
    assert statement.per_execution(m, 1) is m


def test_calibration_picks_the_first_candidate_long_enough() -> None:
    """calibrate() on a fake clock: each execution of the sample 'takes' 7 ns."""
    now = [0]
    cell = [1]

    def sample() -> None:
        now[0] += 7 * cell[0]

    def clocks(cpu: list[int]) -> dict[str, Any]:
        return {"clock": lambda: now[0], "cpu_clock": lambda: cpu[0]}

    assert statement.calibrate(sample, cell, 20_000, **clocks(now)) == 5000
    # A first call of 10 ms or more on the CPU settles it at once: one call, number 1.
    calls = []

    def slow() -> None:
        calls.append(1)
        now[0] += 50_000_000

    assert statement.calibrate(slow, [1], 20_000, **clocks(now)) == 1 and len(calls) == 1
    # 50 ms on the wall clock but 7 ns on the CPU: a call that waited for the CPU, preempted
    # (the wall clock alone settled number 1 for a 5 us statement under load): calls go on.
    cpu = [0]
    preempted = [True]

    def waited() -> None:
        now[0] += (50_000_000 if preempted[0] else 7) * cell[0]
        cpu[0] += 7 * cell[0]
        preempted[0] = False

    calls.clear()
    cell[0] = 1
    assert statement.calibrate(waited, cell, 20_000, **clocks(cpu)) == 5000


def test_setup_names_are_the_statements_locals() -> None:
    """As in timeit, the statement may rebind what the setup bound (`x += 1`)."""
    r = cli("-s", "x = 0", "x += 1", "-n", "5", "--iterations", "30", "--inprocess", "--json")
    assert r.returncode == 0, r.stderr
    assert one_json(r.stdout)["executions"] == 150


def test_the_text_gives_the_median_interval_and_percentiles_in_order(tmp_path: Path) -> None:
    r = cli("-s", "x = list(range(100))", "sorted(x)", "--iterations", "30", "-p", "2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("sorted(x): median ") and "per execution, 9" in lines[0]
    assert "(within and between 2 processes)" in lines[0]
    cols = lines[1].split()
    assert [c for c in cols if c.startswith("p")] == ["p50", "p90", "p95", "p99"]
    assert "2 process(es): 60 samples of" in r.stdout and "process medians" in r.stdout
    assert "Traceback" not in r.stderr


def test_json_schema(tmp_path: Path) -> None:
    r = cli("-s", "x = list(range(100))", "sorted(x)", "--iterations", "40", "-p", "2", "--json")
    assert r.returncode == 0, r.stderr
    out = one_json(r.stdout)
    assert list(out["percentiles"]) == ["p50", "p90", "p95", "p99"]
    for p in out["percentiles"].values():
        assert set(p) == {"value_ns", "low_ns", "high_ns", "confidence"}
    assert out["ci_low_ns"] <= out["median_ns"] <= out["ci_high_ns"]
    assert out["min_ns"] <= out["median_ns"] <= out["max_ns"]
    assert len(out["process_medians_ns"]) == 2 and isinstance(out["instability"], list)
    assert (out["name"], out["stmt"], out["setup"]) == ("sorted(x)", "sorted(x)",
                                                        "x = list(range(100))")  # fmt: skip
    assert isinstance(out["host"], str) and out["elapsed_s"] > 0


def test_the_instability_warning(tmp_path: Path) -> None:
    """Fewer than 30 samples is one of the reasons, whatever the machine's load."""
    r = cli("pass", "--iterations", "10", "-p", "1")
    assert r.returncode == 0, r.stderr
    assert "WARNING: this measurement may be unstable: only 10 sample(s)" in r.stderr
    r = cli("pass", "--iterations", "10", "-p", "1", "--json")
    assert any("only 10 sample(s)" in why for why in one_json(r.stdout)["instability"])


def test_a_setup_imports_a_module_of_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / "mymod_timeit.py").write_text("def f():\n    return 1\n")
    r = cli("-s", "import mymod_timeit", "mymod_timeit.f()", "--iterations", "30", "-p", "2",
            cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr


def _rows(tmp_path: Path, name: str, *extra: str) -> Path:
    out = tmp_path / f"{name}.jsonl"
    r = cli("-s", "x = list(range(100))", "sorted(x)", "-n", "5", "--iterations", "50",
            "-p", "2", "-o", str(out), *extra)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"2 row(s) appended to {out}" in r.stderr
    return out


def test_rows_compare_history_publish(tmp_path: Path) -> None:
    a, b = _rows(tmp_path, "a"), _rows(tmp_path, "b")
    f = load_file(a)
    assert f.header["source"] == "timeit" and f.header["environment"]
    assert [schema.at(r, "process") for r in f.rows] == [0, 1]
    for row in f.rows:
        schema.check(row, "test")
        assert {*schema.RUN_FIELDS, *schema.TIMEIT_FIELDS} <= set(row)  # a run's row, and more
        assert schema.at(row, "key") == schema.at(row, "model") == "sorted(x)"
        assert schema.at(row, "timeit_statement") == "sorted(x)"
        assert schema.at(row, "timeit_setup") == "x = list(range(100))"
        assert (schema.at(row, "n"), schema.at(row, "device")) == (50, "python")
    cmp_json = tmp_path / "cmp.json"
    r = subprocess.run(
        [sys.executable, "-m", "inferclock", "compare", str(a), str(b), "--json", str(cmp_json)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "| sorted(x) | median |" in r.stdout
    cells = json.loads(cmp_json.read_text())["cells"]
    assert [c["key"] for c in cells] == ["sorted(x)"] and cells[0]["runs_a"] == 2
    db, site = tmp_path / "h.db", tmp_path / "site"
    for args in (["history", "add", str(a), str(b), "--history", str(db)],
                 ["publish", str(db), "-o", str(site)]):  # fmt: skip
        r = subprocess.run([sys.executable, "-m", "inferclock", *args],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stderr
    pages = list((site / "cells").glob("*.html"))
    assert len(pages) == 1 and "sorted(x)" in pages[0].read_text()


def test_o_appends_to_an_existing_file_and_name_is_the_key(tmp_path: Path) -> None:
    out = _rows(tmp_path, "a")
    _rows(tmp_path, "a", "--name", "sort 100")
    keys = [schema.at(r, "key") for r in load_file(out).rows]
    assert keys == ["sorted(x)", "sorted(x)", "sort 100", "sort 100"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1/0"], "error: the statement '1/0' raised ZeroDivisionError: division by zero"),
        (["-s", "1/0", "pass"], "error: the setup '1/0' raised ZeroDivisionError"),
        (["raise SystemExit(3)"], "error: the statement 'raise SystemExit(3)' raised SystemExit"),
        (["next(iter([]))"], "error: the statement 'next(iter([]))' raised StopIteration"),
        (["x = ("], "error: the statement 'x = (' does not compile: '(' was never closed"),
        (["-s", "def", "pass"], "error: the setup 'def' does not compile: invalid syntax"),
        (["return 1"], "does not compile: 'return' outside function"),
        (["-s", "from os import *", "getpid()"], "do not compile together: import *"),
        (["-s", "import no_such_module_x", "pass"], "raised ModuleNotFoundError"),
        (["-n", "0", "pass"], "error: number must be between 1 and 1000000000, got 0"),
        (["-n", "x", "pass"], "--number 'x': expected an integer"),
        (["-p", "0", "pass"], "error: processes must be between 1 and 1000, got 0"),
        (["--inprocess", "-p", "2", "pass"], "error: inprocess times the statement in this"),
        (["--min-sample-time", "0", "pass"], "error: min_sample_time must be seconds in (0, 10]"),
        (["--name", " ", "pass"], "error: name must be non-empty text"),
        (["--timeout", "0", "pass"], "error: timeout must be a number of seconds > 0"),
        (["--iterations", "0", "pass"], "error: iterations must be an integer"),
        (["--percentiles", "200", "pass"], "error: percentiles must be"),
        (["-o", "/no/such/dir/r.jsonl", "pass"], "error: -o file '/no/such/dir/r.jsonl'"),
    ],
)
def test_errors_are_one_line_with_exit_2(args: list[str], message: str) -> None:
    r = cli(*args) if "--iterations" in args else cli(*args, "--iterations", "30")
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_a_bad_results_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    bad, log = tmp_path / "bad.jsonl", tmp_path / "log"
    bad.write_text("not a header\n")
    r = cli(*counting(log), "--iterations", "30", "-o", str(bad))
    assert r.returncode == 2 and "first line is not a header" in r.stderr, r.stderr
    assert not log.exists()  # no process ran the setup


def test_the_console_script_and_python_m_are_one_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "inferclock"
    r = subprocess.run([str(exe), "timeit", "--help"], capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 0 and "usage: inferclock timeit" in r.stdout
    assert r.stdout == cli("--help").stdout


@pytest.mark.parametrize(("sig", "rc", "said"), [
    (signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated"),
])  # fmt: skip
def test_ctrl_c_and_sigterm_stop_it_with_their_exit_codes(
    tmp_path: Path, sig: int, rc: int, said: str
) -> None:
    """Sent once the statement runs in the worker (its bytes appear); the worker goes too."""
    from procs import descendants, wait_for

    log = tmp_path / "log"
    p = subprocess.Popen(
        [sys.executable, "-m", "inferclock", "timeit", *counting(log), "--duration", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: log.exists() and b"x" in log.read_bytes(), "the statement to run")
        workers = descendants(p.pid)
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)  # a hang guard, not a timing expectation
    finally:
        p.kill()
    assert p.returncode == rc and err.startswith(said) and "Traceback" not in err, err
    assert out == ""
    wait_for(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), "workers to end")
