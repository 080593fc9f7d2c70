"""``inferclock bisect`` on the issue's repository: 8 commits, the timed function doing 30% more
arithmetic from commit 5, timed by the pytest plugin in 5 fresh processes per session (the
repository ``tests/test_bisect.py`` builds). Each repetition builds it afresh and times the
whole search: its answer, the seconds to it, the pytest sessions it ran (GOOD and BAD
included) and how many commits it measured again or skipped.

Run: python benchmarks/bisect_search.py [--repeat 3]   (about 1 minute each on 2 vCPUs)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from _common import loadavg, machine, table, today

WORK = """N = {n}


def work():
    s = 0
    for i in range(N):
        s += i * i
    return s
"""
TEST = """import work


def test_work(inferclock):
    inferclock.measure(work.work, max_time=0.5, processes=5)
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True, env={**os.environ, "LC_ALL": "C"}).stdout.strip()  # fmt: skip


def make_repo(path: Path) -> list[str]:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "bench@example.com")
    git(path, "config", "user.name", "bench")
    (path / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    (path / "pytest.ini").write_text("[pytest]\n")
    (path / "test_speed.py").write_text(TEST)
    commits = []
    for k in range(1, 9):
        (path / "work.py").write_text(WORK.format(n=400 if k < 5 else 520))
        (path / "log.txt").write_text(f"commit {k}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"c{k}")
        commits.append(git(path, "rev-parse", "HEAD"))
    return commits


def once(root: Path, i: int) -> list[object]:
    repo = root / f"repo{i}"
    commits = make_repo(repo)
    load = loadavg()
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "inferclock", "bisect", commits[0], "main", "--repo", str(repo),
         "--runs", "4", "--", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "test_speed.py"],
        capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    out = p.stdout
    found = re.search(r"first bad commit: (\w+)", out)
    answer = (
        "c5"
        if found and found.group(1) == commits[4]
        else (found.group(1)[:7] if found else "none")
    )
    steps = set(re.findall(r"^\[(\d+)\]", out, re.M))  # a step's round lines share its number
    sessions = 2 + len(steps) + out.count("measured again")
    again = out.count("measured again")
    skipped = len(re.findall(r"-> skip$", out, re.M))
    clean = (
        git(repo, "status", "--porcelain") == ""
        and git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    )
    return [i, answer, f"{seconds:.1f}", sessions, again, skipped, "yes" if clean else "NO", load]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"{machine()}, {today()}\n")
    with tempfile.TemporaryDirectory() as d:
        rows = [once(Path(d), i) for i in range(1, args.repeat + 1)]
    print(table(["run", "first bad", "seconds", "sessions", "measured again", "skipped",
                 "checkout clean, on main", "load average at start"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
