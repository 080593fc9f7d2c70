"""The raw C++ engine: construction, inputs, loops, config, runtime graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from procs import wait_for

from inferclock import _core


def test_engine_latency_loop_fills_the_buffer(matmul_model: Path) -> None:
    e = _core.Engine(str(matmul_model), "CPU", 2, {}, {"INFERENCE_PRECISION_HINT": "f32"})
    t = e.init_times
    assert t["read_ms"] > 0 and t["compile_ms"] > 0 and t["first_infer_ms"] > 0
    assert t["cache"] == "off"
    assert e.inputs[0]["shape"] == [2, 64]
    assert e.inputs[0]["partial_shape"] == "[?,64]"
    buf = np.zeros(100, dtype=np.int64)
    done, interrupted = e.run_sync(buf, 10, 50)
    assert (done, interrupted) == (50, False)
    assert np.all(buf[10:60] > 0) and np.all(buf[:10] == 0) and np.all(buf[60:] == 0)
    with pytest.raises(ValueError, match="outside the buffer"):
        e.run_sync(buf, 90, 20)


def test_engine_async_collects_completions(matmul_model: Path) -> None:
    e = _core.Engine(str(matmul_model), "CPU", 1, {}, {"PERFORMANCE_HINT": "THROUGHPUT"}, "", 3)
    assert e.num_requests == 3
    e.async_start()
    try:
        lat, end, interrupted = e.async_collect(200, 5.0)
    finally:
        e.async_stop()
    assert not interrupted
    assert lat.size >= 200 and lat.size == end.size
    assert np.all(lat > 0)
    assert np.all(np.diff(end.astype(np.float64)) >= 0), "completions come in completion order"
    assert int(end[0]) > e.async_start_tick


def test_generated_inputs_respect_their_types(two_input_model: Path, u8_model: Path) -> None:
    e = _core.Engine(str(two_input_model), "CPU", 3, input_sets=2, seed=7)
    feats = e.input_array(0, "features")
    ids = e.input_array(1, "ids")
    assert feats.dtype == np.float32 and feats.shape == (3, 8)
    assert 0.0 <= feats.min() and feats.max() < 1.0
    assert ids.dtype == np.int64 and ids.shape == (3, 4)
    assert ids.min() >= 0 and ids.max() <= 9
    assert not np.array_equal(e.input_array(0, "features"), e.input_array(1, "features"))
    again = _core.Engine(str(two_input_model), "CPU", 3, input_sets=2, seed=7)
    assert np.array_equal(again.input_array(1, "ids"), ids), "seeded"
    px = _core.Engine(str(u8_model), "CPU", 2).input_array(0, "pixels")
    assert px.dtype == np.uint8 and px.max() > 200 and px.min() < 50


def test_set_input_is_validated(two_input_model: Path) -> None:
    e = _core.Engine(str(two_input_model), "CPU", 2, input_sets=1)
    ids = np.full((2, 4), 3, dtype=np.int64)
    e.set_input(0, "ids", ids)
    assert np.array_equal(e.input_array(0, "ids"), ids)
    with pytest.raises(_core.ModelError, match=r"takes shape \[2,4\], got \[2,5\]"):
        e.set_input(0, "ids", np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(_core.ModelError, match="takes i64, got f32"):
        e.set_input(0, "ids", np.zeros((2, 4), dtype=np.float32))
    with pytest.raises(_core.ModelError, match="inputs: features, ids"):
        e.set_input(0, "nope", ids)


def test_config_and_runtime_ops(conv_model: Path) -> None:
    e = _core.Engine(str(conv_model), "CPU", 1, {}, {"INFERENCE_PRECISION_HINT": "f32"})
    cfg = e.config()
    for key in (
        "NUM_STREAMS",
        "INFERENCE_NUM_THREADS",
        "OPTIMAL_NUMBER_OF_INFER_REQUESTS",
        "INFERENCE_PRECISION_HINT",
        "EXECUTION_DEVICES",
    ):
        assert key in cfg
    assert cfg["INFERENCE_PRECISION_HINT"] == "f32"
    ops = e.runtime_ops()
    convs = [o for o in ops if o.get("layerType") == "Convolution"]
    assert convs and all("primitiveType" in o for o in convs)


def test_devices_and_checks() -> None:
    assert "CPU" in _core.available_devices()
    _core.check_device("CPU")
    _core.check_device("HETERO:CPU")
    _core.check_device("AUTO")
    with pytest.raises(_core.DeviceError, match=r"FPGA.*Devices present: CPU"):
        _core.check_device("HETERO:FPGA,CPU")
    with pytest.raises(_core.DeviceError, match="NOPE"):
        _core.check_device("NOPE")


def _poison(e: _core.Engine, input_set: int) -> None:
    e.set_input(input_set, "k", np.array([5.0], np.float32))


def test_engine_reuse_after_async_stop_returns_fresh_samples(matmul_model: Path) -> None:
    e = _core.Engine(str(matmul_model), "CPU", 1, {}, {"PERFORMANCE_HINT": "THROUGHPUT"}, "", 2)
    for _ in range(3):
        e.async_start()
        start = e.async_start_tick
        try:
            lat, end, interrupted = e.async_collect(50, 10.0)
        finally:
            e.async_stop()
        assert not interrupted
        assert lat.size >= 50, "a reused engine must run again, not stop at once"
        assert int(end.min()) > start, "samples of this run, not of an earlier one"
    buf = np.zeros(20, np.int64)
    assert e.run_sync(buf, 0, 20) == (20, False), "run_sync after async_stop"
    assert np.all(buf > 0)


def test_request_stop_holds_both_loops_until_cleared(matmul_model: Path) -> None:
    e = _core.Engine(str(matmul_model), "CPU", 1, {}, {}, "", 2)
    buf = np.zeros(10, np.int64)
    e.request_stop()
    assert e.run_sync(buf, 0, 10) == (0, False)
    e.async_start()
    lat, _, _ = e.async_collect(100_000, 10.0)
    e.async_stop()
    assert lat.size < 100_000
    e.clear_stop()
    assert e.run_sync(buf, 0, 10) == (10, False)


def test_run_sync_error_keeps_the_samples_before_it(poisonable_model: Path) -> None:
    e = _core.Engine(str(poisonable_model), "CPU", 1, input_sets=2)
    buf = np.zeros(10, np.int64)
    assert e.run_sync(buf, 0, 4) == (4, False)
    _poison(e, 1)  # iteration 0 runs set 0, iteration 1 set 1
    buf[:] = 0
    with pytest.raises(_core.DeviceError, match="inference failed on 'CPU'") as err:
        e.run_sync(buf, 2, 8)
    assert err.value.done == 1
    assert buf[2] > 0 and np.all(buf[3:] == 0) and np.all(buf[:2] == 0)


def test_every_sync_request_is_warmed_before_timing(poisonable_model: Path) -> None:
    e = _core.Engine(str(poisonable_model), "CPU", 1, input_sets=3)
    _poison(e, 2)
    # One timed inference needs only request 0, but requests 1 and 2 get their untimed
    # first inference before it: the poisoned one fails there, before anything is timed.
    with pytest.raises(_core.DeviceError) as err:
        e.run_sync(np.zeros(1, np.int64), 0, 1)
    assert err.value.done == 0


def test_async_error_keeps_the_completions_before_it(poisonable_model: Path) -> None:
    e = _core.Engine(str(poisonable_model), "CPU", 1, {}, {}, "", 3, 3)
    _poison(e, 2)  # async request 2 reads set 2; requests 0 and 1 each complete once
    e.async_start()
    try:
        with pytest.raises(_core.DeviceError, match="async inference failed") as err:
            e.async_collect(100_000, 10.0)
    finally:
        e.async_stop()
    lat, end = err.value.latency_ticks, err.value.end_ticks
    assert lat is not None and end is not None
    assert lat.size >= 2 and lat.size == end.size
    assert lat.dtype == np.int64 and end.dtype == np.uint64
    assert np.all(lat > 0) and np.all(np.diff(end.astype(np.float64)) >= 0)


def test_other_errors_carry_no_samples() -> None:
    with pytest.raises(_core.ModelError) as err:
        _core.Engine("/nonexistent/model.xml")
    assert err.value.done is None and err.value.latency_ticks is None


def test_stalls_on_a_full_ring_are_counted(matmul_model: Path) -> None:
    e = _core.Engine(str(matmul_model), "CPU", 1, {}, {}, "", 2, completion_capacity=1)
    e.async_start()
    try:
        # Nobody collects: every request parks on its one-slot ring. Wait for the stall to be
        # counted (however slowly a loaded machine runs the requests), not a guessed sleep.
        wait_for(lambda: e.async_stalls > 0, "a stall on the full ring")
        lats = []
        while sum(a.size for a in lats) < 500:
            lat, end, _ = e.async_collect(500, 10.0)
            assert lat.size > 0 and np.all(np.diff(end.astype(np.float64)) >= 0)
            lats.append(lat)
        stalls = e.async_stalls
    finally:
        e.async_stop()
    assert stalls > 0


def test_dropped_callbacks_are_lost_completions_taken_back(matmul_model: Path) -> None:
    # Fault injection: one callback in four returns as if OpenVINO had never made it, eight
    # times; the collector must find each such request done, take it back and restart it.
    e = _core.Engine(str(matmul_model), "CPU", 1, {}, {"PERFORMANCE_HINT": "THROUGHPUT"}, "", 3)
    e._drop_completions(8, 4)
    e.async_start()
    try:
        got = 0
        while got < 400:
            lat, _, _ = e.async_collect(400 - got, 10.0)
            assert lat.size > 0, "requests whose callback was dropped were not restarted"
            got += lat.size
    finally:
        e.async_stop()
    ticks = e.async_lost_ticks
    assert e.async_lost >= 8, "OpenVINO may lose one of its own too, never fewer"
    assert ticks.dtype == np.uint64 and ticks.size == e.async_lost
    assert np.all(np.diff(ticks.astype(np.float64)) >= 0) and int(ticks[0]) > e.async_start_tick
