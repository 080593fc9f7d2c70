"""One declaration of the run options: every option reaches ic.run, ic.sweep, `inferclock run`,
`inferclock sweep` and the rows (success and error alike), and the copies cannot drift. The
same for the own options of ic.find_peak_qps, ic.tune and ic.profile: their signatures'
defaults, their checks and the `peak`, `tune` and `profile` flags come from their
declarations."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic
from inferclock.__main__ import build_parser
from inferclock._cli.options import help_text
from inferclock._common.declare import shown
from inferclock._common.errors import ConfigTypeError
from inferclock._profiling import options as _profile_options
from inferclock._profiling.options import ProfileOptions
from inferclock._search.options import PeakOptions, TuneOptions
from inferclock._sweeps.options import SweepOptions
from inferclock._timing import options as _options, rows as _rows
from inferclock._timing.options import RunOptions

CPU = min(os.sched_getaffinity(0))


def declared(cls: type[Any] = RunOptions) -> list[_options.Option]:
    return list(_options.options(cls))


def test_run_signature_is_the_declaration() -> None:
    params = list(inspect.signature(ic.run).parameters.values())
    assert params[0].name == "model"
    opts = declared()
    # After the declared options: the LoadGen backend's own (inferclock._timing.loadgen_log).
    from inferclock._timing.loadgen_log import LOADGEN_PARAMS

    assert [p.name for p in params[1 + len(opts) :]] == list(LOADGEN_PARAMS)
    params = params[: 1 + len(opts)]
    assert [p.name for p in params[1:]] == [o.name for o in opts]
    for p, o in zip(params[1:], opts, strict=True):
        assert p.default == o.default, o.name
        kind = p.POSITIONAL_OR_KEYWORD if o.meta.positional else p.KEYWORD_ONLY
        assert p.kind == kind, o.name


def test_measure_and_sweep_signatures_follow_the_declaration() -> None:
    defaults = {o.name: o.default for o in declared()}
    measure = inspect.signature(ic.measure).parameters
    stopping = ["warmup", "iterations", "duration", "target_ci", "min_time", "max_time"]
    stopping += ["max_samples", "min_samples", "cpus", "percentiles", "percentile_method"]
    stopping += ["batch_size"]
    # Then where it runs: processes, a setup per process, a worker's timeout.
    assert [n for n in measure if n != "fn"] == [*stopping, "processes", "setup", "timeout"]
    for name in stopping:
        assert measure[name].default == defaults[name], name
    sweep = inspect.signature(ic.sweep).parameters
    for axis, o in _options.axes().items():
        assert sweep[axis].default == (o.default,), axis
    for o in declared(SweepOptions):
        assert sweep[o.name].default == o.default, o.name


def full_options(
    tmp: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Four sets of values that together give every declared option a non-default value (A,
    B, the server run C and the multistream run D differ where two options exclude each
    other)."""
    x = np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32)
    a = dict(
        device="CPU", batch_size=2, precision="default", mode="throughput", warmup=3,
        iterations=40, duration=None, target_ci=0.05, socket=None, cpus=[CPU], streams=1,
        threads=1, requests=2, shapes={"x": [2, 64]}, inputs=[{"x": x}], seed=7,
        min_time=0.1, max_time=5.0, max_samples=1000, min_samples=5, percentiles=[50, 99.9],
        percentile_method="loadgen", processes=1, hint="latency", strict=False,
        properties={"ENABLE_CPU_PINNING": "NO"}, cache_dir=str(tmp / "ovc"), input_sets=2,
        calibration=[{"x": x}], isolate=True, timeout=120.0,
        env={"OMP_WAIT_POLICY": "PASSIVE"},
    )  # fmt: skip
    b = dict(duration=0.2, socket=0, warmup=0, cache_dir="", batch_size=1, processes=2)
    c = dict(mode="server", qps=500.0, queries=300, arrival="constant", latency_bound_ms=50.0,
             percentile=95.0, cache_dir="", max_async_queries=10**6)  # fmt: skip
    d = dict(mode="multistream", queries=20, samples_per_query=2, issuer_nice=-1, cache_dir="")
    assert set(a) | set(c) | set(d) == {o.name for o in declared()}, "a declared option is missing"
    return a, b, c, d


def cli_args(tmp: Path) -> tuple[list[str], list[str], list[str], list[str]]:
    """The same two sets as command-line flags (a sweep takes one value as a one-value axis)."""
    npz = tmp / "x.npz"
    np.savez(npz, x=np.random.default_rng(0).standard_normal((2, 64)).astype(np.float32))
    a = (
        f"--device CPU -b 2 --precision default --mode throughput --warmup 3 --iterations 40 "
        f"--target-ci 5% --cpus {CPU} --streams 1 --threads 1 --requests 2 --shape x[2,64] "
        f"--inputs {npz} --seed 7 --min-time 0.1 --max-time 5 --max-samples 1000 "
        f"--hint latency --no-strict --property ENABLE_CPU_PINNING=NO --cache-dir {tmp / 'ovc'} "
        f"--input-sets 2 --calibration {npz} --isolate --timeout 120 --min-samples 5 "
        f"--percentiles 50,p99.9 --percentile-method loadgen --processes 1 "
        f"--env OMP_WAIT_POLICY=PASSIVE"
    ).split()
    b = ["--duration", "0.2", "--socket", "0", "--warmup", "0", "--cache-dir", ""]
    b += ["--batch-size", "1", "--processes", "2"]
    c = "--mode server --qps 500 --queries 300 --arrival constant --latency-bound 50ms "
    c += "--percentile p95 --cache-dir= --max-async-queries 1000000"
    d = "--mode multistream --queries 20 --samples-per-query 2 --issuer-nice=-1 --cache-dir="
    used = set(a) | set(b) | set(c.split()) | {x.split("=")[0] for x in d.split()}
    missing = [o.flag for o in declared() if o.flag not in used and o.meta.short not in used]
    assert not missing, f"flags missing from the test: {missing}"
    return a, b, c.split(), d.split()


def expected_row(values: dict[str, Any]) -> dict[str, Any]:
    return RunOptions(**values).to_row()


def check_row(row: dict[str, Any], values: dict[str, Any]) -> None:
    assert set(row) >= set(_rows.run_fields())
    want = expected_row(values)
    for o in declared():
        assert row[o.row] == want[o.row], (o.name, row[o.row], want[o.row])


def check_reached(row: dict[str, Any], values: dict[str, Any]) -> None:
    """The options did what they say where the run happened (in the worker)."""
    if values.get("env"):
        assert row["env_vars"]["OMP_WAIT_POLICY"] == "PASSIVE"
    if values.get("cpus"):
        assert row["cpus"] == str(CPU) and row["streams"] == 1 and row["requests"] == 2
        assert row["n"] == 40 and row["warmup_n"] >= 3 and row["user_inputs"] == 1
        assert row["config"]["PERFORMANCE_HINT"] == "LATENCY"
        assert row["config"]["ENABLE_CPU_PINNING"] == "NO"
    if values.get("duration"):
        assert row["stop_reason"] == "duration" and row["socket"] == 0
    if values.get("qps"):  # the schedule as asked, judged against the bound at p95
        server = row["server"]
        assert server["scheduled"] == 300 and server["arrival"] == "constant"
        assert server["latency_bound_ms"] == 50.0 and server["percentile"] == 95.0
        assert row["verdict"] in ("VALID", "INVALID") and row["mode"] == "server"
        assert server["outstanding_limit"] == 10**6
    if values.get("samples_per_query"):  # twenty queries of two samples, one after another
        server = row["server"]
        assert row["mode"] == "multistream" and server["samples_per_query"] == 2
        assert server["completed"] == 20 and row["n"] == 20 and row["requests"] == 2
        assert row["issuer_nice"] == -1
    if values.get("percentiles"):  # each percentile asked for, read as LoadGen does
        assert sorted(row["latency_percentiles"]) == ["p50", "p99.9"]
        assert row["percentile_method"] == "loadgen"


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("options")


def test_every_option_reaches_run_and_its_row(matmul_model: Path, tmp: Path) -> None:
    for values in full_options(tmp):
        r = ic.run(str(matmul_model), **values)
        row = r.to_dict()
        check_row(row, values)
        check_reached(row, values)


def test_every_option_reaches_sweep_and_its_rows(matmul_model: Path, tmp: Path) -> None:
    for i, values in enumerate(full_options(tmp)):
        axes = {
            o.meta.axis: [values.pop(o.name)]
            for o in declared()
            if o.name in values and o.meta.axis
        }
        table = ic.sweep(
            str(matmul_model), out=tmp / f"sweep{i}.jsonl", quiet=True, **axes, **values
        )
        values.update({o.name: axes[o.meta.axis][0] for o in declared() if o.meta.axis in axes})
        assert len(table.rows) == values.get("processes", 1)  # a server cell: one process
        for row in table.rows:
            assert row["error"] is None, row["error"]
            check_row(row, {**values, "isolate": True})
            check_reached(row, values)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferclock", *args], capture_output=True, text=True, timeout=300
    )


def test_every_option_reaches_the_cli_run_and_sweep(matmul_model: Path, tmp: Path) -> None:
    api = full_options(tmp)
    for i, (args, values) in enumerate(zip(cli_args(tmp), api, strict=True)):
        out = tmp / f"run{i}.json"
        r = cli("run", str(matmul_model), *args, "--json", str(out))
        assert r.returncode == 0, r.stderr
        row = json.loads(out.read_text())
        check_row(row, values)
        check_reached(row, values)
    for i, (args, values) in enumerate(zip(cli_args(tmp), api, strict=True)):
        out = tmp / f"cli-sweep{i}.jsonl"
        r = cli("sweep", str(matmul_model), *args, "-o", str(out), "--quiet")
        assert r.returncode == 0, r.stderr
        rows = ic.ResultTable.load(out).rows
        assert len(rows) == values.get("processes", 1)
        for row in rows:
            check_row(row, {**values, "isolate": True})
            check_reached(row, values)


def test_error_rows_carry_every_field_of_a_success_row(matmul_model: Path, tmp: Path) -> None:
    good = ic.sweep(
        str(matmul_model), out=tmp / "good.jsonl", quiet=True, iterations=5, processes=1
    )
    bad = ic.sweep(
        str(matmul_model), out=tmp / "bad.jsonl", quiet=True, iterations=5, processes=1,
        properties={"NUM_STREAMS": "banana"},
    )  # fmt: skip
    (ok,), (failed,) = good.rows, bad.rows
    assert ok["error"] is None and failed["error_kind"] == "ConfigError"
    assert set(failed) == set(ok)
    assert set(ok) == {"kind", *_rows.run_fields(), *_rows.SWEEP_FIELDS}
    assert failed["properties"] == {"NUM_STREAMS": "banana"} and failed["iterations"] == 5
    assert all(failed[f] is None for f in ("n", "latency_median_ns", "throughput_fps"))


def test_unknown_and_axis_options_are_refused_by_name(matmul_model: Path, tmp: Path) -> None:
    with pytest.raises(ic.ConfigError, match=r"unknown argument.*warmpu"):
        ic.sweep(str(matmul_model), out=tmp / "x.jsonl", warmpu=3)
    with pytest.raises(ic.ConfigError, match=r"precisions=\[...\]"):
        ic.sweep(str(matmul_model), out=tmp / "x.jsonl", precision="f32")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ic.run(str(matmul_model), warmpu=3)  # type: ignore[call-arg]


# ---------------------------------------------------------------- peak, tune and profile


def defaults(fn: Any) -> dict[str, Any]:
    """Each named parameter of ``fn`` and its default (``inspect.Parameter.empty``: none)."""
    return {
        p.name: p.default
        for p in inspect.signature(fn).parameters.values()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def check_defaults(fn: Any, own: type[Any], undeclared: set[str]) -> None:
    """``fn``'s parameters are its own declaration's options, run options and ``undeclared``;
    each default is the declaration's (its own where it declares a run option again)."""
    params = defaults(fn)
    mine = {o.name: o.default for o in declared(own)}
    run = {o.name: o.default for o in declared()}
    assert set(params) - undeclared <= {*mine, *run}, set(params) - undeclared - {*mine, *run}
    assert set(mine) <= set(params), f"declared but not taken: {set(mine) - set(params)}"
    for name, default in params.items():
        if name in undeclared or default is inspect.Parameter.empty:
            continue
        want = mine[name] if name in mine else run[name]
        assert default == want and type(default) is type(want), (fn.__name__, name, default)


def test_peak_signature_is_the_declaration() -> None:
    check_defaults(ic.find_peak_qps, PeakOptions, {"model"})
    assert defaults(ic.find_peak_qps)["latency_bound_ms"] is inspect.Parameter.empty


def test_tune_signature_is_the_declaration() -> None:
    check_defaults(ic.tune, TuneOptions, {"model", "space"})


def test_profile_signature_is_the_declaration() -> None:
    check_defaults(ic.profile, ProfileOptions, {"model"})
    names = {"model", *_profile_options.RUN_OPTIONS, *(o.name for o in declared(ProfileOptions))}
    assert set(defaults(ic.profile)) == names


def subcommand(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = sub.choices[name]
    return parser


def _tune_run_flags() -> list[_options.Option]:
    from inferclock._cli.tune import _REFUSED
    from inferclock._search.tune_space import AXES

    skip = {*AXES, *_REFUSED, *(o.name for o in declared(TuneOptions))}
    return [o for o in declared() if o.name not in skip]


FLAGS = {
    "peak": lambda: [*declared(PeakOptions), *declared()],
    "tune": lambda: [*declared(TuneOptions), *_tune_run_flags()],
    "profile": lambda: [*_profile_options.own_options(), *_profile_options.run_options()],
}


@pytest.mark.parametrize("command", list(FLAGS))
def test_peak_tune_and_profile_flags_are_the_declaration(command: str) -> None:
    """Each flag's help is its declaration's (its default written from the declared one), and
    the flag has no default of its own: an option not given is left to the function, whose
    default is the declaration's (above)."""
    parser = subcommand(command)
    actions = {s: a for a in parser._actions for s in a.option_strings}
    opts = FLAGS[command]()
    for o in opts:
        action = actions[o.flag]
        assert action.dest == o.name and action.default is argparse.SUPPRESS, (command, o.name)
        assert action.help == help_text(o), (command, o.name)
        if o.meta.short:
            assert actions[o.meta.short] is action
    model = [] if command == "profile" else ["m.xml"]
    args = vars(parser.parse_args(model))
    assert not {o.name for o in opts} & set(args), "a flag has a default of its own"
    text = parser.format_help()
    for o in opts:
        if o.default is not None and o.meta.show_default and o.meta.cli == "value":
            assert f"(default {shown(o)})" in " ".join(text.split()), (command, o.name)


@pytest.mark.parametrize("cls", [PeakOptions, TuneOptions, ProfileOptions])
def test_integer_options_refuse_bools_and_take_numpy_integers(cls: type[Any]) -> None:
    """Each declared integer option of peak, tune and profile is checked by its declaration:
    True is refused (a bool is not a count), numpy.int64 accepted and kept as an int."""
    ints = [f for f in dataclasses.fields(cls) if f.type in ("int", "int | None")]
    assert ints
    for f in ints:
        with pytest.raises(ConfigTypeError, match=rf"^{f.name} must be an integer"):
            cls(**{f.name: True})
        value = cls(**{f.name: np.int64(3)})
        assert getattr(value, f.name) == 3 and type(getattr(value, f.name)) is int
