"""Exits and messages under faults of the environment (issue 24, items 4, 14, 15, 17): a
peak search's time budget, step cap, Ctrl-C and SIGTERM; ``compare`` given a directory;
cache directories on a read-only filesystem; rows with a bad interval confidence, a lone
surrogate or a UTF-8 BOM; ``publish`` into a full disk.

Read-only and full filesystems are real: a tmpfs mounted read-only or with a size of a few
pages (the tests run as root; where mounting is refused they skip and say so).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import procs
import pytest
from synthetic import HEADER, lognormal_ns, make_row

import inferclock as ic

HANG_GUARD_S = 180  # a hang guard, never a timing outcome


@contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at ``path`` with ``options`` (``ro``, ``size=64k``), unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferclock", *args], capture_output=True, text=True,
        timeout=HANG_GUARD_S, env={**os.environ, **(env or {})},
    )  # fmt: skip


# ----------------------------------------------------------------- 14: compare B a directory


def test_compare_with_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    from inferclock._common.jsonl import ResultWriter

    w = ResultWriter(a, HEADER)
    w.append(make_row("m", "f32", 1, lognormal_ns(1.0, n=200).astype(np.int64)))
    (tmp_path / "bdir").mkdir()
    p = cli("compare", str(a), str(tmp_path / "bdir"))
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("error: results file") and "bdir" in p.stderr
    assert "is a directory" in p.stderr and "Traceback" not in p.stderr


# -------------------------------------------------------- 15: cache dirs on a read-only mount


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A read-only filesystem holding an (empty) directory ``cache``."""
    ro = tmp_path / "ro"
    with tmpfs(ro, "size=64k"):
        (ro / "cache").mkdir()
        done = subprocess.run(["mount", "-o", "remount,ro", str(ro)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only")
        yield ro


@pytest.mark.parametrize(
    ("where", "env"),
    [
        ("INFERCLOCK_CACHE_DIR (missing)", {"INFERCLOCK_CACHE_DIR": "{ro}/c"}),
        ("INFERCLOCK_CACHE_DIR (existing)", {"INFERCLOCK_CACHE_DIR": "{ro}/cache"}),
        ("HOME", {"HOME": "{ro}", "XDG_CACHE_HOME": "", "INFERCLOCK_CACHE_DIR": ""}),
    ],
)
def test_a_read_only_model_cache_is_one_line_naming_it(
    read_only: Path, where: str, env: dict[str, str]
) -> None:
    p = cli("run", "mobilenet_v2", "--iterations", "5",
            env={k: v.format(ro=read_only) for k, v in env.items()})  # fmt: skip
    assert p.returncode == 2, (where, p.stderr[-2000:])
    err = p.stderr.strip().splitlines()[-1]
    assert err.startswith("error: cannot write the model cache"), (where, p.stderr[-2000:])
    assert str(read_only) in err and "INFERCLOCK_CACHE_DIR" in err
    assert "Traceback" not in p.stderr


def test_a_read_only_int8_cache_is_one_line_naming_it(read_only: Path, matmul_model: Path) -> None:
    p = cli("run", str(matmul_model), "--precision", "int8", "--iterations", "5",
            env={"INFERCLOCK_CACHE_DIR": str(read_only / "cache")})  # fmt: skip
    assert p.returncode == 2, p.stderr[-2000:]
    err = p.stderr.strip().splitlines()[-1]
    assert err.startswith("error: cannot write the int8 cache"), p.stderr[-2000:]
    assert str(read_only) in err and "Read-only file system" in err
    assert "Traceback" not in p.stderr


# ------------------------------------------------------------------ 17: rows and their files


def _row_line(**changes: object) -> dict[str, object]:
    row = make_row("m", "f32", 1, lognormal_ns(1.0, n=200).astype(np.int64))
    row = json.loads(json.dumps(row, default=lambda o: o.tolist() if hasattr(o, "tolist") else 0))
    row.update({"kind": "row", **changes})
    return row


def _file(path: Path, rows: list[dict[str, object]], prefix: bytes = b"") -> Path:
    head = {"kind": "header", "format_version": 1, **HEADER}
    text = "\n".join(json.dumps(o) for o in [head, *rows]) + "\n"
    path.write_bytes(prefix + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("confidence", [1.0, 95])
def test_a_row_with_a_confidence_outside_0_1_is_named(tmp_path: Path, confidence: float) -> None:
    a = _file(tmp_path / "a.jsonl", [_row_line()])
    b = _file(tmp_path / "b.jsonl", [_row_line(latency_ci_confidence=confidence)])
    result = ic.compare(a, b)
    (cell,) = result.states
    assert cell.state == "unreadable"
    assert "latency_ci_confidence" in cell.reason and f"{confidence!r}" in cell.reason
    p = cli("compare", str(a), str(b))
    assert p.returncode == 0 and "latency_ci_confidence" in p.stdout, p.stderr


def test_a_lone_surrogate_names_the_file_line_and_field(tmp_path: Path) -> None:
    from inferclock._common.jsonl import load_file

    a = _file(tmp_path / "a.jsonl", [_row_line()])
    b = _file(tmp_path / "b.jsonl", [_row_line(), _row_line(model="m\ud800x")])
    f = load_file(b)
    assert len(f.rows) == 1
    assert [(n, why) for n, why in f.skipped] == [
        (3, "field 'model' holds a lone surrogate (\\ud800): not valid Unicode text")
    ]
    p = cli("compare", str(a), str(b))
    assert p.returncode == 0, p.stderr
    assert "b.jsonl:3: field 'model' holds a lone surrogate" in p.stdout


def test_a_utf8_bom_is_read(tmp_path: Path) -> None:
    from inferclock._common.jsonl import ResultWriter, load_file

    plain = _file(tmp_path / "plain.jsonl", [_row_line()])
    bom = _file(tmp_path / "bom.jsonl", [_row_line()], prefix=b"\xef\xbb\xbf")
    assert load_file(bom).rows == load_file(plain).rows
    assert load_file(bom).skipped == ()
    ResultWriter(bom, HEADER).append(_row_line())  # and appended to
    assert len(load_file(bom).rows) == 2
    p = cli("compare", str(plain), str(bom))
    assert p.returncode == 0 and "1 same" in p.stdout, p.stderr


def test_publish_into_a_full_disk_leaves_no_truncated_page(tmp_path: Path) -> None:
    from inferclock._render.site import CellData, Point

    def cell(key: str) -> CellData:
        points = tuple(
            Point(str(i), f"2026-12-0{1 + i % 9}", None, "0.1", v, v * 0.98, v * 1.02)
            for i, v in enumerate(np.linspace(1.0, 2.0, 40))
        )
        return CellData(key, "host", "median", "ms", points, (), (("p50", 1.0, None, None),))

    cells = [cell(f"c{i}") for i in range(3)]
    disk = tmp_path / "disk"
    with tmpfs(disk, "size=64k"):
        out = disk / "site"
        out.mkdir()
        (disk / "filler").write_bytes(b"\0" * 48 * 1024)  # 16k left: less than a cell page
        from inferclock._render.site import write_site

        # ic.publish turns the error into a ConfigError naming out_dir (exit 2 on the CLI)
        with pytest.raises((ic.ConfigError, OSError), match=r"No space left on device"):
            write_site(cells, out)
        pages = [p for p in out.rglob("*") if p.is_file()]
        for page in pages:  # a page there is whole; a failed write left none
            end = "</feed>" if page.suffix == ".xml" else "</html>"  # feed.xml: the Atom feed
            assert page.read_text().rstrip().endswith(end), (page, page.stat().st_size)


# -------------------------------------------------------------------- 4 and 17: peak's exits


def _peak(model: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    # A step of 10**6 queries at 50 qps lasts hours: only a stop ends it.
    return subprocess.Popen(
        [sys.executable, "-m", "inferclock", "peak", str(model), "--latency-bound", "50ms",
         "--start-qps", "50", "--queries", "1000000", "--max-step-time", "inf",
         "--time-budget", "inf", "-o", str(out), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_for_step(proc: subprocess.Popen[str], out: Path) -> None:
    """Until the step is running: the results file has its header (written before the run)
    and a worker below the command has OpenVINO's CPU plugin loaded (no guessed sleep)."""

    def running() -> bool:
        assert proc.poll() is None, proc.communicate()
        header = out.exists() and out.stat().st_size > 0
        return header and any(procs.has_mapped(p) for p in procs.descendants(proc.pid))

    procs.wait_for(running, "the peak step's worker", HANG_GUARD_S)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_peak_stops_at_once_on_a_signal_with_the_steps_done(
    matmul_model: Path, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    out = tmp_path / "peak.jsonl"
    proc = _peak(matmul_model, out, "--quiet")
    try:
        _wait_for_step(proc, out)
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    what = "terminated (SIGTERM)" if sig == signal.SIGTERM else "interrupted (Ctrl-C)"
    assert last.startswith(f"peak search {what}: 0 step(s) done"), stderr[-2000:]
    assert str(out) in last and "run of 1 left" not in last and "Traceback" not in stderr
    assert "0 left" not in stderr


def test_peak_stops_at_its_time_budget_keeping_the_steps_done(
    slow_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "p.jsonl"

    def search(**kw: object) -> ic.PeakResult:
        return ic.find_peak_qps(
            str(slow_model), 10.0, out=out, queries=200, min_duration=0.2, start_qps=400,
            quiet=True, requests=2, rule="verdict", **kw,  # a start that fails ends "loadgen"
        )  # fmt: skip

    first = search(max_steps=1)
    assert len(first.steps) == 1 and first.stopped is not None
    assert first.stopped.startswith("max_steps")
    # A budget already spent: no step starts; the step done is kept, in the result and file.
    r = search(time_budget=1e-6)
    assert [s.qps for s in r.steps] == [first.steps[0].qps] and r.steps[0].resumed
    assert r.stopped is not None and r.stopped.startswith("time budget")
    assert "time_budget" in r.stopped and f"stopped: {r.stopped}" in r.summary()
    assert len(ic.ResultTable.load(out).rows) == 1


def test_peak_does_not_start_a_step_longer_than_its_cap(slow_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.jsonl"
    # 200 queries at 100 qps last 2 s: over a 1 s cap, so no step runs at all.
    r = ic.find_peak_qps(
        str(slow_model), 10.0, out=out, queries=200, min_duration=0.2, start_qps=100,
        max_step_time=1.0, quiet=True,
    )  # fmt: skip
    assert r.steps == () and r.qps is None
    assert r.stopped is not None and r.stopped.startswith("step cap")
    assert "100 qps" in r.stopped and "2 s" in r.stopped and "max_step_time" in r.stopped
    p = cli("peak", str(slow_model), "--latency-bound", "10ms", "--queries", "200", "--start-qps",
            "100", "--max-step-time", "1s", "-o", str(tmp_path / "q.jsonl"))  # fmt: skip
    assert p.returncode == 1 and "step cap" in p.stdout and "--max-step-time" in p.stdout


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"time_budget": 0}, "time_budget"), ({"max_step_time": -1}, "max_step_time"),
     ({"time_budget": "5m"}, "time_budget")],
)  # fmt: skip
def test_bad_peak_budgets_are_refused_by_name(
    matmul_model: Path, tmp_path: Path, kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(ic.ConfigError, match=named):
        ic.find_peak_qps(str(matmul_model), 5, out=tmp_path / "p.jsonl", **kwargs)  # type: ignore[arg-type]
