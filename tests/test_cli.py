"""The inferclock command line, end to end in subprocesses on small models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import openvino as ov
import pytest
from openvino import opset13 as ops
from synthetic import HEADER, make_row, write_table

from inferclock.__main__ import build_parser, main
from inferclock._analysis.table import ResultWriter, load_file


def save_matmul(path: Path, n: int = 64) -> Path:
    x = ops.parameter([-1, n], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32))
    ov.save_model(
        ov.Model([ops.matmul(x, w, False, False)], [x], "mm"), str(path), compress_to_fp16=False
    )
    return path


def save_convnet(path: Path) -> Path:
    x = ops.parameter([-1, 3, -1, -1], np.float32, name="img")  # dynamic H, W: needs --shape
    w = ops.constant(np.random.default_rng(1).standard_normal((8, 3, 3, 3)).astype(np.float32))
    c = ops.relu(ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1]))
    y = ops.reduce_mean(c, ops.constant(np.array([2, 3], np.int64)), False)
    ov.save_model(ov.Model([y], [x], "conv"), str(path), compress_to_fp16=False)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli-models")
    return {"mm": save_matmul(d / "mm.xml"), "conv": save_convnet(d / "conv.xml")}


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferclock", *args],
        capture_output=True, text=True, cwd=cwd, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def swept(models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("cli-sweep") / "results.jsonl"
    r = cli(
        "sweep", str(models["mm"]), str(models["conv"]), "-b", "1,2", "-p", "f32",
        "--mode", "latency,throughput", "--shape", "img[?,3,16,16]", "--iterations", "20",
        "--warmup", "2", "--save-raw", "--processes", "1", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_run_prints_summary_and_writes_json(models: dict[str, Path], tmp_path: Path) -> None:
    r = cli("run", str(models["mm"]), "-b", "2", "--iterations", "30", "--warmup", "3",
            "--json", str(tmp_path / "r.json"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "mm on CPU, batch 2, latency, precision f32" in r.stdout
    assert "latency   median" in r.stdout and "n=30" in r.stdout and "start-up" in r.stdout
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["n"] == 30 and d["batch_size"] == 2 and d["env"]


def test_run_throughput_with_shape(models: dict[str, Path]) -> None:
    r = cli("run", str(models["conv"]), "--mode", "throughput", "--shape", "img[1,3,16,16]",
            "--iterations", "40", "--requests", "2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "throughput" in r.stdout and "requests=2" in r.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["run", "/nonexistent/m.xml"], "/nonexistent/m.xml"),
        (["run", "MODEL", "-d", "FOO"], "Devices present"),
        (["run", "MODEL", "-p", "f64"], "unknown precision 'f64'"),
        (["run", "MODEL", "--shape", "img"], "NAME[dims]"),
        (["sweep", "MODEL", "-b", "0"], "batch_size must be an integer in 1.."),
        (["sweep", "MODEL", "--mode", "fast"], "unknown mode 'fast'"),
        (["sweep", "MODEL", "-o", "/nonexistent-dir/r.jsonl"], "does not exist"),
        (["report", "/nonexistent/r.jsonl"], "does not exist"),
    ],
)
def test_errors_print_a_message_and_exit_2(
    models: dict[str, Path], tmp_path: Path, args: list[str], words: str
) -> None:
    r = cli(*(str(models["mm"]) if a == "MODEL" else a for a in args), cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and words in r.stderr
    assert "Traceback" not in r.stderr


def test_sweep_writes_file_and_prints_table(swept: tuple[Path, str]) -> None:
    out, stdout = swept
    f = load_file(out)
    assert len(f.rows) == 8 and all(r["error"] is None for r in f.rows)
    assert "| model |" in stdout and "| mm |" in stdout and "| conv |" in stdout
    assert {r["mode"] for r in f.rows} == {"latency", "throughput"}
    assert all(r["raw_latencies"] for r in f.rows)


def test_report_cli(swept: tuple[Path, str], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    r = cli("report", str(swept[0]), "-o", str(tmp_path / "rep"))
    assert r.returncode == 0, r.stderr
    assert "report written to" in r.stdout
    assert (tmp_path / "rep" / "report.md").read_text().startswith("# inferclock report")
    assert list((tmp_path / "rep").glob("*.png")) and list((tmp_path / "rep").glob("*.svg"))


def _scaled_copy(src: Path, dst: Path, factor: float) -> Path:
    """The same rows with every latency multiplied by ``factor`` (a synthetic slowdown), raw
    latencies included, so both sides' intervals rest on the same kind of data."""
    f = load_file(src)
    w = ResultWriter(
        dst, {k: v for k, v in f.header.items() if k not in ("kind", "format_version", "created")}
    )
    for row in f.rows:
        row = dict(row)
        for k, v in row.items():
            if k.startswith("latency_") and k.endswith("_ns") and isinstance(v, (int, float)):
                row[k] = v * factor
        row["throughput_fps"] = row["throughput_fps"] / factor
        if row.get("raw_latencies"):
            raw = np.load(src.parent / row["raw_latencies"])
            scaled = dst.parent / f"{dst.stem}.{Path(row['raw_latencies']).name}"
            np.save(scaled, (raw * factor).astype(np.int64))
            row["raw_latencies"] = scaled.name
        w.append(row)
    return dst


def test_compare_cli_passes_equal_files_and_fails_a_2x_slowdown(
    swept: tuple[Path, str], tmp_path: Path
) -> None:
    a = swept[0]
    # 20 real iterations may leave an interval wider than 5%: inconclusive, which the strict
    # gate fails unless allowed.
    r = cli("compare", str(a), str(a), "--fail-above", "5%", "--allow-inconclusive")
    assert r.returncode == 0, r.stderr
    assert "OK: no cell worse" in r.stderr and "B/A [CI]" in r.stdout

    b = _scaled_copy(a, tmp_path / "slow.jsonl", 2.0)
    r = cli("compare", str(a), str(b), "--threshold", "5%")
    assert r.returncode == 0, r.stderr  # no gate asked for
    assert "**slower**" in r.stdout
    r = cli("compare", str(a), str(b), "--fail-above", "5%", "--json", str(tmp_path / "c.json"))
    assert r.returncode == 1
    # Real timings of 20 iterations: a cell's interval can be wide enough to stay below 5%
    # even at 2x, so the count is read from the JSON (the synthetic tests below are exact).
    gate = json.loads((tmp_path / "c.json").read_text())["gate"]
    states = [o[1] for o in gate["outcomes"] if o[2] == "fail"]
    assert len(gate["regressions"]) == len(states) >= 1 and not gate["passed"]
    assert set(states) <= {"slower", "inconclusive", "no interval"} and not gate["missing"]
    assert (
        f"FAIL: {states.count('slower')} slower (whole interval" in r.stderr
        or "slower" not in states
    )


# ---------------------------------------------------------------- compare gate (issue 15)


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``inferclock ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own errors
        rc = int(e.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def tables(tmp_path: Path) -> dict[str, Path]:
    """Synthetic results whose comparison is certain: two cells in A; B as named."""
    cells = [("tiny", "f32", 1, "latency"), ("tiny", "f32", 8, "latency")]
    errors = ResultWriter(tmp_path / "errors.jsonl", HEADER)
    for model, prec, batch, mode in cells:
        errors.append(make_row(model, prec, batch, None, mode=mode, error="boom"))
    return {
        "a": write_table(tmp_path / "a.jsonl", cells),
        "same": write_table(tmp_path / "same.jsonl", cells, seed=5),
        "slow": write_table(tmp_path / "slow.jsonl", cells, scale=2.0),
        "errors": errors.path,
        "renamed": write_table(tmp_path / "renamed.jsonl", [("tiny2", *c[1:]) for c in cells]),
        "partial": write_table(tmp_path / "partial.jsonl", cells[:1]),
    }


@pytest.mark.parametrize(
    ("b", "extra", "rc", "words"),
    [
        ("same", [], 0, "OK: no cell worse by more than 5.0% in its metric (2 compared: 0 slower"),
        ("slow", [], 1, "FAIL: 2 slower (whole interval worse than the threshold): tiny|CPU"),
        ("errors", [], 1, "FAIL: 2 error in B (B has only error rows): tiny|CPU|f32|1"),
        ("errors", ["--allow-missing"], 1, "FAIL: no cell was measured successfully on both"),
        ("renamed", [], 1, "FAIL: 2 missing in B (B has no row of the cell): tiny|CPU|f32|1"),
        ("renamed", ["--allow-missing"], 1, "nothing was compared"),
        ("partial", [], 1, "FAIL: 1 missing in B (B has no row of the cell): tiny|CPU|f32|8"),
        ("partial", ["--allow-missing"], 0, "allowed: 1 missing in B (B has no row of the cell)"),
    ],
)
def test_compare_gate_fails_when_nothing_or_not_everything_was_compared(
    tables: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    b: str,
    extra: list[str],
    rc: int,
    words: str,
) -> None:
    argv = ["compare", str(tables["a"]), str(tables[b]), "--fail-above", "5%", *extra]
    got, out, err = run_main(argv, capsys)
    assert got == rc, err
    assert words in err and "B/A [CI]" in out
    assert ("OK:" in err) == (rc == 0)


def test_compare_gate_in_a_fresh_process_and_its_json(
    tables: dict[str, Path], tmp_path: Path
) -> None:
    r = cli("compare", str(tables["a"]), str(tables["errors"]), "--fail-above", "5%",
            "--json", str(tmp_path / "c.json"))  # fmt: skip
    assert r.returncode == 1 and "2 error in B (B has only error rows)" in r.stderr
    d = json.loads((tmp_path / "c.json").read_text())
    assert d["gate"]["passed"] is False and len(d["gate"]["missing"]) == 2 == len(d["missing"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--fail-above", "nan"], "error: --fail-above must be a finite fraction in [0, 10)"),
        (["--fail-above", "inf"], "error: --fail-above must be a finite fraction"),
        (["--fail-above", "5"], None),  # 500%: a valid (if loose) threshold
        (["--fail-above=-5%"], "a negative threshold makes no sense"),
        (["--fail-above", "-5%"], "--fail-above takes a threshold such as 5% or 0.05"),
        (["--fail-above", "-0.05"], "a negative threshold makes no sense"),
        (["--threshold", "abc"], "error: --threshold must be a percentage like 5%"),
        (["--threshold", "-1"], "error: --threshold must be a finite fraction"),
        (["--json", "/nonexistent/x.json"], "error: --json file '/nonexistent/x.json'"),
        (["--json", "A"], "it would be overwritten"),
        (["--json", "DIR"], "is a directory"),
        (["--allow-missing"], "error: --allow-missing only applies to the gate"),
    ],
)
def test_compare_checks_every_argument_before_any_work(
    tables: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str | None,
) -> None:
    subst = {"A": str(tables["a"]), "DIR": str(tmp_path)}
    argv = ["compare", str(tables["a"]), str(tables["slow"]), *(subst.get(a, a) for a in args)]
    rc, out, err = run_main(argv, capsys)
    if words is None:
        assert rc == 0 and "OK: no cell worse by more than 500.0%" in err
        return
    assert rc == 2 and words in err and "error: " in err
    assert out == ""  # nothing compared, no table printed
    assert "Traceback" not in err


def test_info_json() -> None:
    r = cli("info", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert "clock" in info


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ("run", ["--shape", "--socket", "--cpus", "--target-ci", "--plugin", "--json"]),
        ("sweep", ["--resume", "--processes", "--repeats", "--save-raw", "--quiet", "--max-time"]),
        ("report", ["-o", "RESULTS"]),
        ("compare", ["--fail-above", "--threshold"]),
        ("demo", ["--quick", "-o"]),
        ("info", ["--json"]),
        ("bisect", ["GOOD", "BAD", "{out}", "{storage}", "--runs", "--history", "--repo"]),
    ],
)
def test_help_is_complete(
    command: str, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([command, "--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for w in words:
        assert w in text


def test_every_subcommand_is_a_cli_module_with_add_parser_and_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One style: each module of ``inferclock._cli`` but the shared ones is a subcommand named
    as the module, with ``add_parser(sub, formatter, models)`` and ``run(args)``; ``__main__``
    assembles them all, and each one's --help works."""
    import inspect
    import pkgutil

    import inferclock._cli as cli_package
    from inferclock.__main__ import COMMANDS

    shared = {"common", "options"}
    modules = {m.name for m in pkgutil.iter_modules(cli_package.__path__)} - shared
    names = [c.__name__.rpartition(".")[2] for c in COMMANDS]
    assert sorted(names) == sorted(modules)
    top = build_parser().format_help()
    for command, name in zip(COMMANDS, names, strict=True):
        assert list(inspect.signature(command.add_parser).parameters) == [
            "sub", "formatter", "models",
        ]  # fmt: skip
        assert list(inspect.signature(command.run).parameters) == ["args"], name
        assert f"\n    {name} " in top
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args([name, "--help"])
        assert e.value.code == 0 and f"usage: inferclock {name}" in capsys.readouterr().out


def test_demo_offers_bf16_only_where_the_cpu_has_it(tmp_path: Path) -> None:
    from inferclock._cli.demo import FULL, QUICK, bf16_native, cpu_flags

    info = tmp_path / "proc" / "cpuinfo"
    info.parent.mkdir()
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert "avx512_bf16" in cpu_flags(str(tmp_path))
    assert bf16_native({"avx512f", "avx512_bf16"}) and bf16_native({"amx_bf16"})
    assert not bf16_native({"avx512f", "avx2"})
    assert {"resnet50", "ssdlite_mobilenet_v2"} <= set(FULL.models)
    assert FULL.batch_sizes == (1, 8) and set(FULL.modes) == {"latency", "throughput"}
    assert QUICK.cells < FULL.cells


# ---------------------------------------------------------------- demo output (issue 15)


def _unwritable_dir() -> str | None:
    """An existing directory this process cannot create files in (root passes chmod)."""
    import tempfile

    for d in ("/sys/kernel", "/proc/self"):
        try:
            with tempfile.TemporaryFile(dir=d):
                pass
        except OSError:
            return d
    return None


@pytest.mark.parametrize(
    ("where", "words"),
    [
        ("FILE", "exists and is not a directory: -o takes a directory"),
        ("FILE/sub", "cannot be written: Not a directory"),
        ("IN_THE_WAY", "results.jsonl' is in the way (the demo writes a file)"),
        ("UNWRITABLE", "cannot be written: "),
    ],
)
def test_demo_output_that_cannot_be_used_is_an_error_before_any_work(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    where: str,
    words: str,
) -> None:
    import importlib

    def no_sweep(*args: object, **kwargs: object) -> None:
        raise AssertionError("the demo started sweeping")

    # The module (the package's lazy `inferclock._sweeps.sweep` attribute is the function).
    monkeypatch.setattr(importlib.import_module("inferclock._sweeps.sweep"), "sweep", no_sweep)
    (tmp_path / "FILE").write_text("not a directory\n")
    (tmp_path / "IN_THE_WAY" / "results.jsonl").mkdir(parents=True)
    target = str(tmp_path / where)
    if where == "UNWRITABLE":
        target = _unwritable_dir() or pytest.skip("no unwritable directory found here")
    rc, out, err = run_main(["demo", "--quick", "-o", target], capsys)
    assert rc == 2, (out, err)
    assert err.startswith("error: demo output directory ") and words in err
    assert "Traceback" not in err and out == ""
    assert (tmp_path / "FILE").read_text() == "not a directory\n"


def test_sweep_axis_flags_take_lists_and_add_up() -> None:
    from inferclock._cli.options import given

    args = build_parser().parse_args(
        ["sweep", "m.xml", "-b", "1,2", "-b", "8", "-d", "CPU", "-d", "HETERO:FPGA,CPU"]
    )
    axes = given(args, sweep=True)
    assert axes["batch_sizes"] == [1, 2, 8]
    assert axes["devices"] == ["CPU", "HETERO:FPGA,CPU"]
