"""With a model cache (a sweep's default), every process of a cell times the executable
imported from the cache: a cold compile is imported again before timing, so a cell never mixes
a fresh compile with an imported one (they can run at different speeds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import inferclock as ic
from inferclock._timing import engine as _engine


def _count(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []
    new_engine = _engine._new_engine

    def counted(spec: Any) -> Any:
        e = new_engine(spec)
        made.append(str(e.init_times["cache"]))
        return e

    monkeypatch.setattr(_engine, "_new_engine", counted)
    return made


def test_a_cold_compile_is_timed_as_imported(
    matmul_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _count(monkeypatch)
    kw: dict[str, Any] = dict(iterations=20, warmup=2, cache_dir=str(tmp_path / "cache"))
    first = _engine.execute(ic.prepare(matmul_model, **kw))
    assert made == ["cold", "hot"] and first.init.cache == "cold"  # start-up: the cold one
    made.clear()
    second = _engine.execute(ic.prepare(matmul_model, **kw))
    assert made == ["hot"] and second.init.cache == "hot"
    made.clear()
    _engine.execute(ic.prepare(matmul_model, iterations=20, warmup=2))  # no cache: compiled once
    assert len(made) == 1
