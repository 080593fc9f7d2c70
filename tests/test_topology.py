"""ic.topology() on fake sysfs trees and on this machine; the fingerprint and noise checks."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from inferclock._core import InferclockError, PinningError
from inferclock._platform.environment import CPU_FLAGS, environment, noise_checks
from inferclock._platform.info import collect_info, format_info
from inferclock._platform.topology import Topology, format_cpulist, parse_cpulist, topology

SYSFS = Path(__file__).parent / "data" / "sysfs"


def fake(name: str) -> Topology:
    return topology(str(SYSFS / name))


def r(a: int, b: int) -> list[int]:
    return list(range(a, b + 1))


def test_cpulist_helpers() -> None:
    assert parse_cpulist("0-3,8") == [0, 1, 2, 3, 8]
    assert format_cpulist([8, 3, 2, 1, 0]) == "0-3,8"
    assert format_cpulist(range(0, 64, 2))[:9] == "0,2,4,6,8"
    with pytest.raises(PinningError, match="bad CPU list 'x'"):
        parse_cpulist("x")


def test_xeon_two_sockets_with_smt() -> None:
    t = fake("xeon-2s")
    assert t.sockets == (0, 1)
    assert [n.id for n in t.numa_nodes] == [0, 1]
    assert len(t.cores) == 32 and len(t.allowed) == 64 and t.smt
    assert t.cpus() == r(0, 63)
    assert t.cpus(socket=0) == r(0, 15) + r(32, 47)
    assert t.cpus(socket=1) == r(16, 31) + r(48, 63)
    assert t.cpus(socket=1, physical_only=True) == r(16, 31)
    assert t.cpus(physical_only=True) == r(0, 31)
    assert t.cpus(numa_node=1) == r(16, 31) + r(48, 63)
    assert t.cpus(numa_node=0, physical_only=True) == r(0, 15)
    assert {c.siblings for c in t.cores if c.socket == 0} == {(i, i + 32) for i in range(16)}
    assert all(c.core_type is None and c.die == 0 for c in t.cores)
    assert t.nodes_of([1, 50]) == [0, 1]
    with pytest.raises(PinningError, match="needs a hybrid CPU"):
        t.cpus(core_type="P")


def test_hybrid_laptop_core_types() -> None:
    t = fake("hybrid-laptop")
    assert t.hybrid and t.smt
    assert t.sockets == (0,) and len(t.numa_nodes) == 1
    assert len(t.cores) == 12 and len(t.allowed) == 16
    p_cores = [c for c in t.cores if c.core_type == "P"]
    e_cores = [c for c in t.cores if c.core_type == "E"]
    assert len(p_cores) == 4 and len(e_cores) == 8
    assert all(len(c.cpus) == 2 for c in p_cores) and all(len(c.cpus) == 1 for c in e_cores)
    assert t.cpus(core_type="P") == r(0, 7)
    assert t.cpus(core_type="P", physical_only=True) == [0, 2, 4, 6]
    assert t.cpus(core_type="E") == r(8, 15)
    assert t.cpus(physical_only=True) == [0, 2, 4, 6, *r(8, 15)]
    assert {c.cluster for c in e_cores} == {32, 40}
    assert "P-cores: 4, CPUs 0-7" in str(t) and "E-cores: 8, CPUs 8-15" in str(t)
    with pytest.raises(PinningError, match="'P' or 'E', got 'X'"):
        t.cpus(core_type="X")


def test_epyc_four_numa_nodes_per_socket() -> None:
    t = fake("epyc-nps4")
    assert t.sockets == (0, 1)
    assert [n.id for n in t.numa_nodes] == r(0, 7)
    assert all(len(n.cpus) == 8 for n in t.numa_nodes)
    assert len(t.cores) == 32 and len(t.allowed) == 64
    assert t.cpus(socket=1, physical_only=True) == r(16, 31)
    assert t.cpus(numa_node=5) == r(20, 23) + r(52, 55)
    assert t.cpus(numa_node=6, physical_only=True) == r(24, 27)
    # Each node lies in one socket: the map shows four per socket.
    assert str(t).count("socket 0 node") == 4 and str(t).count("socket 1 node") == 4
    assert t.cgroup_quota_cpus == 8.0 and t.cgroup_version == "v1"
    with pytest.raises(PinningError, match=r"no NUMA node 9 .*valid nodes are 0-7"):
        t.cpus(numa_node=9)


def test_container_restricted_to_cpus_2_to_5() -> None:
    t = fake("container-2-5")
    assert t.allowed == (2, 3, 4, 5) and t.allowed_source == "proc/self/status"
    assert len(t.online) == 16 and t.online_cores == 8
    assert t.sockets == (0,) and [n.cpus for n in t.numa_nodes] == [(2, 3, 4, 5)]
    assert [c.cpus for c in t.cores] == [(2, 3), (4, 5)]
    assert t.cpus() == [2, 3, 4, 5]
    assert t.cpus(socket=0, physical_only=True) == [2, 4]
    assert t.cgroup_quota_cpus == 2.0 and t.cgroup_cpu_max == "200000 100000"
    # The same tree seen with another mask: the override wins.
    assert topology(str(SYSFS / "container-2-5"), allowed=[3, 4]).cpus(physical_only=True) == [4]


def test_offline_cpus() -> None:
    t = fake("offline-cpus")
    assert t.possible == tuple(r(0, 7)) and t.online == tuple(r(0, 5))
    assert t.offline == (6, 7)
    assert len(t.cores) == 6 and len(t.allowed) == 6 and not t.smt
    assert t.cpus(socket=0, physical_only=True) == r(0, 5)
    assert "offline 6-7" in str(t)


def test_vm_without_die_id() -> None:
    t = fake("vm-nodie")
    assert t.sockets == (0,) and len(t.cores) == 4 and len(t.allowed) == 4
    assert all(c.die == -1 and c.cluster == -1 for c in t.cores)
    # No node directory on this kernel: one node holds every CPU.
    assert [(n.id, n.cpus) for n in t.numa_nodes] == [(0, (0, 1, 2, 3))]
    assert t.isolated == (3,)
    assert t.cpus(physical_only=True) == [0, 1, 2, 3]
    with pytest.raises(PinningError, match=r"no socket 1 .*valid sockets are 0"):
        t.cpus(socket=1)


def test_two_selectors_rejected() -> None:
    with pytest.raises(PinningError, match="at most one of cpus, socket or numa_node"):
        fake("xeon-2s").cpus(socket=0, numa_node=0)


def test_to_dict_is_json_and_str_is_compact() -> None:
    t = fake("xeon-2s")
    d = json.loads(json.dumps(t.to_dict()))
    assert d["allowed"] == "0-63" and d["sockets"] == [0, 1] and len(d["cores"]) == 32
    lines = str(t).splitlines()
    assert lines[0].startswith("64 CPUs allowed (0-63")
    assert "  socket 1 node 1: 16 cores, CPUs 16-31,48-63" in lines
    assert len(lines) == 3


def test_this_machine() -> None:
    t = topology()
    assert set(t.allowed) == os.sched_getaffinity(0) & set(t.online)
    assert t.cpus() == list(t.allowed)
    assert sorted(x for c in t.cores for x in c.cpus) == list(t.allowed)
    assert sum(len(n.cpus) for n in t.numa_nodes) == len(t.allowed)
    assert t.sockets and isinstance(t, Topology)


def test_environment_on_fake_xeon() -> None:
    env = environment(str(SYSFS / "xeon-2s"))
    assert env["cpu_model"] == "Intel(R) Xeon(R) Platinum 8480+"
    assert env["cpu_flags"] == dict.fromkeys(CPU_FLAGS, True)
    assert (env["sockets"], env["cores"], env["threads"], env["smt"]) == (2, 32, 64, True)
    assert env["governor"] == "powersave" and env["turbo"] is True
    assert env["load_avg"] == [12.5, 8.0, 4.0]
    assert env["transparent_hugepages"] == "always" and env["clocksource"] == "tsc"
    assert env["kernel"] == "6.8.0-45-generic" and env["steal_pct"] == 0.0
    json.dumps(env)
    checks = {c.name: c for c in noise_checks(str(SYSFS / "xeon-2s"))}
    bad = {n for n, c in checks.items() if not c.ok}
    assert bad == {
        "governor",
        "turbo",
        "smt",
        "isolated_cpus",
        "load_average",
        "transparent_hugepages",
    }
    assert all(c.advice for c in checks.values() if not c.ok)
    assert all(not c.advice for c in checks.values() if c.ok)


def test_noise_checks_vm_and_container() -> None:
    vm = {c.name: c for c in noise_checks(str(SYSFS / "vm-nodie"))}
    assert not vm["clocksource"].ok and vm["clocksource"].value == "kvm-clock"
    assert not vm["steal_time"].ok and vm["steal_time"].value.startswith("4.99%")
    assert vm["isolated_cpus"].ok and vm["governor"].value.startswith("n/a")
    box = {c.name: c for c in noise_checks(str(SYSFS / "container-2-5"))}
    assert box["cgroup_cpu_quota"].value == "2 CPUs on 4 allowed"
    assert not box["cgroup_cpu_quota"].ok
    epyc = {c.name: c for c in noise_checks(str(SYSFS / "epyc-nps4"))}
    assert epyc["governor"].ok and not epyc["turbo"].ok
    assert not epyc["cgroup_cpu_quota"].ok  # 8 CPUs of quota for 64 threads


def test_environment_here_has_versions() -> None:
    env = environment()
    assert env["python"] and env["kernel"] == os.uname().release
    assert env["openvino"] == "2026.4.1"
    assert env["threads"] == len(os.sched_getaffinity(0))
    assert len(noise_checks(env=env)) == 9


def test_info_collects_and_formats() -> None:
    info = collect_info()
    json.dumps(info)
    assert info["clock"]["frequency_hz"] > 0
    cpu = [d for d in info["openvino"]["devices"] if d["name"] == "CPU"]
    assert cpu and cpu[0]["full_device_name"] and cpu[0]["optimization_capabilities"]
    text = format_info(info)
    for section in ("Topology", "Clock", "OpenVINO", "Noise checks"):
        assert section in text
    assert info["topology"]["map"].splitlines()[0] in text


def test_errors_are_in_the_hierarchy() -> None:
    with pytest.raises(InferclockError):
        fake("vm-nodie").cpus(numa_node=3)
