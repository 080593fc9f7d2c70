"""The pytest plugin loads lazily: pytest imports ``inferclock.pytest_plugin`` at every
session's start (the ``pytest11`` entry point), and a session that never asks for the fixture
(and gives no ``--inferclock-*`` option) loads nothing more of the package: not the C++ core,
not OpenVINO, not numpy. The fixture, an option, or an xdist worker's results load the rest.
``import inferclock`` itself loads no core; a core whose RPATH misses libopenvino still loads,
through the openvino package, when a module first needs it.

Each case runs a real pytest session in a fresh interpreter on a small project in
``tmp_path``; a test of that project writes ``sys.modules`` to a file as the session ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

import inferclock
from inferclock import pytest_plugin
from inferclock._tracking import pytest_session

PACKAGE = Path(inferclock.__file__).parent
REGISTERED = any(ep.value == "inferclock.pytest_plugin" for ep in entry_points(group="pytest11"))
LOAD = () if REGISTERED else ("-p", "inferclock.pytest_plugin")
#: What a session that never uses the plugin must not load: these packages and any private
#: part of inferclock's (``inferclock._core``, ``inferclock._analysis``, ...).
HEAVY = {"openvino", "numpy", "matplotlib", "pandas", "scipy", "nncf"}

MODULES = """
import json, sys


def test_last():
    with open("modules.json", "w") as f:
        json.dump(sorted(sys.modules), f)
"""

PLAIN = """
def test_plain():
    assert 1 + 1 == 2
"""

USES = """
def test_measures(inferclock):
    m = inferclock.measure(lambda: None, max_time=0.2, warmup=5)
    assert m.stats.median_ns > 0
"""


def heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if n.startswith("inferclock._") or n.split(".")[0] in HEAVY)


def session(folder: Path, *args: str, env: dict[str, str] | None = None) -> tuple[
    subprocess.CompletedProcess[str], set[str]
]:  # fmt: skip
    """A pytest session in a fresh interpreter on ``folder``; the modules loaded by its end
    (written by the project's ``test_z_modules.py``, the last test file it runs)."""
    given = {k: v for k, v in os.environ.items()
             if k not in ("INFERCLOCK_HISTORY", "PYTEST_ADDOPTS", "PYTEST_PLUGINS")}  # fmt: skip
    out = folder / "modules.json"
    out.unlink(missing_ok=True)
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *LOAD, *args],
        cwd=folder, capture_output=True, text=True, timeout=300, env={**given, **(env or {})},
    )  # fmt: skip
    return p, set(json.loads(out.read_text())) if out.exists() else set()


def project(folder: Path, *tests: str) -> Path:
    for i, text in enumerate(tests):
        (folder / f"test_{i}.py").write_text(text)
    (folder / "test_z_modules.py").write_text(MODULES)
    return folder


def test_importing_the_plugin_loads_no_core() -> None:
    code = "import inferclock.pytest_plugin, sys; print(' '.join(sorted(sys.modules)))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=120, cwd=str(Path(sys.executable).parent))  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    names = set(p.stdout.split())
    assert {"inferclock", "inferclock.pytest_plugin"} <= names
    assert heavy(names) == []


def test_a_session_that_never_uses_the_fixture_loads_only_the_plugin(tmp_path: Path) -> None:
    folder = project(tmp_path, PLAIN)
    p, used = session(folder)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "inferclock" not in p.stdout
    p, off = session(folder, "-p", "no:inferclock")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert used - off == {"inferclock", "inferclock.pytest_plugin"}
    assert heavy(used) == []


def test_a_session_that_uses_the_fixture_loads_the_core(tmp_path: Path) -> None:
    p, used = session(project(tmp_path, PLAIN, USES))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert {"inferclock._core", "numpy", "inferclock._tracking.pytest_session"} <= used
    assert "inferclock: 1 result(s) recorded" in p.stdout


def test_an_option_makes_the_session_before_any_test(tmp_path: Path) -> None:
    """An option's checks still run before the tests, fixture or not: a bad one is a usage
    error, and a good one loads the session at the start."""
    folder = project(tmp_path, PLAIN)
    p, _ = session(folder, "--inferclock-fail-above", "5x")
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout[-3000:] + p.stderr[-3000:]
    assert "--inferclock-fail-above must be a percentage" in p.stderr
    p, _ = session(folder, "--inferclock-save", "")  # given, if empty
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout[-3000:] + p.stderr[-3000:]
    assert "a baseline name is a plain file name" in p.stderr
    p, _ = session(folder, env={"INFERCLOCK_HISTORY": str(tmp_path)})  # a folder: unwritable
    assert p.returncode == pytest.ExitCode.USAGE_ERROR, p.stdout[-3000:] + p.stderr[-3000:]
    assert "$INFERCLOCK_HISTORY" in p.stderr
    p, used = session(folder, "--inferclock-storage", str(tmp_path / "store"))
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "inferclock._tracking.pytest_session" in used
    assert not (tmp_path / "store").exists()  # no results: nothing written


def test_xdist_results_reach_a_controller_that_made_no_session(tmp_path: Path) -> None:
    """With no option the controller has no session until a worker hands over results."""
    pytest.importorskip("xdist")
    folder = project(tmp_path, USES, USES.replace("test_measures", "test_again"))
    p, _ = session(folder, "-n", "2")
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "inferclock: 2 result(s) recorded" in p.stdout


def test_the_worker_output_key_is_the_sessions() -> None:
    assert pytest_plugin._WORKER_OUTPUT == pytest_session.WORKER_OUTPUT
    assert pytest_plugin.Recorder is pytest_session.Recorder


def test_a_core_whose_rpath_misses_libopenvino_loads_through_openvino(tmp_path: Path) -> None:
    """A copy of the package away from the openvino wheel (openvino installed in another site
    dir than inferclock): ``import inferclock`` loads no core, and the first module that needs
    it gets it, its libopenvino loaded by the openvino package."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "inferclock", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "import sys, inferclock\n"
        "print('inferclock._core' in sys.modules)\n"
        "from inferclock._common.errors import ConfigError\n"
        "print(sys.modules['inferclock._core'].__file__, ConfigError.__module__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_LIBRARY_PATH")}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=site, env={**env, "PYTHONPATH": str(site)})  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    before, after = p.stdout.splitlines()
    core, module = after.split()
    assert before == "False" and module == "inferclock._core"
    assert Path(core).parent == site / "inferclock"
