"""What each part of the package imports: a worker timing one cell loads no plotting,
comparison, pandas or NNCF; no module of the package goes through the package __init__."""

from __future__ import annotations

import ast
import importlib
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from unittest import mock

import pytest

import inferclock
from inferclock._workers.run import prepare

PACKAGE = Path(inferclock.__file__).parent
HEAVY = (
    "inferclock._render.report",
    "inferclock._analysis.compare",
    "matplotlib",
    "pandas",
    "nncf",
)


def imported_by(code: str) -> set[str]:
    """Modules a fresh interpreter imports to run ``code`` (python -X importtime)."""
    p = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    names = set()
    for line in p.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip())
    assert "inferclock" in names, "importtime output not understood"
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize(
    "module", ["inferclock._workers.worker", "inferclock._timing.engine", "inferclock"]
)
def test_worker_modules_import_nothing_heavy(module: str) -> None:
    assert heavy(imported_by(f"import {module}")) == []


def test_a_worker_timing_a_cell_imports_nothing_heavy(matmul_model: Path, tmp_path: Path) -> None:
    spec = prepare(str(matmul_model), iterations=5, warmup=1, workdir=str(tmp_path))
    (tmp_path / "spec.pickle").write_bytes(pickle.dumps(spec))
    code = textwrap.dedent(f"""
        import pickle, socket, sys
        from inferclock._workers import worker as _worker
        mine, theirs = socket.socketpair()
        _worker.main([{str(tmp_path / "spec.pickle")!r}, {str(tmp_path / "out.pickle")!r}, "1",
                      str(theirs.fileno())])
        outcome = pickle.load(open({str(tmp_path / "out.pickle")!r}, "rb"))
        assert outcome["result"].n == 5, outcome
        sys.stderr.flush()
        import os; os._exit(0)  # before `mine` closes: the worker would take that as our death
    """)
    names = imported_by(code)
    assert "inferclock._timing.engine" in names and heavy(names) == []


def test_the_check_sees_a_heavy_import() -> None:
    assert heavy(imported_by("import inferclock._analysis.compare")) == [
        "inferclock._analysis.compare"
    ]


def test_no_module_imports_the_package_init() -> None:
    """`import inferclock` or `from inferclock import <name that is not a submodule>` inside
    the package would pull the facade (and whatever it names) into every importer."""
    submodules = (
        {"_core"}
        | {p.stem for p in PACKAGE.glob("*.py")}
        | {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    )
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == PACKAGE:
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                bad += [
                    f"{path.name}: import {a.name}" for a in node.names if a.name == "inferclock"
                ]
            elif isinstance(node, ast.ImportFrom):
                if node.module == "inferclock" or (
                    node.level == 1 and path.parent == PACKAGE and not node.module
                ):
                    bad += [
                        f"{path.name}: from inferclock import {a.name}"
                        for a in node.names
                        if a.name not in submodules
                    ]
    assert bad == []


def test_the_facade_names_resolve_and_type_checkers_see_them() -> None:
    for name in inferclock.__all__:
        assert getattr(inferclock, name) is not None, name
    assert inferclock.compare.__name__ == "compare", "the function, not the module"
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    seen = {
        a.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module != "__future__"
        for a in node.names
        if a.asname == a.name  # an explicit re-export
    } | {
        a.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "inferclock"
        for a in node.names
    }
    assert seen >= set(inferclock.__all__) - {"__version__"}


def test_error_classes_are_imported_from_one_module() -> None:
    """``_common.errors`` is where every error class is taken from (it adds the Python-only
    ones and makes all of them cross a process boundary as themselves); only it imports them
    from the C++ core."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "_common" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module == "inferclock._core":
                bad += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names
                        if a.name.endswith("Error")]  # fmt: skip
    assert bad == []


@pytest.mark.parametrize("name", ["stats", "models", "pytest_plugin"])
def test_a_public_module_is_a_module(name: str) -> None:
    module = importlib.import_module(f"inferclock.{name}")
    assert isinstance(module, types.ModuleType) and module.__name__ == f"inferclock.{name}"
    if name != "pytest_plugin":  # the plugin is no facade name: pytest loads it by path
        assert getattr(inferclock, name) is module
    assert sys.modules[f"inferclock.{name}"] is module


@pytest.mark.parametrize(
    "function", ["compare", "history", "profile", "publish", "report", "sweep", "tune"]
)
def test_a_public_function_is_a_function_and_its_module_a_module(function: str) -> None:
    """``ic.compare`` is the function; the module that defines it is a module of another
    name, reachable by its dotted path, and the package's class is the plain module type."""
    value = getattr(inferclock, function)
    assert isinstance(value, types.FunctionType) and value.__name__ == function
    module = sys.modules[value.__module__]
    assert isinstance(module, types.ModuleType) and getattr(module, function) is value
    assert type(inferclock) is types.ModuleType


def test_a_dotted_path_can_be_patched(matmul_model: Path) -> None:
    """``mock.patch("inferclock.<module>.<name>")`` reaches the name the code calls."""
    from inferclock._analysis import compare as compare_module

    real = compare_module._as_table
    with mock.patch("inferclock._analysis.compare._as_table", side_effect=RuntimeError("patched")):
        with pytest.raises(RuntimeError, match="patched"):
            inferclock.compare(str(matmul_model), str(matmul_model))
    assert compare_module._as_table is real
    with mock.patch("inferclock._workers.run.execute", side_effect=RuntimeError("timed")) as fake:
        with pytest.raises(RuntimeError, match="timed"):
            inferclock.run(str(matmul_model), iterations=2, warmup=0)
    assert fake.call_count == 1


def unsafe_path_env() -> dict[str, str]:
    """The environment without conftest's PYTHONSAFEPATH: the working directory first on
    sys.path again, as a user's shell has it."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONSAFEPATH"}


def test_a_checkout_without_a_build_hands_over_to_the_install(tmp_path: Path) -> None:
    """``python -m pytest`` and ``python -c`` put the working directory first on sys.path, so
    in a checkout the source tree (no compiled core) shadows the install: it hands over to
    the installed package instead of failing on ``_core``."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        PACKAGE, checkout / "inferclock", ignore=shutil.ignore_patterns("_core.*.so", "__pycache__")
    )
    code = (
        "import inferclock, inferclock.pytest_plugin, inferclock._core as core\n"
        "print(inferclock.__file__); print(inferclock.pytest_plugin.__file__)\n"
        "print(type(inferclock.compare).__name__)"
    )
    p = subprocess.run(
        [sys.executable, "-c", code],
        cwd=checkout, capture_output=True, text=True, timeout=120, env=unsafe_path_env(),
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    init, plugin, kind = p.stdout.split()
    assert Path(init).resolve() == (PACKAGE / "__init__.py").resolve()
    assert Path(plugin).resolve().parent == PACKAGE.resolve() and kind == "function"


def test_python_dash_m_pytest_runs_in_the_checkout() -> None:
    root = Path(__file__).resolve().parents[1]
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/test_layers.py", "-k", "clean_package"],
        cwd=root, capture_output=True, text=True, timeout=300, env=unsafe_path_env(),
    )  # fmt: skip
    assert p.returncode == 0 and "1 passed" in p.stdout, p.stdout[-3000:] + p.stderr[-3000:]
