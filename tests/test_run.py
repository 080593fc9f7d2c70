"""ic.run on small models built in the tests."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from procs import interrupt_when_timing

import inferclock as ic


def test_latency_mode(matmul_model: Path) -> None:
    r = ic.run(str(matmul_model), iterations=300, warmup=20)
    assert r.samples_ns.dtype == np.int64 and len(r.samples_ns) == 300
    assert r.latency.n == 300 and r.warmup_ns.size == 20
    assert r.stop_reason == "iterations" and not r.interrupted
    assert r.mode == "latency" and r.requests == 1
    assert r.latency.median_ns == pytest.approx(np.median(r.samples_ns))
    assert r.throughput == pytest.approx(1e9 / r.samples_ns.mean())
    assert r.init.read_ms > 0 and r.init.compile_ms > 0 and r.init.first_infer_ms > 0
    assert r.config["PERFORMANCE_HINT"] == "LATENCY"
    assert r.config["INFERENCE_PRECISION_HINT"] == "f32"
    assert r.precision_executed == "f32"
    assert r.macs == 64 * 64
    assert not r.isolated and r.cpus is None
    row = r.to_dict()
    assert row["n"] == 300 and row["latency_ci95_low_ns"] <= row["latency_median_ns"]
    assert "PERFORMANCE_HINT=LATENCY" in r.summary()


def test_throughput_mode(conv_model: Path) -> None:
    r = ic.run(
        str(conv_model), mode="throughput", batch_size=4, iterations=200, warmup=10, requests=3
    )
    assert len(r.samples_ns) == 200 and len(r.warmup_ns) == 10
    assert r.requests == 3 and r.config["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert r.inputs[0]["shape"] == [4, 3, 32, 32]
    # Samples per second over the window: each of the three requests completes at most once
    # per its shortest latency (plus the one it had started), so n completions need a window
    # of at least (n/3 - 1) shortest latencies (the lost completions it counts add to n). How
    # much less a loaded machine gave is not asserted.
    lost, shortest_s = r.async_lost or 0, r.samples_ns.min() / 1e9
    assert 0 < r.throughput <= 4 * (r.n + lost) / ((r.n / 3 - 1) * shortest_s)


def test_adaptive_stop_and_duration(matmul_model: Path, conv_model: Path) -> None:
    r = ic.run(str(matmul_model), target_ci=0.2, max_time=10.0)
    assert r.stop_reason == "target_ci"
    # Not the 2 us matmul: over 10^5 of its samples the median's bounding order statistics
    # can be the same nanosecond, an interval of width 0 that meets any target.
    r = ic.run(str(conv_model), target_ci=1e-9, max_time=0.3)
    assert r.stop_reason == "max_time"
    r = ic.run(str(matmul_model), duration=0.2, warmup=0.05)
    # At least its duration, and its calls fit in it; how far the last chunk ran past it is
    # the machine's load (the stop rule's exact bounds: test_stopping.py, on a virtual clock).
    assert r.stop_reason == "duration" and r.elapsed_s >= 0.2
    assert r.samples_ns.sum() <= r.elapsed_s * 1e9


def test_batch_reshape(conv_model: Path) -> None:
    for b in (1, 3):
        r = ic.run(str(conv_model), batch_size=b, iterations=5, warmup=1)
        assert r.inputs[0]["shape"] == [b, 3, 32, 32]
        assert r.batch_size == b


def test_two_inputs_and_user_arrays(two_input_model: Path) -> None:
    feats = np.ones((2, 8), dtype=np.float32)
    ids = np.zeros((2, 4), dtype=np.int64)
    r = ic.run(
        str(two_input_model),
        batch_size=2,
        iterations=20,
        warmup=2,
        inputs={"features": feats, "ids": ids},
    )
    assert r.n == 20
    with pytest.raises(ic.ModelError, match="shape"):
        ic.run(
            str(two_input_model),
            batch_size=2,
            iterations=5,
            inputs={"features": np.ones((3, 8), np.float32), "ids": ids},
        )
    with pytest.raises(ic.ModelError, match="takes i64, got i32"):
        ic.run(
            str(two_input_model),
            batch_size=2,
            iterations=5,
            inputs={"features": feats, "ids": ids.astype(np.int32)},
        )


def test_ov_model_object_is_accepted() -> None:
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 16], np.float32, name="x")
    m = ov.Model([ops.relu(x)], [x], "tiny_relu")
    r = ic.run(m, iterations=10, warmup=1)
    assert r.model == "tiny_relu" and r.n == 10


def test_builtin_name_is_accepted() -> None:
    r = ic.run("mobilenet_v2", iterations=3, warmup=1)
    assert r.model == "mobilenet_v2" and r.macs and r.macs > 2.9e8


def test_sigint_ends_a_long_run_with_a_partial_result(slow_model: Path) -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")
    for mode in ("latency", "throughput"):
        # The Ctrl-C comes once samples are being timed, not after a guessed second (a loaded
        # machine can still be compiling then, where Ctrl-C rightly raises).
        presser = interrupt_when_timing()
        t0 = time.monotonic()
        r = ic.run(str(slow_model), mode=mode, batch_size=4, warmup=0.1, duration=60.0)
        took = time.monotonic() - t0
        presser.join()
        assert r.interrupted and r.stop_reason == "interrupted"
        assert r.n > 0
        # Stopped at the Ctrl-C, not after the 60 s asked for (a hang guard, not a deadline).
        assert took < 0.75 * 60.0, f"{mode}: took {took:.2f} s"


def test_an_engine_error_comes_with_the_run_so_far(poisonable_model: Path) -> None:
    # Input set 1 makes OpenVINO fail at inference time (see conftest): the run fails (here
    # while its requests are warmed, before any timing) and the error carries the partial
    # RunResult, across the worker boundary too.
    x = np.zeros((1, 64), np.float32)
    good = {"x": x, "k": np.array([0.0], np.float32)}
    bad = {"x": x, "k": np.array([5.0], np.float32)}
    for isolate in (False, True):
        with pytest.raises(ic.DeviceError, match="inference failed") as info:
            ic.run(str(poisonable_model), inputs=[good, bad], warmup=0, iterations=50,
                   isolate=isolate)  # fmt: skip
        partial = info.value.partial_result  # type: ignore[attr-defined]
        assert isinstance(partial, ic.RunResult)
        assert partial.stop_reason == "error" and partial.isolated == isolate


def test_drive_keeps_the_chunks_before_an_error_and_the_failing_chunk_s_part() -> None:
    from inferclock._timing import control as _control

    calls = [0]

    def sampler(n: int, budget_s: float) -> tuple[np.ndarray, bool]:
        calls[0] += 1
        if calls[0] == 3:
            e = ic.DeviceError("inference failed")
            e.partial_ticks = np.array([7, 8], np.int64)  # type: ignore[attr-defined]
            raise e
        return np.full(n, calls[0], np.int64), False

    rule = _control.make_rule(warmup=1, iterations=10**8, max_samples=10**9)
    driven = _control.drive(sampler, rule, on_interrupt="partial")
    assert driven.stop_reason == "error" and isinstance(driven.error, ic.DeviceError)
    assert driven.warmup.tolist() == [1]
    assert driven.samples[0] == 2 and driven.samples[-2:].tolist() == [7, 8]
    with pytest.raises(ic.DeviceError):
        calls[0] = 0
        _control.drive(sampler, rule)  # on_interrupt="raise": the error propagates


def test_pinned_run_goes_to_a_worker(matmul_model: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    r = ic.run(str(matmul_model), cpus=[cpu], iterations=50, warmup=5)
    assert r.isolated and r.cpus == [cpu]
    assert r.config["INFERENCE_NUM_THREADS"] == "1"
    assert r.n == 50
    assert os.sched_getaffinity(0) != {cpu} or len(os.sched_getaffinity(0)) == 1


def test_registered_plugin_under_another_name(matmul_model: Path) -> None:
    import openvino

    lib = Path(openvino.__file__).parent / "libs" / "libopenvino_intel_cpu_plugin.so"
    ic.register_plugin(lib, "TESTCPU")
    assert "TESTCPU" in ic.devices()
    r = ic.run(str(matmul_model), device="TESTCPU", iterations=20, warmup=2)
    assert r.n == 20 and r.device == "TESTCPU"
    r = ic.run(str(matmul_model), device="HETERO:TESTCPU,CPU", iterations=20, warmup=2)
    assert r.n == 20
    # replayed in a worker process
    r = ic.run(str(matmul_model), device="TESTCPU", iterations=10, warmup=1, isolate=True)
    assert r.isolated and r.n == 10


def test_strict_precision_is_checked(conv_model: Path) -> None:
    flags = Path("/proc/cpuinfo").read_text()
    if "avx512_fp16" in flags or "amx_fp16" in flags:
        pytest.skip("this CPU runs f16")
    with pytest.raises(ic.PrecisionError, match="requested f16"):
        ic.run(str(conv_model), precision="f16", iterations=5)
    with pytest.warns(ic.PrecisionWarning):
        r = ic.run(str(conv_model), precision="f16", iterations=5, strict=False)
    assert r.precision_requested == "f16" and r.precision_executed in ("bf16", "f32")


def test_a_static_input_whose_dim_0_is_not_a_batch_is_never_reshaped_silently(
    tmp_path: Path,
) -> None:
    # Like Silero VAD's LSTM state [2, 1, 128]: static, no layout, dim 0 neither 1 nor the batch.
    import openvino as ov
    import openvino.opset13 as ops

    x = ops.parameter([1, 8], np.float32, name="x")
    state = ops.parameter([2, 1, 4], np.float32, name="state")
    total = ops.reduce_sum(state, np.array([0, 1, 2], np.int64), False)
    out = ops.add(ops.relu(x), total)
    path = tmp_path / "stateful.xml"
    ov.save_model(ov.Model([out], [x, state], "stateful"), str(path))
    with pytest.raises(ic.ConfigError, match=r"'state' has the static shape \[2, 1, 4\]"):
        ic.run(str(path), iterations=5)
    r = ic.run(str(path), iterations=5, shapes={"state": [2, 1, 4]})
    assert {i["name"]: i["shape"] for i in r.inputs} == {"x": [1, 8], "state": [2, 1, 4]}
    with pytest.raises(ic.ConfigError, match="sets the batch dimension"):
        ic.run(str(path), iterations=5, shapes={"state": [3, 1, 4]})
