"""Every public name of the extension appears in its hand-written stub."""

from __future__ import annotations

import ast
import pathlib

import inferclock
from inferclock import _core


def test_every_core_name_is_in_the_stub() -> None:
    stub = pathlib.Path(inferclock.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    declared = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} | {
        t.id
        for n in tree.body
        if isinstance(n, ast.AnnAssign)
        for t in [n.target]
        if isinstance(t, ast.Name)
    }
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert public - declared == set(), f"missing from _core.pyi: {sorted(public - declared)}"
