"""What each part of the package imports: a worker timing one cell loads no plotting,
comparison, pandas or NNCF; no module of the package goes through the package __init__."""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

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
    assert "inferclock._core" in names, "importtime output not understood"
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
