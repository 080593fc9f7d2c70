"""CPU topology and the process CPU mask: what this process may run on.

Topology comes from sysfs (``/sys/devices/system/cpu`` and ``/sys/devices/system/node``) under
a root directory, restricted to the CPUs this process may use; CPU lists are parsed and
printed as the kernel writes them ("0-3,8"). Pinning to them is ``_platform.pin``'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from inferclock import _core
from inferclock._common import checks as _checks

__all__ = [
    "CpuCore",
    "NumaNode",
    "PinningWarning",
    "Topology",
    "affinity",
    "current_cpu",
    "format_cpulist",
    "openvino_cpu_started",
    "parse_cpulist",
    "topology",
]


#: Highest CPU number a CPU list may name (the core's kMaxCpu, cpp/include/inferclock/cpulist.hpp;
#: a test keeps the two equal).
MAX_CPU = _checks.MAX_CPU

# Shared objects of OpenVINO's CPU plugins (x86 and ARM builds).
_CPU_PLUGINS = (b"libopenvino_intel_cpu_plugin", b"libopenvino_arm_cpu_plugin")


class PinningWarning(UserWarning):
    """A pin was applied after OpenVINO's CPU plugin started: OpenVINO will not see it."""


def parse_cpulist(text: str) -> list[int]:
    """``"0-3,8"`` -> ``[0, 1, 2, 3, 8]`` (sorted, unique); raises PinningError on bad text."""
    return _core.parse_cpulist(text)


def format_cpulist(cpus: Iterable[int]) -> str:
    """``[8, 0, 1, 2, 3]`` -> ``"0-3,8"``."""
    return _core.format_cpulist(list(cpus))


@dataclass(frozen=True)
class CpuCore:
    """A physical core: where it sits and which of its hardware threads this process may use.

    ``siblings`` are all its online hardware threads; the first one is the thread
    ``physical_only`` keeps (OpenVINO calls it the main core processor).
    """

    socket: int
    die: int  # -1: the kernel reports no die_id
    cluster: int  # -1: no cluster_id, or "none"
    core_id: int
    cpus: tuple[int, ...]
    siblings: tuple[int, ...]
    core_type: str | None  # "P" or "E" on a hybrid CPU

    def to_dict(self) -> dict[str, Any]:
        return {
            "socket": self.socket,
            "die": self.die,
            "cluster": self.cluster,
            "core_id": self.core_id,
            "cpus": list(self.cpus),
            "siblings": list(self.siblings),
            "core_type": self.core_type,
        }


@dataclass(frozen=True)
class NumaNode:
    id: int
    cpus: tuple[int, ...]  # the node's CPUs this process may use

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "cpus": format_cpulist(self.cpus)}


@dataclass(frozen=True)
class Topology:
    """Sockets, NUMA nodes and cores with CPUs this process may use (``allowed``).

    ``online``, ``offline``, ``possible``, ``isolated``, ``online_cores`` and
    ``online_sockets`` describe the whole machine; ``allowed_source`` says where the process
    mask came from. ``cgroup_quota_cpus`` is the CFS quota in CPUs (None: no limit).
    """

    root: str
    sockets: tuple[int, ...]
    numa_nodes: tuple[NumaNode, ...]
    cores: tuple[CpuCore, ...]
    allowed: tuple[int, ...]
    allowed_source: str
    online: tuple[int, ...]
    offline: tuple[int, ...]
    possible: tuple[int, ...]
    isolated: tuple[int, ...]
    smt: bool
    hybrid: bool
    online_cores: int
    online_sockets: int
    cgroup_version: str
    cgroup_cpu_max: str
    cgroup_quota_cpus: float | None
    _raw: _core.Topology = field(repr=False, compare=False)

    @classmethod
    def _from_core(cls, t: _core.Topology) -> Topology:
        return cls(
            root=t.root,
            sockets=tuple(t.sockets),
            numa_nodes=tuple(NumaNode(n.id, tuple(n.cpus)) for n in t.numa_nodes),
            cores=tuple(
                CpuCore(
                    socket=c.socket,
                    die=c.die,
                    cluster=c.cluster,
                    core_id=c.core_id,
                    cpus=tuple(c.cpus),
                    siblings=tuple(c.siblings),
                    core_type=c.core_type or None,
                )
                for c in t.cores
            ),
            allowed=tuple(t.allowed),
            allowed_source=t.allowed_source,
            online=tuple(t.online),
            offline=tuple(t.offline),
            possible=tuple(t.possible),
            isolated=tuple(t.isolated),
            smt=t.smt,
            hybrid=t.hybrid,
            online_cores=t.online_cores,
            online_sockets=t.online_sockets,
            cgroup_version=t.cgroup_version,
            cgroup_cpu_max=t.cgroup_cpu_max,
            cgroup_quota_cpus=t.cgroup_quota_cpus,
            _raw=t,
        )

    def cpus(
        self,
        socket: int | None = None,
        numa_node: int | None = None,
        physical_only: bool = False,
        core_type: str | None = None,
    ) -> list[int]:
        """Allowed CPUs of one socket or one NUMA node (not both), or all of them.

        ``physical_only`` keeps each core's first hardware thread; ``core_type`` ("P" or "E")
        keeps one kind of core of a hybrid CPU. Raises PinningError naming the valid choices
        when the selection is unknown or matches nothing.
        """
        return _core.select_cpus(self._raw, None, socket, numa_node, physical_only, core_type)

    def nodes_of(self, cpus: Iterable[int]) -> list[int]:
        """NUMA nodes holding any of ``cpus``."""
        return _core.nodes_of(self._raw, list(cpus))

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "sockets": list(self.sockets),
            "numa_nodes": [n.to_dict() for n in self.numa_nodes],
            "cores": [c.to_dict() for c in self.cores],
            "allowed": format_cpulist(self.allowed),
            "allowed_source": self.allowed_source,
            "online": format_cpulist(self.online),
            "offline": format_cpulist(self.offline),
            "possible": format_cpulist(self.possible),
            "isolated": format_cpulist(self.isolated),
            "smt": self.smt,
            "hybrid": self.hybrid,
            "online_cores": self.online_cores,
            "online_sockets": self.online_sockets,
            "cgroup_version": self.cgroup_version,
            "cgroup_cpu_max": self.cgroup_cpu_max,
            "cgroup_quota_cpus": self.cgroup_quota_cpus,
        }

    def __str__(self) -> str:
        n_nodes = len(self.numa_nodes)
        lines = [
            f"{len(self.allowed)} CPUs allowed ({format_cpulist(self.allowed)}, from "
            f"{self.allowed_source}) of {len(self.online)} online; "
            f"{len(self.sockets)} socket{'s' * (len(self.sockets) != 1)}, "
            f"{n_nodes} NUMA node{'s' * (n_nodes != 1)}, {len(self.cores)} cores, "
            f"SMT {'on' if self.smt else 'off'}"
        ]
        for s in self.sockets:
            for n in self.numa_nodes:
                cores = [c for c in self.cores if c.socket == s and set(c.cpus) & set(n.cpus)]
                cpus = sorted({x for c in cores for x in c.cpus} & set(n.cpus))
                if cpus:
                    lines.append(
                        f"  socket {s} node {n.id}: {len(cores)} cores, CPUs {format_cpulist(cpus)}"
                    )
        if self.hybrid:
            for kind in ("P", "E"):
                cpus = [x for c in self.cores if c.core_type == kind for x in c.cpus]
                lines.append(
                    f"  {kind}-cores: {len([c for c in self.cores if c.core_type == kind])}"
                    f", CPUs {format_cpulist(cpus) or 'none'}"
                )
        extra = []
        if self.isolated:
            extra.append(f"isolated {format_cpulist(self.isolated)}")
        if self.offline:
            extra.append(f"offline {format_cpulist(self.offline)}")
        if self.cgroup_quota_cpus is not None:
            extra.append(f"cgroup quota {self.cgroup_quota_cpus:g} CPUs")
        if extra:
            lines.append("  " + ", ".join(extra))
        return "\n".join(lines)


def topology(root: str = "/", allowed: Iterable[int] | None = None) -> Topology:
    """Read the CPU topology under ``root`` (a sysfs tree; "/" is this machine).

    The allowed CPUs are the online CPUs in the process mask (``sched_getaffinity`` as it was
    before any inferclock pin now in force); under another root, ``Cpus_allowed_list`` from
    ``<root>/proc/self/status`` if present, or every online CPU. ``allowed`` overrides both.
    """
    return Topology._from_core(
        _core.read_topology(root, None if allowed is None else list(allowed))
    )


_read_topology = topology  # pin() has a parameter of that name


def affinity() -> list[int]:
    """CPUs the calling thread may run on now."""
    return _core.get_affinity(0)


def current_cpu() -> int:
    """The CPU the calling thread runs on at this moment (``sched_getcpu``)."""
    return _core.current_cpu()


def openvino_cpu_started() -> bool:
    """True once OpenVINO's CPU plugin is loaded in this process (it is in /proc/self/maps).

    From then on OpenVINO keeps the CPU map it read from the process mask: later pins do not
    change which CPUs its streams and threads use.
    """
    try:
        with open("/proc/self/maps", "rb") as f:
            maps = f.read()
    except OSError:
        return False
    return any(name in maps for name in _CPU_PLUGINS)
