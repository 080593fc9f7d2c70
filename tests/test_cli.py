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

from inferclock.__main__ import build_parser
from inferclock.results import ResultWriter, load_file


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
        "--warmup", "2", "--save-raw", "-o", str(out),
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
    r = cli("compare", str(a), str(a), "--fail-above", "5%")
    assert r.returncode == 0, r.stderr
    assert "OK: no cell slower" in r.stderr and "B/A [CI]" in r.stdout

    b = _scaled_copy(a, tmp_path / "slow.jsonl", 2.0)
    r = cli("compare", str(a), str(b), "--threshold", "5%")
    assert r.returncode == 0, r.stderr  # no gate asked for
    assert "**slower**" in r.stdout
    r = cli("compare", str(a), str(b), "--fail-above", "5%", "--json", str(tmp_path / "c.json"))
    assert r.returncode == 1
    assert "FAIL: 8 cell(s) slower by more than 5.0%" in r.stderr
    assert len(json.loads((tmp_path / "c.json").read_text())["regressions"]) == 8


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


def test_demo_offers_bf16_only_where_the_cpu_has_it(tmp_path: Path) -> None:
    from inferclock._demo import FULL, QUICK, bf16_native, cpu_flags

    info = tmp_path / "proc" / "cpuinfo"
    info.parent.mkdir()
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n")
    assert "avx512_bf16" in cpu_flags(str(tmp_path))
    assert bf16_native({"avx512f", "avx512_bf16"}) and bf16_native({"amx_bf16"})
    assert not bf16_native({"avx512f", "avx2"})
    assert {"resnet50", "ssdlite_mobilenet_v2"} <= set(FULL.models)
    assert FULL.batch_sizes == (1, 8, 32) and set(FULL.modes) == {"latency", "throughput"}
    assert QUICK.cells < FULL.cells
