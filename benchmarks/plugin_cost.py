"""What the pytest plugin costs a session that never uses its fixture: pytest on a tiny
project (a few trivial tests, no fixture of inferclock's), with the plugin loaded by its entry
point against ``-p no:inferclock``, for one or more installs side by side.

Run: python benchmarks/plugin_cost.py [--python OLD/bin/python --python NEW/bin/python]
     [--sessions 20]
Each install gets ``--sessions`` pairs of sessions, one with the plugin (A) and one with
``-p no:inferclock`` (B), interleaved: every round runs each install's pair once, the pair's
order alternating (AB, then BA), so a machine that gets busier or quieter during the run
shifts both sides alike. A session is a fresh ``python -m pytest -q`` in the project folder,
timed by wall clock from the process start to its exit (interpreter start included) and by
the CPU time (user + system) the process used: on a shared, loaded machine the wall time
also counts the time the session waited for a CPU, the CPU time only the work it did. The
tables give each side's median and the median of the per-pair differences A - B with its
distribution-free 95% interval (``_common.intervals.quantile_ci``: the order statistics of
the differences that bound their median).

A second table isolates the plugin's import, what pytest does first in every session: in a
fresh interpreter that has imported pytest, the wall and CPU time of ``import
inferclock.pytest_plugin`` (median and its interval over as many interpreters as pairs), and
the modules it added.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

from inferclock._common.intervals import quantile_ci

TESTS = """
import pytest


def test_add():
    assert 1 + 1 == 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_square(n):
    assert n * n >= n


def test_tmp(tmp_path):
    (tmp_path / "f").write_text("x")
    assert (tmp_path / "f").read_text() == "x"
"""


def project(root: Path) -> Path:
    """A user's project of five trivial tests that never ask for inferclock's fixture."""
    (root / "pyproject.toml").write_text('[project]\nname = "tiny"\nversion = "0"\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_tiny.py").write_text(TESTS)
    return root


def session(python: str, folder: Path, *extra: str) -> tuple[float, float]:
    """Wall and CPU seconds of one pytest session; its outcome is checked (5 passed)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
        cwd=folder, capture_output=True, text=True,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)  # this child alone: reaped in between
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if p.returncode != 0 or "5 passed" not in p.stdout:
        raise SystemExit(f"{python}: the session failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return wall, cpu


IMPORT = """
import json, sys, time
import pytest
n, w, c = len(sys.modules), time.perf_counter_ns(), time.process_time_ns()
import inferclock.pytest_plugin
w, c = time.perf_counter_ns() - w, time.process_time_ns() - c
print(json.dumps([w / 1e6, c / 1e6, len(sys.modules) - n]))
"""


def plugin_import(python: str) -> tuple[float, float, int]:
    """Wall ms, CPU ms and modules added by importing the plugin after pytest."""
    p = subprocess.run([python, "-c", IMPORT], capture_output=True, text=True, check=True,
                       cwd=tempfile.gettempdir())  # fmt: skip
    wall, cpu, added = json.loads(p.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu), int(added)


def interval(values: list[float]) -> str:
    low, high, cover = quantile_ci(values, 0.5)
    return f"{statistics.median(values):.1f} [{low:.1f}, {high:.1f}] ({cover:.0%})"


def loaded(python: str) -> bool:
    """Whether ``python``'s pytest loads inferclock's plugin by its entry point."""
    code = (
        "from importlib.metadata import entry_points as e; "
        "print(any(p.value == 'inferclock.pytest_plugin' for p in e(group='pytest11')))"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip() == "True"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", action="append", help="an install's python (repeatable; "
                    "default: this one)")  # fmt: skip
    ap.add_argument("--sessions", type=int, default=20, help="pairs per install (default 20)")
    args = ap.parse_args()
    pythons: list[str] = args.python or [sys.executable]
    for py in pythons:
        if not loaded(py):
            raise SystemExit(f"{py}: inferclock's pytest11 entry point is not installed")
    #: install -> side -> clock ("wall", "cpu") -> seconds per session
    got: dict[str, dict[str, dict[str, list[float]]]] = {
        py: {side: {"wall": [], "cpu": []} for side in ("plugin", "off")} for py in pythons
    }
    load_before = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        folder = project(Path(tmp))
        for py in pythons:  # one unmeasured pair each: the page cache warm for both sides
            session(py, folder)
            session(py, folder, "-p", "no:inferclock")
        for i in range(args.sessions):
            for py in pythons:
                sides = ("plugin", "off") if i % 2 == 0 else ("off", "plugin")
                for side in sides:
                    extra = ("-p", "no:inferclock") if side == "off" else ()
                    wall, cpu = session(py, folder, *extra)
                    got[py][side]["wall"].append(wall)
                    got[py][side]["cpu"].append(cpu)
    rows = []
    for py in pythons:
        for clock in ("wall", "cpu"):
            a, b = got[py]["plugin"][clock], got[py]["off"][clock]
            diffs = [(x - y) * 1e3 for x, y in zip(a, b, strict=True)]
            low, high, cover = quantile_ci(diffs, 0.5)
            rows.append([
                py, clock, f"{statistics.median(a) * 1e3:.0f}",
                f"{statistics.median(b) * 1e3:.0f}", f"{statistics.median(diffs):+.0f}",
                f"[{low:+.0f}, {high:+.0f}] ({cover:.0%})",
            ])  # fmt: skip
    print(f"{machine()}, {today()}, load {load_before} before / {loadavg()} after, "
          f"{args.sessions} interleaved pairs per install\n")  # fmt: skip
    print(table(
        ["install", "time", "A: with plugin, ms", "B: -p no:inferclock, ms",
         "median A - B, ms", "its interval (coverage)"],
        rows,
    ))  # fmt: skip
    imports: dict[str, list[tuple[float, float, int]]] = {py: [] for py in pythons}
    for _ in range(args.sessions):
        for py in pythons:
            imports[py].append(plugin_import(py))
    print()
    print(table(
        ["install", "import inferclock.pytest_plugin: wall ms", "CPU ms", "modules added"],
        [[py, interval([w for w, _, _ in got_]), interval([c for _, c, _ in got_]),
          str(got_[-1][2])] for py, got_ in imports.items()],
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
