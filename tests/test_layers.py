"""The package's layering holds: each subpackage imports only what its ``__init__`` declares,
the declarations form layers (no two subpackages may import each other), and no module
imports itself back through a circle.

The declaration is the ``May import:`` line of each subpackage's docstring (and of the public
modules'); this test reads it, so the map in CONTRIBUTING.md, the docstrings and the check
cannot drift apart. Every import counts for the layering: module-level, inside functions, and
under ``if TYPE_CHECKING:`` (a type is a dependency too). For circles, imports under
``TYPE_CHECKING`` do not count: they never run, so they cannot make one.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

import inferclock

PACKAGE = Path(inferclock.__file__).parent
NAME = "inferclock"
#: Importable by every module: the compiled core (``_core.pyi`` is its stub).
CORE = "_core"


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path) -> dict[str, Path]:
    found = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    found.update({f"{root.name}.{CORE}": root / f"{CORE}.pyi"})
    return found


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path, known: set[str]) -> list[Import]:
    """Every import of a package module in ``path``, wherever it stands."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    root = name.split(".")[0]
    found: list[Import] = []

    def target_of(dotted: str) -> str | None:
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    def visit(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.If) and _type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_only)
            return
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = name.split(".") if is_package else name.split(".")[:-1]
                here = here[: len(here) - node.level + 1]
                base = ".".join([*here, base] if base else here)
            # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod.
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        for t in targets:
            if t == root or t.startswith(root + "."):
                resolved = target_of(t)
                if resolved and resolved != name:
                    found.append(Import(name, resolved, node.lineno, type_only))
        for child in ast.iter_child_nodes(node):
            visit(child, type_only)

    visit(tree, False)
    return found


def unit_of(module: str) -> str:
    """The layering unit of a module: its subpackage (``inferclock._timing``), or the module
    itself at the top level (``inferclock.stats``), or the ``models`` package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def declared(root: Path, modules: dict[str, Path]) -> dict[str, set[str]]:
    """Each unit's ``May import:`` line: the units it may import (besides itself)."""
    out: dict[str, set[str]] = {}
    for module, path in modules.items():
        if module.count(".") != 1 or path.suffix == ".pyi":
            continue  # a unit is declared by its own top-level module or package __init__
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        m = re.search(r"^May import:(.*?)(?:\n\n|\Z)", doc, re.M | re.S)
        if m is None:
            continue
        text = re.sub(r"\(.*?\)", "", m.group(1), flags=re.S).replace("nothing", "")
        names = [n.strip(" .`\n") for n in text.split(",") if n.strip(" .`\n")]
        out[module] = {n if n.startswith(root.name + ".") else f"{root.name}.{n}" for n in names}
    return out


def violations(root: Path) -> tuple[list[str], list[str]]:
    """(imports against the declared layering, undeclared units) of the package at ``root``."""
    modules = modules_of(root)
    allowed = declared(root, modules)
    core = f"{root.name}.{CORE}"
    units = {unit_of(m) for m in modules if m not in (root.name, core)}
    missing = sorted(u for u in units if u not in allowed and not u.endswith("__init__"))
    bad = []
    for module, path in modules.items():
        if module == root.name or path.suffix == ".pyi":
            continue  # the facade hands names on lazily; it may name any module
        here = unit_of(module)
        for imp in imports_of(module, path, set(modules)):
            there = unit_of(imp.target)
            if there == here or imp.target == core or there in allowed.get(here, set()):
                continue
            kind = " (type only)" if imp.type_only else ""
            bad.append(
                f"{module}:{imp.line} imports {imp.target}{kind}: {here} may not import {there}"
            )
    return bad, missing


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def runtime_cycles(root: Path) -> list[list[str]]:
    modules = modules_of(root)
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        if module == root.name or path.suffix == ".pyi":
            continue
        for imp in imports_of(module, path, set(modules)):
            if not imp.type_only and imp.target != root.name:
                edges[module].add(imp.target)
    return cycles(edges)


def test_every_import_follows_the_declared_layering() -> None:
    bad, missing = violations(PACKAGE)
    assert missing == [], f"units without a 'May import:' line in their docstring: {missing}"
    assert bad == []


def test_the_declarations_are_layers() -> None:
    """No two units may import each other, directly or around a ring."""
    allowed = declared(PACKAGE, modules_of(PACKAGE))
    assert cycles({u: {t for t in ts if t in allowed} for u, ts in allowed.items()}) == []


def test_no_module_imports_itself_back() -> None:
    assert runtime_cycles(PACKAGE) == []


def test_contributing_maps_every_part_as_declared() -> None:
    """CONTRIBUTING.md's map has a row per part whose "may import" is the part's declaration."""
    text = (Path(__file__).resolve().parents[1] / "CONTRIBUTING.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 3:
            unit = f"{NAME}.{cells[0].strip('`').rstrip('/')}"
            rows[unit] = {f"{NAME}.{n}" for n in re.findall(r"`([\w.]+)`", cells[2])} - {
                f"{NAME}.{CORE}"
            }
    assert rows == declared(PACKAGE, modules_of(PACKAGE))


# The checks themselves, on small packages written here.


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.fixture
def layered(tmp_path: Path) -> dict[str, str]:
    return {
        "pkg/__init__.py": '"""facade"""\n',
        "pkg/_low/__init__.py": '"""Low.\n\nMay import: nothing.\n"""\n',
        "pkg/_low/a.py": "X = 1\n",
        "pkg/_high/__init__.py": '"""High.\n\nMay import: _low.\n"""\n',
        "pkg/_high/b.py": "from pkg._low.a import X\n",
    }


def test_a_clean_package_passes(tmp_path: Path, layered: dict[str, str]) -> None:
    root = write(tmp_path, layered) / "pkg"
    assert violations(root) == ([], []) and runtime_cycles(root) == []


def test_an_upward_import_in_a_function_fails(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_low/a.py"] = "def f():\n    from pkg._high import b\n    return b\n"
    bad, _ = violations(write(tmp_path, layered) / "pkg")
    assert bad == ["pkg._low.a:2 imports pkg._high.b: pkg._low may not import pkg._high"]


def test_an_upward_type_only_import_fails(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_low/a.py"] = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg._high.b import X\n"
    )
    bad, _ = violations(write(tmp_path, layered) / "pkg")
    assert bad == [
        "pkg._low.a:3 imports pkg._high.b (type only): pkg._low may not import pkg._high"
    ]


def test_a_deliberate_cycle_fails(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_high/c.py"] = "from pkg._high import b\n"
    layered["pkg/_high/b.py"] = (
        "from pkg._low.a import X\n\ndef f():\n    from pkg._high import c\n"
    )
    root = write(tmp_path, layered) / "pkg"
    assert runtime_cycles(root) == [["pkg._high.b", "pkg._high.c"]]


def test_a_type_only_circle_is_no_import_circle(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_high/c.py"] = "from pkg._high import b\n"
    layered["pkg/_high/b.py"] = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg._high.c\n"
    )
    assert runtime_cycles(write(tmp_path, layered) / "pkg") == []


def test_circular_declarations_fail(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_low/__init__.py"] = '"""Low.\n\nMay import: _high.\n"""\n'
    root = write(tmp_path, layered) / "pkg"
    allowed = declared(root, modules_of(root))
    assert cycles({u: set(ts) for u, ts in allowed.items()}) == [["pkg._high", "pkg._low"]]


def test_an_undeclared_unit_is_named(tmp_path: Path, layered: dict[str, str]) -> None:
    layered["pkg/_side/__init__.py"] = '"""No declaration."""\n'
    assert violations(write(tmp_path, layered) / "pkg")[1] == ["pkg._side"]
