"""Runs end and stay bounded, and bad values are refused up front (issue 15, items 2, 3, 5, 6):
each reproducer that used to hang, exhaust memory or fail late runs in a fresh process with a
timeout where a hang or a crash is possible."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import inferclock as ic


def run_py(code: str, timeout: float = 120) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter; it prints one JSON line last."""
    p = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


CATCH = """
import json, math, numpy as np, inferclock as ic
def attempt(f):
    try:
        f()
        return {"raised": None}
    except Exception as e:
        return {"raised": type(e).__name__, "msg": str(e),
                "mro": [c.__name__ for c in type(e).__mro__]}
"""


@pytest.mark.parametrize(
    ("call", "name"),
    [
        ("ic.measure(lambda: None, max_time=math.nan, target_ci=1e-4)", "max_time"),
        ("ic.measure(lambda: None, max_time=math.inf, target_ci=1e-4)", "max_time"),
        ("ic.measure(lambda: None, min_time=math.nan)", "min_time"),
        ("ic.measure(lambda: None, duration=math.inf)", "duration"),
        ("ic.measure(lambda: None, warmup=math.nan)", "warmup"),
        ("ic.measure(lambda: None, warmup=1e9)", "warmup"),
        ("ic.measure(lambda: None, target_ci=math.nan)", "target_ci"),
        ("ic.run('{m}', timeout=math.nan)", "timeout"),
        ("ic.run('{m}', timeout=-1)", "timeout"),
        ("ic.run('{m}', seed=-1)", "seed"),
        ("ic.run('{m}', seed=2**70)", "seed"),
        ("ic.run('{m}', shapes={{'x': [1, -5]}})", "shapes"),
        ("ic.run('{m}', shapes={{'x': [1, 0]}})", "shapes"),
        ("ic.run('{m}', shapes={{'x': [1, 99999999999999999999]}})", "shapes"),
        ("ic.run('{m}', shapes={{'x': '1,64'}})", "shapes"),
        ("ic.run('{m}', shapes={{'x': [1, -1]}})", "shapes"),
        ("ic.run('{m}', shapes={{'x': [64, 64]}})", "batch_size"),
        ("ic.run('{m}', max_samples=10)", "max_samples"),
        ("ic.run('{m}', iterations=10**6, max_samples=1000)", "max_samples"),
        ("ic.sweep('{m}', out='{d}/r.jsonl', seed=-1)", "seed"),
    ],
)
def test_bad_values_are_refused_by_name(
    call: str, name: str, matmul_model: Path, tmp_path: Path
) -> None:
    code = CATCH + f"print(json.dumps(attempt(lambda: {call.format(m=matmul_model, d=tmp_path)})))"
    out = run_py(code, timeout=60)
    assert out["raised"] is not None, "accepted"
    assert "InferclockError" in out["mro"] and {"ValueError", "TypeError"} & set(out["mro"]), out
    assert name in out["msg"], out["msg"]
    assert not (tmp_path / "r.jsonl").exists(), "a refused sweep wrote a results file"


def test_the_batch_dimension_of_shapes_can_come_from_batch_size(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), batch_size=3, shapes={"x": [-1, 64]}, iterations=5, warmup=0)
    assert r.inputs[0]["shape"] == [3, 64] and r.to_dict()["shapes"] == {"x": [-1, 64]}
    r = ic.run(str(matmul_model), batch_size=2, shapes={"x": [2, 64]}, iterations=5, warmup=0)
    assert r.inputs[0]["shape"] == [2, 64]


def test_cli_refuses_nan_max_time(matmul_model: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "inferclock", "run", str(matmul_model), "--max-time", "nan"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2 and p.stderr.startswith("error: ") and "max_time" in p.stderr


def test_a_huge_warmup_ends_at_max_time() -> None:
    out = run_py(
        CATCH
        + """
m = ic.measure(lambda: None, warmup=10**9, max_time=0.3, max_samples=200_000)
w = ic.measure(lambda: None, warmup=1e6, duration=0.05, max_time=0.3)
print(json.dumps({"n": int(m.warmup_ns.size), "stop": m.stop_reason,
                  "w": float(w.warmup_ns.sum()) / 1e9}))
""",
        timeout=60,
    )
    # The count warm-up stopped at max_samples (200k of 10**9); the time warm-up (11 days
    # asked) at max_time. A warm-up that ignored them would have hit the process timeout.
    assert out["n"] <= 200_000
    assert out["w"] < 1.0


def test_a_long_run_of_fast_calls_stops_at_max_samples() -> None:
    m = ic.measure(lambda: None, duration=10, warmup=0, max_samples=100_000)
    # It stopped at the cap, not at the duration (the reason says which came first; its wall
    # time is the machine's load).
    assert m.stop_reason == "max_samples" and m.samples_ns.size == 100_000


def test_the_default_cap_bounds_memory() -> None:
    # The reproducer of the report: 188 million samples and 7.4 GB before the cap.
    out = run_py(
        """
import json, resource, inferclock as ic
m = ic.measure(lambda: None, duration=10, warmup=0)
print(json.dumps({"n": int(m.samples_ns.size), "stop": m.stop_reason,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""",
        timeout=120,
    )
    assert out["stop"] == "max_samples" and out["n"] == ic.RunOptions().max_samples
    assert out["rss_mb"] < 2048, out


def test_run_stops_at_max_samples_too(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), duration=30, warmup=0, max_samples=500)
    assert r.stop_reason == "max_samples" and r.n == 500
    assert np.all(r.samples_ns > 0)


def test_generator_and_async_functions_are_refused_by_measure() -> None:
    def gen() -> Any:
        yield 1

    async def coro() -> None:
        pass

    async def agen() -> Any:
        yield 1

    for fn, word in ((gen, "generator"), (coro, "async"), (agen, "generator")):
        with pytest.raises(ic.ConfigTypeError, match=word):
            ic.measure(fn)


def test_a_builtin_model_object_is_a_model() -> None:
    m = ic.models.get("mobilenet_v2")
    r = ic.run(m, iterations=3, warmup=0)
    assert r.model == "mobilenet_v2" and r.macs == ic.models.macs("mobilenet_v2")
