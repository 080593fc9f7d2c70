"""The raw extension's topology, affinity and pinning primitives (inferclock._core)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from inferclock import _core

SYSFS = Path(__file__).parent / "data" / "sysfs"


def tree(name: str) -> str:
    return str(SYSFS / name)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("0-3,8", [0, 1, 2, 3, 8]),
        ("0-3,8\n", [0, 1, 2, 3, 8]),
        ("", []),
        ("\n", []),
        ("5", [5]),
        ("8,0-2,1", [0, 1, 2, 8]),
        (" 0 - 1 , 4 ", [0, 1, 4]),
    ],
)
def test_parse_cpulist(text: str, cpus: list[int]) -> None:
    assert _core.parse_cpulist(text) == cpus


@pytest.mark.parametrize(
    ("cpus", "text"),
    [
        ([0, 1, 2, 3, 8], "0-3,8"),
        ([8, 3, 2, 1, 0, 0], "0-3,8"),
        ([], ""),
        ([7], "7"),
        ([0, 2, 4], "0,2,4"),
        ([1, 2, 5, 6, 7, 9], "1-2,5-7,9"),
    ],
)
def test_format_cpulist(cpus: list[int], text: str) -> None:
    assert _core.format_cpulist(cpus) == text
    assert _core.parse_cpulist(text) == sorted(set(cpus))


@pytest.mark.parametrize("bad", ["a", "0-", "-1", "3-1", "1,,2", "0-99999999", "1.5"])
def test_parse_cpulist_rejects(bad: str) -> None:
    with pytest.raises(_core.PinningError, match="bad CPU list") as e:
        _core.parse_cpulist(bad)
    assert isinstance(e.value, ValueError)
    assert f"'{bad}'" in str(e.value)


def test_read_topology_fields_xeon() -> None:
    t = _core.read_topology(tree("xeon-2s"))
    assert t.root == tree("xeon-2s")
    assert t.online == list(range(64)) and t.possible == list(range(64))
    assert t.offline == [] and t.isolated == []
    assert t.allowed == list(range(64)) and t.allowed_source == "online"
    assert t.sockets == [0, 1]
    assert t.smt and not t.hybrid
    assert t.online_cores == 32 and t.online_sockets == 2
    core = t.cores[17]
    assert (core.socket, core.die, core.core_id, core.cpus, core.siblings, core.core_type) == (
        1,
        0,
        1,
        [17, 49],
        [17, 49],
        "",
    )
    assert [(n.id, _core.format_cpulist(n.cpus)) for n in t.numa_nodes] == [
        (0, "0-15,32-47"),
        (1, "16-31,48-63"),
    ]
    assert (t.cgroup_version, t.cgroup_cpu_max, t.cgroup_quota_cpus) == ("v2", "max 100000", None)


def test_read_topology_allowed_override() -> None:
    # An explicit mask wins over the tree's own, and is cut to the online CPUs.
    t = _core.read_topology(tree("offline-cpus"), [1, 2, 6, 7, 100])
    assert t.allowed == [1, 2] and t.allowed_source == "given"
    assert [c.cpus for c in t.cores] == [[1], [2]]
    assert t.online_cores == 6


def test_cgroup_v1_quota_walks_up_to_the_mount() -> None:
    t = _core.read_topology(tree("epyc-nps4"))
    assert (t.cgroup_version, t.cgroup_cpu_max, t.cgroup_quota_cpus) == ("v1", "800000 100000", 8.0)


def test_missing_root_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(_core.ConfigError, match="no CPUs found"):
        _core.read_topology(str(tmp_path))


def test_select_and_nodes_of() -> None:
    t = _core.read_topology(tree("epyc-nps4"))
    assert _core.select_cpus(t, numa_node=5) == [*range(20, 24), *range(52, 56)]
    assert _core.select_cpus(t, socket=1, physical_only=True) == list(range(16, 32))
    assert _core.select_cpus(t, cpus=[3, 40, 3]) == [3, 40]
    assert _core.nodes_of(t, [3, 40, 60]) == [0, 2, 7]
    with pytest.raises(_core.PinningError, match="valid nodes are 0-7"):
        _core.select_cpus(t, numa_node=8)


def test_real_topology_matches_os() -> None:
    t = _core.read_topology()
    assert t.allowed_source == "sched_getaffinity"
    assert set(t.allowed) == os.sched_getaffinity(0) & set(t.online)
    assert sorted(c for core in t.cores for c in core.cpus) == t.allowed


def test_affinity_and_current_cpu_match_os() -> None:
    assert set(_core.get_affinity()) == os.sched_getaffinity(0)
    assert _core.current_cpu() in os.sched_getaffinity(0)
    assert threading.get_native_id() in _core.thread_ids()
    assert os.getpid() in _core.thread_ids()


def test_pin_guard_thread_scope_restores() -> None:
    before = os.sched_getaffinity(0)
    for cpu in sorted(before):
        g = _core.PinGuard([cpu], "thread")
        assert g.active and g.cpus == [cpu] and g.scope == "thread"
        assert set(g.previous) == before
        assert os.sched_getaffinity(0) == {cpu}
        assert _core.current_cpu() == cpu
        # The unpinned mask is what topology treats as allowed while a pin is in force.
        assert set(_core.unpinned_affinity()) == before
        g.release()
        g.release()  # idempotent
        assert not g.active
        assert os.sched_getaffinity(0) == before


def test_pin_guard_process_scope_reaches_other_threads() -> None:
    before = os.sched_getaffinity(0)
    cpu = max(before)
    go = threading.Event()
    seen: dict[str, set[int]] = {}

    def worker() -> None:
        go.wait()
        seen["inside"] = os.sched_getaffinity(0)

    th = threading.Thread(target=worker)
    th.start()  # exists before the pin: process scope must reach it too
    g = _core.PinGuard([cpu], "process")
    go.set()
    th.join()
    g.release()
    assert seen["inside"] == {cpu}
    assert os.sched_getaffinity(0) == before


def test_pin_guard_rejects_bad_arguments() -> None:
    before = os.sched_getaffinity(0)
    with pytest.raises(_core.PinningError, match="empty"):
        _core.PinGuard([], "thread")
    with pytest.raises(_core.PinningError, match="'process' or 'thread'"):
        _core.PinGuard([0], "everything")
    with pytest.raises(_core.PinningError, match="sched_setaffinity"):
        _core.PinGuard([4095], "process")
    assert os.sched_getaffinity(0) == before


def test_mempolicy_bind_and_restore() -> None:
    before = _core.mempolicy()
    node = _core.read_topology().numa_nodes[0].id
    try:
        g = _core.PinGuard(sorted(os.sched_getaffinity(0)), "thread", [node])
    except _core.PinningError as e:
        pytest.skip(f"the kernel refuses set_mempolicy here: {e}")
    assert _core.mempolicy() == ("bind", [node])
    g.release()
    assert _core.mempolicy() == before
