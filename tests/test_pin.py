"""ic.pin() on this machine: masks applied and restored, threads, memory binding, bad input."""

from __future__ import annotations

import gc
import itertools
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inferclock import _core
from inferclock._core import InferclockError, PinningError
from inferclock._platform.pin import active_pins, pin
from inferclock._platform.topology import affinity, current_cpu, openvino_cpu_started, topology

SYSFS = Path(__file__).parent / "data" / "sysfs"
ALLOWED = sorted(os.sched_getaffinity(0))
needs_two = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs at least 2 allowed CPUs")

# Other tests in this session may have started OpenVINO's CPU plugin, which makes every pin
# warn; the warning itself is tested in a fresh process below.
pytestmark = pytest.mark.filterwarnings("ignore::inferclock._platform.topology.PinningWarning")


@pytest.fixture(autouse=True)
def nothing_left_pinned() -> Iterator[None]:
    before = os.sched_getaffinity(0)
    yield
    assert active_pins() == []
    assert os.sched_getaffinity(0) == before


@pytest.mark.parametrize("scope", ["process", "thread"])
def test_each_allowed_cpu(scope: str) -> None:
    for cpu in ALLOWED:
        with pin(cpus=[cpu], scope=scope) as p:  # type: ignore[arg-type]
            assert os.sched_getaffinity(0) == {cpu}
            assert affinity() == [cpu]
            assert current_cpu() == cpu
            assert p.cpus == (cpu,) and p.active and p.scope == scope
            assert active_pins() == [p]
        assert not p.active
        assert os.sched_getaffinity(0) == set(ALLOWED)


def test_restored_when_block_raises() -> None:
    with pytest.raises(RuntimeError, match="boom"), pin(cpus=ALLOWED[-1]):
        assert os.sched_getaffinity(0) == {ALLOWED[-1]}
        raise RuntimeError("boom")
    assert os.sched_getaffinity(0) == set(ALLOWED)


@needs_two
def test_nested_pins_restore_in_order() -> None:
    a, b = ALLOWED[0], ALLOWED[1]
    with pin(cpus=[a, b]):
        with pin(cpus=[a]):
            with pin(cpus=str(b)):  # the inner pin may leave the outer one's set
                assert os.sched_getaffinity(0) == {b} and current_cpu() == b
            assert os.sched_getaffinity(0) == {a}
        assert os.sched_getaffinity(0) == {a, b}
    assert os.sched_getaffinity(0) == set(ALLOWED)


def test_process_pin_seen_by_threads() -> None:
    cpu = ALLOWED[-1]
    seen: dict[str, object] = {}
    started = threading.Event()
    release = threading.Event()

    def early() -> None:  # started before the pin
        started.set()
        release.wait()
        seen["early"] = os.sched_getaffinity(0)

    def late() -> None:  # started inside the pin
        seen["late"] = os.sched_getaffinity(0)
        seen["late_cpu"] = current_cpu()

    t0 = threading.Thread(target=early)
    t0.start()
    started.wait()
    with pin(cpus=[cpu], scope="process"):
        t1 = threading.Thread(target=late)
        t1.start()
        t1.join()
        release.set()
        t0.join()
    assert seen == {"early": {cpu}, "late": {cpu}, "late_cpu": cpu}


@needs_two
def test_thread_pin_leaves_other_threads_alone() -> None:
    seen: dict[str, set[int]] = {}
    go = threading.Event()

    def other() -> None:
        go.wait()
        seen["other"] = os.sched_getaffinity(0)

    t = threading.Thread(target=other)
    t.start()
    with pin(cpus=[ALLOWED[0]], scope="thread"):
        go.set()
        t.join()
    assert seen["other"] == set(ALLOWED)


def test_plain_call_pins_until_release() -> None:
    cpu = ALLOWED[0]

    def apply() -> None:
        pin(cpus=[cpu])  # handle dropped on purpose

    apply()
    gc.collect()
    assert os.sched_getaffinity(0) == {cpu}
    (p,) = active_pins()
    assert repr(p).startswith(f"<Pin cpus='{cpu}'")
    p.release()
    p.release()
    assert os.sched_getaffinity(0) == set(ALLOWED)


def test_socket_and_node_pins() -> None:
    t = topology()
    with pin(socket=t.sockets[0]) as p:
        assert p.cpus == tuple(t.cpus(socket=t.sockets[0]))
        assert os.sched_getaffinity(0) == set(p.cpus)
    with pin(numa_node=t.numa_nodes[0].id, physical_only=True) as p:
        assert os.sched_getaffinity(0) == set(
            t.cpus(numa_node=t.numa_nodes[0].id, physical_only=True)
        )


@pytest.mark.parametrize("scope", ["process", "thread"])
def test_membind_applied_and_restored(scope: str) -> None:
    before = _core.mempolicy()
    node = topology().numa_nodes[0].id
    try:
        p = pin(numa_node=node, membind=True, scope=scope)  # type: ignore[arg-type]
    except PinningError as e:
        pytest.skip(f"the kernel refuses set_mempolicy here: {e}")
    with p:
        assert p.membind_nodes == (node,)
        assert _core.mempolicy() == ("bind", [node])
        # Allocation under the policy works (bound to a node that has memory).
        assert len(bytearray(8 << 20)) == 8 << 20
    assert _core.mempolicy() == before


def bad_cases() -> list[tuple[dict[str, object], str]]:
    t = topology()
    socket = max(t.sockets) + 5
    node = max(n.id for n in t.numa_nodes) + 9
    return [
        ({"socket": socket}, f"no socket {socket} .*valid sockets are "),
        ({"numa_node": node}, f"no NUMA node {node} .*valid nodes are "),
        ({"cpus": []}, "cpus must name at least one CPU; this process may use "),
        ({"cpus": [999]}, "no CPU 999 on this machine .*this process may use "),
        ({"cpus": [0], "socket": 0}, "at most one of cpus, socket or numa_node"),
        ({"socket": 0, "numa_node": 0}, "at most one of cpus, socket or numa_node"),
        ({"cpus": "0-x"}, "bad CPU list '0-x'"),
        ({"cpus": [0], "scope": "everything"}, "scope must be 'process' or 'thread'"),
    ]


@pytest.mark.parametrize(("kwargs", "message"), bad_cases())
def test_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PinningError, match=message) as e:
        pin(**kwargs)  # type: ignore[arg-type]
    assert isinstance(e.value, ValueError) and isinstance(e.value, InferclockError)


def test_bad_input_against_other_topologies() -> None:
    # Choices checked against a Topology that was read elsewhere (here: fake trees).
    box = topology(str(SYSFS / "container-2-5"))
    with pytest.raises(PinningError, match="CPU 0 is outside the CPUs this process may use: 2-5"):
        pin(cpus=[0], topology=box)
    xeon = topology(str(SYSFS / "xeon-2s"))
    with pytest.raises(
        PinningError,
        match="physical_only keeps each core's first hardware "
        "thread, and those this process may use are 0-31",
    ):
        pin(cpus=[32, 33], physical_only=True, topology=xeon)
    off = topology(str(SYSFS / "offline-cpus"))
    with pytest.raises(PinningError, match="CPU 6-7 is offline"):
        pin(cpus=[6, 7], topology=off)


@pytest.mark.skipif((os.cpu_count() or 0) >= 64, reason="needs fewer than 64 CPUs")
def test_apply_failure_leaves_nothing_pinned() -> None:
    # A valid selection on the 64-CPU fake Xeon names CPUs this machine lacks: the kernel
    # refuses the mask and the guard rolls back: nothing stays pinned (fixture checks).
    xeon = topology(str(SYSFS / "xeon-2s"))
    cpus = [c for c in xeon.cpus(socket=1) if c >= (os.cpu_count() or 0)]
    with pytest.raises(PinningError, match="sched_setaffinity"):
        pin(cpus=cpus, topology=xeon)


def run_fresh(code: str, *, cpus: set[int] | None = None) -> str:
    """Run code in a new interpreter (optionally started with a CPU mask); return stdout."""
    r = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


@needs_two
def test_cpu_outside_the_process_mask() -> None:
    # A process started on one CPU may not pin to another (the "allowed" set is its mask).
    out = run_fresh(
        f"""
        from inferclock._platform.pin import pin
        from inferclock._platform.topology import topology
        from inferclock._core import PinningError
        assert topology().allowed == ({ALLOWED[0]},)
        try:
            pin(cpus=[{ALLOWED[1]}])
        except PinningError as e:
            print(e)
        """,
        cpus={ALLOWED[0]},
    )
    assert f"CPU {ALLOWED[1]} is outside the CPUs this process may use: {ALLOWED[0]}" in out


def test_warning_after_openvino_cpu_plugin_started() -> None:
    out = run_fresh(
        f"""
        import warnings
        warnings.simplefilter("error")
        from inferclock._platform.pin import pin
        from inferclock._platform.topology import PinningWarning, openvino_cpu_started
        import openvino as ov
        core = ov.Core()
        assert not openvino_cpu_started()
        with pin(cpus=[{ALLOWED[0]}]):  # no warning: the plugin has not started
            pass
        core.get_property("CPU", "FULL_DEVICE_NAME")
        assert openvino_cpu_started()
        try:
            pin(cpus=[{ALLOWED[0]}])
        except PinningWarning as w:
            print("warned:", w)
        """
    )
    assert "warned: pinning to CPUs" in out and "after OpenVINO's CPU plugin started" in out


@needs_two
def test_openvino_follows_a_pin_made_first() -> None:
    # OpenVINO reads the process mask when its CPU plugin starts: pinned first, it uses
    # exactly the pinned CPUs' worth of threads.
    out = run_fresh(
        f"""
        import numpy as np
        from inferclock._platform.pin import pin
        p = pin(cpus=[{ALLOWED[0]}])
        import openvino as ov
        import openvino.opset13 as ops
        x = ops.parameter([1, 32], np.float32, name="x")
        m = ov.Model([ops.relu(x)], [x], "tiny")
        print(ov.Core().compile_model(m, "CPU").get_property("INFERENCE_NUM_THREADS"))
        """
    )
    assert out.strip() == "1"


def test_openvino_not_started_in_a_bare_process() -> None:
    out = run_fresh(
        "from inferclock._platform.topology import openvino_cpu_started\n"
        "print(openvino_cpu_started())"
    )
    assert out.strip() == "False"
    assert isinstance(openvino_cpu_started(), bool)


# ---------------------------------------------------------------- release order (issue 15)


def _newest_or_unpinned() -> set[int]:
    pins = active_pins()
    return set(pins[-1].cpus) if pins else set(ALLOWED)


@needs_two
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_process_pins_release_in_any_order(order: tuple[int, ...]) -> None:
    # The mask in force is always the newest active pin's; after the last release, nothing
    # stays pinned (the fixture checks the mask and active_pins()).
    a, b = ALLOWED[0], ALLOWED[1]
    pins = [pin(cpus=[a]), pin(cpus=[b]), pin(cpus=[a, b])]
    for i in order:
        pins[i].release()
        assert not pins[i].active
        assert active_pins() == [p for p in pins if p.active]
        assert os.sched_getaffinity(0) == _newest_or_unpinned()


@needs_two
def test_first_pin_released_first_leaves_nothing_pinned() -> None:
    a = pin(cpus=[ALLOWED[0]])
    b = pin(cpus=[ALLOWED[1]])
    a.release()
    assert os.sched_getaffinity(0) == {ALLOWED[1]} and active_pins() == [b]
    b.release()
    assert os.sched_getaffinity(0) == set(ALLOWED) and active_pins() == []
    a.release()  # still idempotent
    assert os.sched_getaffinity(0) == set(ALLOWED)


@needs_two
@pytest.mark.parametrize(
    ("older", "newer"), [("thread", "thread"), ("process", "thread")], ids=["t-t", "p-t"]
)
def test_release_before_a_newer_thread_pin_raises_and_changes_nothing(
    older: str, newer: str
) -> None:
    p = pin(cpus=[ALLOWED[0]], scope=older)  # type: ignore[arg-type]
    q = pin(cpus=[ALLOWED[1]], scope=newer)  # type: ignore[arg-type]
    with pytest.raises(PinningError, match=r"cannot release <Pin cpus='0'.*release them first"):
        p.release()
    assert p.active and q.active and active_pins() == [p, q]
    assert os.sched_getaffinity(0) == {ALLOWED[1]}
    q.release()
    assert os.sched_getaffinity(0) == {ALLOWED[0]}
    p.release()


@needs_two
def test_thread_pin_released_under_a_newer_process_pin() -> None:
    t = pin(cpus=[ALLOWED[0]], scope="thread")
    p = pin(cpus=[ALLOWED[1]])
    t.release()  # the process pin covers this thread: t is undone with it
    assert os.sched_getaffinity(0) == {ALLOWED[1]} and active_pins() == [p]
    p.release()
    assert os.sched_getaffinity(0) == set(ALLOWED)


@needs_two
def test_thread_pins_of_other_threads_are_independent() -> None:
    # A thread-scope pin on another thread does not hold this thread's pin back.
    made, done = threading.Event(), threading.Event()
    seen: dict[str, object] = {}

    def other() -> None:
        with pin(cpus=[ALLOWED[1]], scope="thread"):
            made.set()
            done.wait(30)
            seen["other"] = os.sched_getaffinity(0)

    mine = pin(cpus=[ALLOWED[0]], scope="thread")
    t = threading.Thread(target=other)
    t.start()
    try:
        assert made.wait(30)
        mine.release()  # older than the other thread's pin, but on another thread
        assert os.sched_getaffinity(0) == set(ALLOWED)
    finally:
        done.set()
        t.join(30)
    assert seen["other"] == {ALLOWED[1]}


def test_membind_pin_must_be_released_before_newer_pins() -> None:
    node = topology().numa_nodes[0].id
    try:
        m = pin(numa_node=node, membind=True)
    except PinningError as e:
        pytest.skip(f"the kernel refuses set_mempolicy here: {e}")
    q = pin(cpus=[ALLOWED[0]])
    with pytest.raises(PinningError, match="membind"):
        m.release()
    assert m.active and _core.mempolicy() == ("bind", [node])
    q.release()
    m.release()


# ---------------------------------------------------------------- argument checks (issue 15)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cpus": [2**40]}, r"cpus must be CPU numbers in 0\.\.65535 .*got \[1099511627776\]"),
        ({"cpus": -1}, r"cpus must be CPU numbers in 0\.\.65535 .*got -1"),
        ({"cpus": [0.5]}, r"cpus must be CPU numbers in 0\.\.65535 .*got \[0.5\]"),
        ({"cpus": [True]}, r"cpus must be CPU numbers in 0\.\.65535 .*got \[True\]"),
        ({"cpus": 1.0}, r"cpus must be a CPU list like '0-3,8' or \[0, 1\], got 1.0"),
        ({"cpus": b"0"}, "cpus must be a CPU list like"),
        ({"cpus": {0: 1}}, "cpus must be a CPU list like"),
        ({"cpus": "0-99999999999"}, "cpus: bad CPU list '0-99999999999'"),
        ({"cpus": [999]}, "cpus: no CPU 999 on this machine"),
        ({"socket": "0"}, "socket must be a non-negative socket number or None, got '0'"),
        ({"socket": 0.0}, "socket must be a non-negative socket number"),
        ({"socket": 2**40}, "socket: no socket 1099511627776 .*valid sockets are "),
        ({"numa_node": True}, "numa_node must be an integer >= 0 or None, got True"),
        ({"numa_node": -1}, "numa_node must be an integer >= 0 or None, got -1"),
        ({"numa_node": 2**70}, "numa_node: no NUMA node .*valid nodes are "),
        ({"physical_only": "yes"}, "physical_only must be True or False, got 'yes'"),
        ({"physical_only": None}, "physical_only must be True or False, got None"),
        ({"membind": 1}, "membind must be True or False, got 1"),
        ({"scope": ["process"]}, "scope must be 'process' or 'thread'"),
        ({"core_type": 5}, "core_type must be 'P', 'E' or None, got 5"),
        ({"core_type": ""}, "core_type must be 'P', 'E' or None, got ''"),
        ({"topology": 3}, "topology must be a Topology from ic.topology"),
    ],
)
def test_arguments_are_checked_in_python(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PinningError, match=message) as e:
        pin(**kwargs)  # type: ignore[arg-type]
    assert isinstance(e.value, InferclockError) and isinstance(e.value, ValueError)
    # Checked before the core: pybind11's "incompatible function arguments" never shows.
    assert "incompatible" not in str(e.value)


@pytest.mark.parametrize(
    "cpus",
    [
        ALLOWED[-1],
        [ALLOWED[-1]],
        str(ALLOWED[-1]),
        f"{ALLOWED[-1]}-{ALLOWED[-1]}",
        np.array([ALLOWED[-1]]),
        range(ALLOWED[-1], ALLOWED[-1] + 1),
    ],
    ids=["int", "list", "text", "range-text", "numpy", "range"],
)
def test_cpus_take_the_run_option_forms(cpus: object) -> None:
    with pin(cpus=cpus) as p:  # type: ignore[arg-type]
        assert p.cpus == (ALLOWED[-1],)


def test_max_cpu_is_the_core_limit() -> None:
    from inferclock._platform.pin import MAX_CPU

    assert _core.parse_cpulist(str(MAX_CPU)) == [MAX_CPU]
    with pytest.raises(PinningError, match="outside"):
        _core.parse_cpulist(str(MAX_CPU + 1))
