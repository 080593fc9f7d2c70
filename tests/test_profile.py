"""ic.profile, ic.profile_diff and `inferclock profile`: per-layer counters of real OpenVINO runs
(built-in MobileNetV2, small iteration counts), the record's JSON form, the diff's matching
rule, bad input, the CLI and the report's profile section."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import openvino as ov
import pytest
from hypothesis import given, settings, strategies as st

import inferclock as ic
from inferclock.__main__ import main
from inferclock._common.errors import ConfigError, ConfigTypeError, DeviceError
from inferclock._profiling.profile import Profile, profile, profile_diff
from inferclock._profiling.record import Median
from inferclock._timing.precision import COMPUTE_LAYER_TYPES, compile_properties, runtime_ops

FLAGS = set(Path("/proc/cpuinfo").read_text().split())
HAS_BF16 = bool({"avx512_bf16", "amx_bf16"} & FLAGS)
FAST = {"iterations": 12, "rounds": 6, "warmup": 2}


@pytest.fixture(scope="module")
def f32() -> Profile:
    return profile("mobilenet_v2", precision="f32", **FAST)


@pytest.fixture(scope="module")
def bf16() -> Profile:
    if not HAS_BF16:
        pytest.skip("this CPU has neither avx512_bf16 nor amx_bf16: no native bf16 to profile")
    return profile("mobilenet_v2", precision="bf16", **FAST)


@pytest.fixture(scope="module")
def u1_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Reads fine, but the CPU plugin refuses to compile a u1 input."""
    import openvino.opset13 as ops

    x = ops.parameter([1, 8], ov.Type.u1, name="bits")
    path = tmp_path_factory.mktemp("u1") / "u1.xml"
    ov.save_model(ov.Model([ops.convert(x, "f32")], [x], "u1"), str(path))
    return path


def _compute_nodes(precision: str) -> list[dict[str, str]]:
    """The runtime model's compute nodes, from a compile of our own (no counters)."""
    compiled = ov.Core().compile_model(
        str(ic.models.path("mobilenet_v2")), "CPU", compile_properties(precision)
    )
    key = lambda t: t.lower().replace("_", "")  # noqa: E731
    return [op for op in runtime_ops(compiled) if key(op["layerType"]) in COMPUTE_LAYER_TYPES]


def test_every_compute_layer_listed_with_kernel_and_precision(f32: Profile) -> None:
    nodes = _compute_nodes("f32")
    assert len(nodes) > 40  # MobileNetV2: 52 convolutions and a classifier
    for node in nodes:
        layer = f32.layer(node["name"])
        assert layer.compute and layer.executed and layer.status == "EXECUTED"
        assert layer.kernel and layer.kernel != "undef", layer
        assert layer.precision == "f32" and layer.runtime_precision == "f32", layer
        assert layer.real.low_ns <= layer.real.ns <= layer.real.high_ns and layer.real.ns > 0
        assert layer.real.n == FAST["rounds"] and len(layer.rounds_ns) == FAST["rounds"]
    # Fused activations are listed too, not executed, attached to the node they joined.
    fused = [x for x in f32.layers if x.fused_into is not None]
    assert fused and all(not x.executed and x.fused_into for x in fused)
    assert f32.precision_executed == "f32" and f32.iterations == 12 and f32.rounds == 6


def test_bf16_convolutions_run_bf16_and_f32_ones_f32(f32: Profile, bf16: Profile) -> None:
    for p, want in ((f32, "f32"), (bf16, "bf16")):
        convs = [x for x in p.executed_layers if x.type in ("Convolution", "GroupConvolution")]
        assert len(convs) == 52
        assert {x.precision for x in convs} == {want}, p.label
        assert all(x.kernel.endswith(want) for x in convs)
        assert p.precision_executed == want


def test_layers_sum_and_end_to_end_side_by_side(f32: Profile) -> None:
    p = f32
    assert len(p.end_to_end_ns) == p.iterations == p.end_to_end.n
    assert p.end_to_end.ns == pytest.approx(float(np.median(p.end_to_end_ns)))
    for m in (p.end_to_end, p.end_to_end_rounds, p.layers_total):
        assert m.low_ns <= m.ns <= m.high_ns and m.ns > 0
    # The layers run inside the inference: their sum is below the end-to-end time of the same
    # rounds, and the difference is what the record calls time in no layer.
    per_round = np.sum([x.rounds_ns for x in p.executed_layers], axis=0)
    assert p.layers_total.ns == pytest.approx(float(np.median(per_round)))
    assert 0 < p.unaccounted.ns < p.end_to_end_rounds.ns
    assert p.layers_total.ns < p.end_to_end_rounds.ns
    # Totals by type and by kernel cover the same layers.
    for totals in (p.by_type(), p.by_kernel()):
        assert sum(t.layers for t in totals) == len(p.executed_layers)
        # Each share is its group's median over the layers' total; they add up to about 1
        # only on a quiet machine (a median of per-round sums is not the sum of the groups'
        # medians once preemptions skew some of the 6 rounds).
        for t in totals:
            assert t.share == pytest.approx(t.time.ns / p.layers_total.ns)
    assert p.by_type()[0].key == "Convolution"
    text = p.summary(top=5)
    assert "layers' sum" in text and "end to end: median" in text
    assert "is in no layer: the infer request's own work" in text and "gaps between layers" in text
    assert "Top 5 layers" in text and "By layer type" in text and "By kernel" in text


def test_diff_of_f32_and_bf16_matches_layers_and_speeds_up_convolutions(
    f32: Profile, bf16: Profile
) -> None:
    d = profile_diff(f32, bf16)
    convs = [r for r in d.rows if r.type == "Convolution"]
    assert len(convs) == 35 and all(r.matched == "layer" for r in convs)
    assert all(r.precision_a == "f32" and r.precision_b == "bf16" for r in convs)
    assert d.matched_layers >= 52 and not d.per_sample
    # The bf16 graph converts its input under another name: pooled by type, not lost.
    reorder = d.row("Reorder")
    assert reorder.matched == "type" and reorder.layers_b >= 1
    conv_total = next(r for r in d.by_type if r.key == "Convolution")
    assert conv_total.speedup > 1.0 and conv_total.share_of_a < 0  # AMX bf16: about 2x
    assert sum(r.speedup > 1 for r in convs) > len(convs) / 2
    assert "speedup" in d.summary() and "| Convolution |" in d.to_markdown()


def _halved_convs(p: Profile, rename: str) -> Profile:
    """``p`` with every Convolution twice as fast and layer ``rename`` renamed."""
    layers = []
    for x in p.layers:
        if x.type == "Convolution":
            r = tuple(v / 2 for v in x.rounds_ns)
            x = dataclasses.replace(x, rounds_ns=r, real=Median.of(r))
        if x.name == rename:
            x = dataclasses.replace(x, name=rename + ".renamed")
        layers.append(x)
    total = Median.of(np.sum([x.rounds_ns for x in layers if x.executed], axis=0))
    return dataclasses.replace(p, layers=tuple(layers), layers_total=total, batch_size=2)


def test_diff_matching_rule_and_shares(f32: Profile) -> None:
    b = _halved_convs(f32, "classifier.bias")
    d = profile_diff(f32, b, per_sample=False)
    conv = d.row("features.18")
    assert conv.matched == "layer" and conv.speedup == pytest.approx(2.0)
    assert conv.share_of_a == pytest.approx(-conv.a_ns / 2 / f32.layers_total.ns)
    # The renamed layer has no partner by name: matched by its type instead.
    fc = d.row("FullyConnected")
    assert fc.matched == "type" and (fc.layers_a, fc.layers_b) == (1, 1)
    assert fc.speedup == pytest.approx(1.0) and d.unmatched_a == d.unmatched_b == 1
    assert d.faster()[0].type == "Convolution" and not d.slower()
    # Different batch sizes compare per sample unless told otherwise.
    per_sample = profile_diff(f32, b)
    assert per_sample.per_sample and per_sample.row("features.18").speedup == pytest.approx(4.0)


def test_json_round_trip(f32: Profile, tmp_path: Path) -> None:
    path = f32.save(tmp_path / "p.json")
    again = Profile.load(path)
    assert again == f32 and again.by_type() == f32.by_type()
    data = json.loads(path.read_text())
    assert data["format"] == "inferclock-profile" and data["version"] == 1
    (tmp_path / "newer.json").write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(ConfigError, match="newer than this inferclock reads"):
        Profile.load(tmp_path / "newer.json")
    (tmp_path / "other.json").write_text('{"rows": []}')
    with pytest.raises(ConfigError, match="not an inferclock profile"):
        profile_diff(tmp_path / "other.json", path)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"iterations": 0}, ConfigError, r"iterations must be an integer in 1\.\.\d+, got 0"),
        ({"iterations": -1}, ConfigError, "iterations must be an integer.*got -1"),
        ({"iterations": "10"}, ConfigTypeError, "iterations must be an integer.*got '10'"),
        ({"iterations": 2.5}, ConfigTypeError, "iterations must be an integer"),
        ({"iterations": None}, ConfigTypeError, "iterations must be an integer"),
        ({"iterations": 5, "rounds": 6}, ConfigError, r"rounds \(6\) must not exceed"),
        ({"save_graph": "/tmp/graph.txt"}, ConfigError, "save_graph must name an .xml"),
        ({"precision": "fp8"}, ConfigError, "unknown precision|precision must be"),
        ({"device": "GPU"}, ConfigError, "device 'GPU' is not supported"),
    ],
)
def test_bad_arguments_are_typed_errors(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        profile("mobilenet_v2", **kwargs)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.integers(max_value=0), st.floats(), st.text(), st.booleans()))
def test_any_bad_iteration_count_is_refused_before_running(value: object) -> None:
    with pytest.raises(ConfigError, match="iterations"):
        profile("no-such-model-is-read", iterations=value)  # type: ignore[arg-type]


def test_a_model_that_fails_to_compile(u1_model: Path) -> None:
    with pytest.raises(DeviceError, match=r"could not compile the model on 'CPU'.*u1"):
        profile(u1_model, iterations=6)
    with pytest.raises(ic.ModelError, match="neither a file nor a built-in model"):
        profile("missing.xml", iterations=6)


def test_isolated_pinned_profile_saves_the_executed_graph(tmp_path: Path, u1_model: Path) -> None:
    graph = tmp_path / "exec.xml"
    p = profile("mobilenet_v2", cpus=[0], save_graph=graph, iterations=6, warmup=1)
    assert p.cpus == (0,) and p.graph_path == str(graph)
    # An executed graph is IR for reading (Netron, XML), not a model to load again.
    layers = ElementTree.parse(graph).getroot().iter("layer")
    names = {layer.get("name") for layer in layers}
    assert {x.name for x in p.executed_layers} <= names
    # A worker's error crosses as itself.
    with pytest.raises(DeviceError, match="could not compile"):
        profile(u1_model, cpus=[0], iterations=6)


def test_cli_profile_json_and_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], f32: Profile
) -> None:
    out = tmp_path / "cli.json"
    args = ["profile", "mobilenet_v2", "--iterations", "6", "--warmup", "1", "--top", "3"]
    assert main([*args, "--json", str(out), "--markdown", str(tmp_path / "p.md")]) == 0
    text = capsys.readouterr().out
    assert "Top 3 layers:" in text and "brgconv" in text and "layers' sum" in text
    saved = Profile.load(out)
    assert saved.iterations == 6 and saved.rounds == 6
    assert "| layer | type | kernel |" in (tmp_path / "p.md").read_text()
    base = f32.save(tmp_path / "base.json")
    assert main(["profile", "--diff", str(base), str(out), "--json", str(tmp_path / "d.json")]) == 0
    text = capsys.readouterr().out
    assert "layers matched by name and type" in text and "speedup" in text
    assert json.loads((tmp_path / "d.json").read_text())["matched_layers"] >= 52


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["profile"], "profile needs a MODEL"),
        (["profile", "--diff", "missing.json", "missing.json"], "'missing.json' not found"),
        (["profile", "mobilenet_v2", "--iterations", "0"], "iterations must be an integer"),
        (["profile", "mobilenet_v2", "--diff", "a.json", "b.json"], "not both"),
        (["profile", "--diff", "a.json", "b.json", "-p", "bf16"], "takes no run options"),
    ],
)
def test_cli_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_cli_error_in_a_fresh_process_has_no_traceback() -> None:
    cmd = [sys.executable, "-m", "inferclock", "profile", "mobilenet_v2", "--iterations", "-1"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd="/", timeout=120)
    assert r.returncode == 2 and "error: iterations must be an integer" in r.stderr
    assert "Traceback" not in r.stderr


def test_report_profiles_section(f32: Profile, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from synthetic import write_table

    table = write_table(tmp_path / "r.jsonl", [("tiny", "f32", 1, "latency")])
    plain = ic.report(table, tmp_path / "plain").read_text()
    assert "## Profiles" not in plain and "profile_" not in plain
    md = ic.report(table, tmp_path / "rep", profiles=[f32, f32.save(tmp_path / "p.json")])
    text = md.read_text()
    assert text.count("### mobilenet_v2 f32 b1 CPU") == 2
    assert "## Profiles" in text and "| Convolution | 35 |" in text
    for stem in ("profile_top_layers", "profile_by_type"):
        png = (tmp_path / "rep" / f"{stem}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and f"]({stem}.svg)" in text
        assert "<svg" in (tmp_path / "rep" / f"{stem}.svg").read_text()
