"""``inferclock bisect`` on synthetic git repositories of 8 commits made with ``git init``.

The issue's check (``test_bisect_names_the_commit_of_a_30_percent_step``): a Python function
whose arithmetic work grows by 30% at commit 5, timed by the pytest plugin's fixture in fresh
worker processes at each commit; bisect must name commit 5 and leave the checkout on its
starting branch, clean. The other tests use ``tests/bisect_rows.py`` as the measuring
command, whose figures the checkout sets (``speed.txt``), so a failing build, an
inconclusive commit, a hang and a bad argument each happen where the test puts them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from procs import wait_for

from inferclock._common.errors import ConfigError
from inferclock._tracking.bisect import bisect
from inferclock._tracking.history import History

ROWS = str(Path(__file__).parent / "bisect_rows.py")
REGISTERED = any(ep.value == "inferclock.pytest_plugin" for ep in entry_points(group="pytest11"))
#: Fixed dates: the same commits (hashes) in every run of the tests.
DATES = {"GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"}


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **DATES, "LC_ALL": "C"}
    p = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env,
                       timeout=60, check=True)  # fmt: skip
    return p.stdout.strip()


def make_repo(path: Path, files: dict[int, dict[str, str]], common: dict[str, str]) -> list[str]:
    """A repository of 8 commits on ``main``: ``common`` files in the first, then commit k
    writes ``files[k]`` (and a line of its own); the hashes, commit 1 first."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "bisect@example.com")
    git(path, "config", "user.name", "bisect test")
    for name, text in {".gitignore": "__pycache__/\n.pytest_cache/\n", **common}.items():
        (path / name).write_text(text)
    commits = []
    for k in range(1, 9):
        for name, text in files.get(k, {}).items():
            (path / name).write_text(text)
        (path / "log.txt").write_text(f"commit {k}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"c{k}")
        commits.append(git(path, "rev-parse", "HEAD"))
    return commits


def where(repo: Path) -> tuple[str, str, bool]:
    """(branch checked out, `git status --porcelain` with untracked files, a bisect on)."""
    branch = git(repo, "symbolic-ref", "--short", "HEAD")
    status = git(repo, "status", "--porcelain", "--untracked-files=all")
    bisecting = (repo / ".git" / "BISECT_START").exists()
    return branch, status, bisecting


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inferclock", *args], capture_output=True,
                          text=True, timeout=600)  # fmt: skip


# -- the check: a real 30% step, timed by the pytest plugin ------------------------------

WORK = """N = {n}


def work():
    s = 0
    for i in range(N):
        s += i * i
    return s
"""

SPEED_TEST = """import work


def test_work(inferclock):
    inferclock.measure(work.work, max_time=0.5, processes=5)
"""


def test_bisect_names_the_commit_of_a_30_percent_step(tmp_path: Path) -> None:
    # About 15 us of arithmetic per call at commits 1-4 and 30% more from commit 5 on; the
    # plugin times it in 5 fresh processes per session, and bisect measures a commit again
    # (up to --runs) while its interval is too wide to judge.
    repo = tmp_path / "repo"
    commits = make_repo(
        repo,
        {1: {"work.py": WORK.format(n=400)}, 5: {"work.py": WORK.format(n=520)}},
        {"test_speed.py": SPEED_TEST, "pytest.ini": "[pytest]\n"},
    )
    git(repo, "checkout", "-q", "-b", "topic")  # bisect must come back to this branch
    history = tmp_path / "bisect.db"
    plugin = () if REGISTERED else ("-p", "inferclock.pytest_plugin")
    r = cli(
        "bisect", commits[0], "main", "--repo", str(repo), "--runs", "8",
        "--history", str(history), "--",
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *plugin, "test_speed.py",
    )  # fmt: skip
    print(r.stdout)  # the search, step by step (pytest -rP shows it)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"first bad commit: {commits[4]} 'c5'" in r.stdout, r.stdout
    assert "checkout returned to topic" in r.stdout
    assert where(repo) == ("topic", "", False)
    # Every commit measured is in the history under its own commit, the first bad one too.
    with History(history, read_only=True) as h:
        stored = set(h.query()["commit"])
    assert {commits[0], commits[7], commits[4]} <= stored
    assert stored <= set(commits)


# -- the search's paths, on rows the checkout sets ---------------------------------------------


def rows_repo(tmp_path: Path, speeds: dict[int, str]) -> tuple[Path, list[str]]:
    """Commits 1-4 at 1 ms, 5-8 at 1.3 ms (``speeds`` overrides a commit's speed.txt)."""
    files = {k: {"speed.txt": speeds.get(k, "1.0" if k < 5 else "1.3") + "\n"} for k in range(1, 9)}
    repo = tmp_path / "repo"
    return repo, make_repo(repo, files, {})


def test_a_commit_whose_command_fails_is_skipped(tmp_path: Path) -> None:
    repo, commits = rows_repo(tmp_path, {6: "1.3 fail"})
    lines: list[str] = []
    history = tmp_path / "h.db"
    r = bisect(commits[0], commits[7], [sys.executable, ROWS, "{out}"], repo=repo,
               history=history, say=lines.append)  # fmt: skip
    assert r.first_bad == commits[4], lines
    verdicts = {t.commit: (t.verdict, t.reason) for t in r.tested}
    assert verdicts[commits[5]][0] == "skip"
    assert "exited with status 3: build failed" in verdicts[commits[5]][1]
    assert [c.state for c in r.cells] == ["slower"]
    assert r.cells[0].ratio == pytest.approx(1.3, rel=0.02)
    assert r.cells[0].low is not None and r.cells[0].low > 1.14
    assert where(repo) == ("main", "", False)
    with History(history, read_only=True) as h:
        stored = set(h.query()["commit"])
    assert stored == {t.commit for t in r.tested if t.verdict != "skip"}


def test_an_inconclusive_commit_is_measured_again_then_skipped(tmp_path: Path) -> None:
    # Commit 4's processes spread by 15% each (0.85, 1.0, 1.15 ms): no number of runs makes its
    # interval fit within the midpoint threshold (14%), so it is measured --runs times, then
    # skipped, and the first bad commit is one of commits 4 and 5.
    repo, commits = rows_repo(tmp_path, {4: "1.0 0.02 spread=0.15"})
    lines: list[str] = []
    r = bisect(commits[0], commits[7], [sys.executable, ROWS, "{out}"], repo=repo, runs=2,
               say=lines.append)  # fmt: skip
    (t4,) = [t for t in r.tested if t.commit == commits[3]]
    assert (t4.verdict, t4.runs) == ("skip", 2), lines
    assert t4.reason.startswith("still undecided after 2 rounds")
    assert f"  {commits[3][:12]} measured again" in lines, lines
    assert r.first_bad is None and set(r.candidates) == {commits[3], commits[4]}
    assert where(repo) == ("main", "", False)


def test_good_is_measured_again_where_its_interval_is_the_wider(tmp_path: Path) -> None:
    # GOOD's first run has processes 15% apart (a run disturbed by load): BAD against it is
    # inconclusive, and GOOD, the wider side, is measured again; pooled, its clean second run
    # outweighs the first, and the search goes on to commit 5.
    repo, commits = rows_repo(tmp_path, {1: "1.0 0.02 spread1=0.15"})
    lines: list[str] = []
    r = bisect(commits[0], commits[7], [sys.executable, ROWS, "{out}"], repo=repo,
               say=lines.append)  # fmt: skip
    assert any(x.startswith("BAD against GOOD") and "inconclusive" in x for x in lines), lines
    assert f"  GOOD {commits[0][:12]} measured again (its interval is the wider)" in lines
    assert r.first_bad == commits[4], lines
    assert r.tested[0].runs == 2 and r.cells[0].low is not None and r.cells[0].low > 1.14
    assert where(repo) == ("main", "", False)


def test_nothing_to_bisect_when_bad_is_not_slower(tmp_path: Path) -> None:
    repo, commits = rows_repo(tmp_path, {k: "1.0" for k in range(1, 9)})
    r = cli("bisect", commits[0], commits[7], "--repo", str(repo), "--", sys.executable, ROWS,
            "{out}")  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "nothing to bisect" in r.stdout
    assert where(repo) == ("main", "", False)


def test_the_command_failing_at_good_is_an_error_and_the_checkout_is_restored(
    tmp_path: Path,
) -> None:
    repo, commits = rows_repo(tmp_path, {1: "1.0 fail"})
    r = cli("bisect", commits[0], "main", "--repo", str(repo), "--", sys.executable, ROWS, "{out}")
    assert r.returncode == 2
    assert r.stderr.startswith("error: the command failed at GOOD"), r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert where(repo) == ("main", "", False)


# -- the checkout restored on errors, Ctrl-C and SIGTERM ---------------------------------------


def test_an_exception_mid_search_restores_the_checkout(tmp_path: Path) -> None:
    repo, commits = rows_repo(tmp_path, {})
    git(repo, "checkout", "-q", "-b", "topic", commits[6])  # start on a branch, not at BAD

    def say(line: str) -> None:
        if line.startswith("[1]"):  # the first commit git bisect picked has been judged
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bisect(commits[0], commits[7], [sys.executable, ROWS, "{out}"], repo=repo, say=say)
    assert where(repo) == ("topic", "", False)
    assert git(repo, "rev-parse", "HEAD") == commits[6]


def test_a_command_that_changes_tracked_files_stops_and_the_checkout_is_restored(
    tmp_path: Path,
) -> None:
    repo, commits = rows_repo(tmp_path, {})
    r = cli("bisect", commits[0], commits[7], "--repo", str(repo), "--", "sh", "-c",
            f"echo built >> log.txt; {sys.executable} {ROWS} {{out}}")  # fmt: skip
    assert r.returncode == 2, r.stdout + r.stderr
    assert "error: the command changed tracked files at" in r.stderr and "(log.txt)" in r.stderr
    assert where(repo) == ("main", "", False)
    assert (repo / "log.txt").read_text() == "commit 8\n"


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_command_runs_restores_the_checkout_and_stops_the_command(
    tmp_path: Path, sig: int, status: int
) -> None:
    repo, commits = rows_repo(tmp_path, {4: "1.0 hang"})
    event = tmp_path / "hang.pid"
    p = subprocess.Popen(
        [sys.executable, "-m", "inferclock", "bisect", commits[0], commits[7], "--repo",
         str(repo), "--", sys.executable, ROWS, "{out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "BISECT_HANG_PID": str(event)},
    )  # fmt: skip
    try:
        wait_for(lambda: event.exists() and event.read_text(), "the command to hang at commit 4")
        hung = int(event.read_text())
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == status, err
    assert "Traceback" not in err
    assert where(repo) == ("main", "", False)
    status_file = Path(f"/proc/{hung}/status")
    assert not status_file.exists() or "zombie" in status_file.read_text()


# -- bad input: one line, exit 2, nothing checked out ------------------------------------------


def test_bad_inputs_are_one_line_errors_and_leave_the_checkout_alone(tmp_path: Path) -> None:
    repo, commits = rows_repo(tmp_path, {})
    good, bad = commits[0], commits[7]
    cmd = ("--", sys.executable, ROWS, "{out}")
    not_repo = tmp_path / "plain"
    not_repo.mkdir()
    at = (good, bad, "--repo", str(repo))
    cases = {
        "no command": (at, "no command"),
        "empty command": ((*at, "--", ""), "no command"),
        "not a repository": ((good, bad, "--repo", str(not_repo), *cmd), "not inside a git"),
        "no such folder": ((good, bad, "--repo", str(tmp_path / "no"), *cmd), "not a directory"),
        "unknown commit": (("nosuch", bad, "--repo", str(repo), *cmd), "GOOD 'nosuch' is not a"),
        "an option as a commit": (
            ("--repo", str(repo), good, "--", "-x", *cmd[1:]),
            "BAD must name a commit",
        ),
        "good after bad": ((bad, good, "--repo", str(repo), *cmd), "is not an ancestor of BAD"),
        "the same commit": ((good, good, "--repo", str(repo), *cmd), "the same commit"),
        "program not found": ((*at, "--", "no-such-program"), "not found on PATH"),
        "runs 0": ((*at, "--runs", "0", *cmd), "--runs must be an integer in 1..20"),
        "runs text": ((*at, "--runs", "x", *cmd), "--runs must be a whole number"),
        "threshold": ((*at, "--threshold", "lots", *cmd), "--threshold must be"),
        "timeout": ((*at, "--timeout", "-1", *cmd), "--timeout must be"),
        "metric": ((*at, "--metric", "p100", *cmd), "metric must be"),
        "history is a folder": ((*at, "--history", str(tmp_path), *cmd), "history"),
    }
    for name, (args, want) in cases.items():
        r = cli("bisect", *args)
        assert r.returncode == 2, (name, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and want in r.stderr, (name, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, name
        assert where(repo) == ("main", "", False), name
    r = cli("bisect", *at, "--bogus", *cmd)  # argparse's own usage error, exit 2
    assert r.returncode == 2 and "error: unrecognized arguments: --bogus" in r.stderr, r.stderr
    # A dirty tree and a bisect under way are refused, and left as they were.
    (repo / "speed.txt").write_text("2.0\n")
    r = cli("bisect", good, bad, "--repo", str(repo), *cmd)
    assert r.returncode == 2 and "uncommitted changes (speed.txt)" in r.stderr, r.stderr
    assert (repo / "speed.txt").read_text() == "2.0\n"
    git(repo, "checkout", "--", "speed.txt")
    git(repo, "bisect", "start")
    r = cli("bisect", good, bad, "--repo", str(repo), *cmd)
    assert r.returncode == 2 and "already under way" in r.stderr, r.stderr
    assert (repo / ".git" / "BISECT_START").exists()


def test_the_api_checks_its_arguments(tmp_path: Path) -> None:
    repo, commits = rows_repo(tmp_path, {})
    ok = [sys.executable, ROWS, "{out}"]
    for kwargs, err in [
        ({"command": "python x.py"}, TypeError),
        ({"command": []}, ConfigError),
        ({"runs": True}, TypeError),
        ({"runs": 21}, ConfigError),
        ({"threshold": -0.1}, ConfigError),
        ({"timeout": float("nan")}, ConfigError),
        ({"key": ""}, ConfigError),
        ({"key": 3}, TypeError),
    ]:
        args = {"command": ok, "repo": repo, **kwargs}
        with pytest.raises(err):
            bisect(commits[0], commits[7], **args)  # type: ignore[arg-type]
    assert where(repo) == ("main", "", False)


def test_only_bisect_takes_a_command_after_its_options() -> None:
    # bisect takes what follows '--' after its options; any other command's leftovers are
    # argparse's usage error, as before.
    r = cli("info", "--json", "--", "echo")
    assert r.returncode == 2 and "unrecognized arguments: -- echo" in r.stderr, r.stderr


def test_inferclock_run_json_is_read_as_a_row_keyed_as_a_sweep_keys_it(
    matmul_model: Path, tmp_path: Path
) -> None:
    # `inferclock run MODEL --json {out}` writes one JSON object, not a results file: the
    # command layer reads it as one row, keyed as a sweep keys the cell.
    from inferclock._sweeps.grid import cell_key
    from inferclock._tracking.bisect_command import check_command, run_once

    argv = check_command([sys.executable, "-m", "inferclock", "run", str(matmul_model),
                          "--iterations", "30", "--processes", "1", "--json", "{out}"])  # fmt: skip
    got = run_once(argv, tmp_path, tmp_path, "0" * 40, timeout=300)
    assert got.failure is None
    (row,) = got.rows
    assert row["key"] == cell_key(row["model"], "CPU", "f32", 1, "latency", None)
    assert row["n"] == 30 and "env" not in row
    # The same key as the sweep's row of that cell.
    out = tmp_path / "sweep.jsonl"
    p = cli("sweep", str(matmul_model), "--iterations", "30", "--processes", "1", "-o", str(out))
    assert p.returncode == 0, p.stderr
    from inferclock._common.jsonl import load_file

    assert [r["key"] for r in load_file(out).rows] == [row["key"]]


def test_history_add_takes_the_commit_the_rows_measured(tmp_path: Path) -> None:
    from synthetic import lognormal_ns, make_row

    from inferclock._common.errors import ConfigTypeError

    row = make_row("m", "f32", 1, lognormal_ns(1.0, n=50))
    with History(tmp_path / "h.db") as h:
        assert h.add([row], commit="a" * 40) == 1
        assert list(h.query()["commit"]) == ["a" * 40]
        with pytest.raises(ConfigError, match="commit must be a commit hash"):
            h.add([row], commit=" ")
        with pytest.raises(ConfigTypeError, match="commit must be a commit hash"):
            h.add([row], commit=3)  # type: ignore[arg-type]
