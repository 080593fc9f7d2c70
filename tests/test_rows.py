"""The result-row schema (``inferclock._timing.schema``) is the one declaration of a row's
fields: writers are checked against it before a row is appended, readers go through its
accessor (a name it lacks is an error, at run time and by a scan of the package's source), and
it equals what a real run's rows hold, field for field and in order."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import inferclock as ic
from inferclock._analysis import cell as _cell
from inferclock._analysis.table import ResultTable
from inferclock._common.errors import RowSchemaError
from inferclock._timing import options as _options, rows as _rows, schema as _schema
from inferclock._tracking import pytest_store

PACKAGE = Path(ic.__file__).parent

# -- the static scan ------------------------------------------------------------------------

#: Names of variables that hold result rows, as the package names them: ``row``, ``r``,
#: ``rs[0]``, ``rows_of[k][0]``, ``first`` (a cell's first row), ``failed`` (an error row).
ROW_LIKE = re.compile(r"^(r|row|rows|rs|first|failed|now|base|\w+_rows?|rows?_\w+)$")
#: The accessor's functions whose string arguments are field names.
ACCESSOR = {"get": 1, "at": 1, "name": 0, "names": None}
#: Layers below the schema, which cannot import it (``_common`` owns the file format: its
#: ``kind``/``key`` checks are on lines, not rows).
BELOW = ("_common/",)
#: Variables named like rows that hold something else: (module, variable) -> what it holds.
NOT_ROWS = {
    ("_timing/serve.py", "r"): "the C++ engine's serve() result",
}


def _base_name(node: ast.expr) -> str | None:
    """The variable a subscript or .get is on, through index subscripts (``rows[0]``) and
    attributes (``self.rows``)."""
    while isinstance(node, ast.Subscript) and not (
        isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)
    ):
        node = node.value
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def scan(source: str, module: str, fields: set[str]) -> Iterator[str]:
    """Problems in one module's source: an accessor call with an undeclared literal name, and
    a literal field read on a row that bypasses the accessor."""
    for node in ast.walk(ast.parse(source)):
        where = f"{module}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func, owner = node.func.attr, node.func.value
            if isinstance(owner, ast.Name) and owner.id.endswith("schema") and func in ACCESSOR:
                pos = ACCESSOR[func]
                args = node.args if pos is None else node.args[pos : pos + 1]
                for name in filter(None, map(_literal, args)):
                    if name not in fields:
                        yield f"{where}: {owner.id}.{func}({name!r}): not a declared row field"
                continue
            name = _literal(node.args[0]) if node.args else None
            if func in ("get", "pop", "setdefault") and name in fields:
                base = _base_name(owner)
                if base and ROW_LIKE.match(base) and (module, base) not in NOT_ROWS:
                    yield f"{where}: {base}.{func}({name!r}) bypasses the row accessor"
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            name = _literal(node.slice)
            base = _base_name(node.value)
            if name in fields and base and ROW_LIKE.match(base) and (module, base) not in NOT_ROWS:
                yield f"{where}: {base}[{name!r}] bypasses the row accessor"


def package_problems() -> list[str]:
    fields = set(_schema.FIELDS)
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        if module.startswith(BELOW):
            continue
        out += scan(path.read_text(encoding="utf-8"), module, fields)
    return out


def test_no_reader_bypasses_the_accessor_or_asks_for_an_undeclared_field() -> None:
    assert package_problems() == []


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ('x = _schema.get(row, "precision_requestd")', "'precision_requestd'): not a declared"),
        ('x = schema.at(r, "keyy")', "'keyy'): not a declared"),
        ('x = _schema.names("n", "latency_p97_ns")', "'latency_p97_ns'): not a declared"),
        ('x = row.get("precision_requested")', "row.get('precision_requested') bypasses"),
        ('x = rows[0]["error"]', "rows['error'] bypasses"),
        ('x = self.rows[0].get("host")', "rows.get('host') bypasses"),
        ('x = first["model"]', "first['model'] bypasses"),
        ('x = rows_of[k][0].get("precision_mix")', "rows_of.get('precision_mix') bypasses"),
    ],
)
def test_the_scan_finds_a_bypass_and_an_undeclared_name(code: str, problem: str) -> None:
    (found,) = scan(code, "m.py", set(_schema.FIELDS))
    assert problem in found


@pytest.mark.parametrize(
    "code",
    [
        'x = _schema.get(row, "precision_requested")',
        'x = row.get("percentile_latency_ns")',  # not a row field: a nested dict's key
        'x = _schema.get(row, "server")["qps"]',  # a key of the row's server dict
        'x = done.get("error")',  # not named like a row
        'row["multimodal"] = True',  # a write: the writer's check sees it
    ],
)
def test_the_scan_leaves_other_code_alone(code: str) -> None:
    assert list(scan(code, "m.py", set(_schema.FIELDS))) == []


# -- readers at run time ----------------------------------------------------------------------


def test_the_accessor_refuses_an_undeclared_field_by_name() -> None:
    row = {"key": "k", "precision_requested": "f32"}
    assert _schema.get(row, "precision_requested") == "f32"
    assert _schema.get(row, "error") is None and _schema.get(row, "process", "-") == "-"
    assert _schema.at(row, "key") == "k"
    with pytest.raises(KeyError):
        _schema.at(row, "error")  # declared, absent: a subscript's KeyError
    for ask in (_schema.get, _schema.at):
        with pytest.raises(RowSchemaError, match=r"'precision_requestd'.*'precision_requested'"):
            ask(row, "precision_requestd")
    with pytest.raises(RowSchemaError, match="'throughput'"):
        _schema.name("throughput")
    assert _schema.declared("latency_p99_ns") and not _schema.declared("latency_p97_ns")


def test_a_reader_asking_for_an_undeclared_field_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real reader (the cell's median, as summaries and compare read it) with one of its
    field names misspelt fails at once instead of reading None."""
    row = {"key": "k", "latency_median_ns": 100.0, "latency_ci95_low_ns": 90.0,
           "latency_ci95_high_ns": 110.0, "latency_ci_confidence": 0.95}  # fmt: skip
    assert _cell.combine_rows([row], "median") is not None
    monkeypatch.setattr(
        _cell, "_MEDIAN", ("latency_median_ns", "latency_ci95_lo_ns", "latency_ci95_high_ns")
    )
    with pytest.raises(RowSchemaError, match="'latency_ci95_lo_ns'"):
        _cell.combine_rows([row], "median")


def test_a_percentile_with_no_column_reads_as_missing() -> None:
    """A metric's fixed column is made from its name; one the schema lacks (p97) is no
    value, as before, not an error."""
    row = {"key": "k", "latency_p99_ns": 5.0}
    assert _cell.run_of(row, "p99", 0) is not None
    assert _cell.run_of(row, "p97", 0) is None


# -- writers ----------------------------------------------------------------------------------


def test_check_refuses_an_undeclared_field_and_a_wrong_type() -> None:
    _schema.check({"kind": "row", "key": "k", "n": 5, "latency_median_ns": 3}, "w")
    with pytest.raises(RowSchemaError, match=r"^my writer writes a row with field 'speed'"):
        _schema.check({"key": "k", "speed": 1.0}, "my writer")
    with pytest.raises(RowSchemaError, match=r"'n' = 'five' \(str\).* int \| None"):
        _schema.check({"key": "k", "n": "five"}, "w")
    with pytest.raises(RowSchemaError, match="'started_at' = None"):
        _schema.check({"key": "k", "started_at": None}, "w")  # not nullable
    with pytest.raises(RowSchemaError, match="'interrupted' = 1"):
        _schema.check({"key": "k", "interrupted": 1}, "w")  # an int is no bool


def test_a_sweep_row_with_an_undeclared_field_is_not_written(
    matmul_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep's writer checks each row before appending it: a field the schema lacks stops
    the sweep with an error naming the field and the writer, and no such row reaches the
    file."""
    made = _rows.sweep_row

    def with_extra(*args: object, **kwargs: object) -> dict[str, object]:
        return {**made(*args, **kwargs), "speed": 1.0}  # type: ignore[arg-type]

    monkeypatch.setattr(_rows, "sweep_row", with_extra)
    out = tmp_path / "s.jsonl"
    with pytest.raises(RowSchemaError, match=r"^ic\.sweep writes a row with field 'speed'"):
        ic.sweep(matmul_model, batch_sizes=[1], processes=1, iterations=5, warmup=1, out=out,
                 quiet=True)  # fmt: skip
    lines = out.read_text().splitlines() if out.exists() else []
    assert not any("speed" in json.loads(line) for line in lines)


def test_the_pytest_plugin_refuses_an_undeclared_field(tmp_path: Path) -> None:
    row = {"key": "t::x", "model": "x", "started_at": "now", "finished_at": "now",
           "latency_median_ns": 5.0, "fast": True}  # fmt: skip
    path = tmp_path / "base.jsonl"
    with pytest.raises(RowSchemaError, match="the pytest plugin writes a row with field 'fast'"):
        pytest_store.save(path, {"source": "pytest"}, [row])
    assert not path.exists()


# -- the schema is what the writers write ------------------------------------------------------


def test_the_schema_is_what_a_real_run_writes(matmul_model: Path) -> None:
    result = ic.run(str(matmul_model), iterations=5, warmup=1)
    assert tuple(result.measured()) == _schema.MEASURED_FIELDS
    ok = _rows.result_row(result)
    assert tuple(ok) == _schema.RUN_FIELDS
    failed = _rows.error_row("m", None, result.options, "boom", "ModelError", "2026-01-01")
    assert tuple(failed) == _schema.RUN_FIELDS
    sweep = _rows.sweep_row("k", ok, 0, 0, ["w"])
    assert tuple(sweep) == ("key", *_schema.RUN_FIELDS, *_schema.SWEEP_FIELDS[1:])
    for row in (ok, failed, sweep, _rows.sweep_row("k", failed, 1, 2, None)):
        _schema.check(row, "test")  # every value of the type declared
    assert tuple(result.to_dict(samples=True)) == (*_schema.RUN_FIELDS, "latencies_ns",
                                                   "warmup_ns")  # fmt: skip
    assert set(json.loads(result.to_json())) == {*_schema.RUN_FIELDS, "env"}
    # Every declared field is one some writer writes: the sweep's rows, ``kind`` (the file
    # writer's), the tune's, timeit's (tests/test_timeit.py) and the exports.
    written = {"kind", *sweep, *_schema.TUNE_FIELDS, *_schema.TIMEIT_FIELDS, *_schema.EXPORT_FIELDS}
    assert written == set(_schema.FIELDS)


def test_the_option_fields_follow_the_option_declaration() -> None:
    assert _schema.OPTION_FIELDS == tuple(o.row for o in _options.options())
    f = _schema.FIELDS
    assert f["batch_size"].accepts(8) and not f["batch_size"].accepts("8")
    assert f["cpus_requested"].accepts("0-3") and not f["cpus_requested"].accepts([0, 1])
    assert f["percentiles"].accepts([50.0, 99.0]) and f["user_inputs"].accepts(2)
    assert all(fd.nullable for fd in _schema.OPTIONS)


def test_a_results_file_reads_back_through_the_schema(matmul_model: Path, tmp_path: Path) -> None:
    """A sweep's file loads and summarizes with every read going through the accessor."""
    out = tmp_path / "s.jsonl"
    ic.sweep(matmul_model, batch_sizes=[1], processes=1, iterations=5, warmup=1, out=out,
             quiet=True)  # fmt: skip
    t = ResultTable.load(out)
    (row,) = t.rows
    assert set(row) <= set(_schema.FIELDS) and row["kind"] == "row"
    assert [s.key for s in t.summary()] == [row["key"]]
