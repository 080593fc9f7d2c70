"""The machine fingerprint every result carries, and checks of what may make timings noisy.

Each fact comes from a small ``collect_*`` function reading /proc and /sys under a root
directory ("/" for this machine; a fake tree in tests). Nothing here changes the system.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from inferclock._platform.topology import Topology, format_cpulist, topology

__all__ = [
    "CPU_FLAGS",
    "ENV_PREFIXES",
    "Check",
    "collect_clocksource",
    "collect_cpu",
    "collect_cpufreq",
    "collect_env_vars",
    "collect_load",
    "collect_steal",
    "collect_thp",
    "collect_topology",
    "collect_versions",
    "cpuinfo",
    "environment",
    "noise_checks",
]

# Instruction-set flags that decide which kernels OpenVINO's CPU plugin can run.
CPU_FLAGS = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_bf16",
    "amx_int8",
)


def _read(root: str, rel: str) -> str | None:
    try:
        return (Path(root) / rel).read_text().strip()
    except OSError:
        return None


def cpuinfo(root: str = "/") -> dict[str, Any]:
    """The CPU model name and feature flags from /proc/cpuinfo (x86 'model name'/'flags',
    arm64 'Features'), read under ``root``; the one place that parses that file."""
    model = None
    flags: set[str] = set()
    for line in (_read(root, "proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if model is None and key in ("model name", "Model", "cpu model"):
            model = value.strip()
        elif not flags and key in ("flags", "Features"):
            flags = set(value.split())
    return {"model": model or platform.processor() or platform.machine(), "flags": flags}


def collect_cpu(root: str = "/") -> dict[str, Any]:
    """CPU model, the relevant ISA flags, whether a hypervisor is reported, the architecture."""
    info = cpuinfo(root)
    flags = info["flags"]
    return {
        "cpu_model": info["model"],
        "cpu_flags": {f: f in flags for f in CPU_FLAGS},
        "hypervisor": "hypervisor" in flags,
        "arch": platform.machine(),
    }


#: Prefixes of environment variables that change how OpenVINO, OpenMP, TBB, BLAS libraries or
#: the allocator behave (threads, pinning, spin-waits, arenas): recorded with every result.
ENV_PREFIXES = (
    "OV_", "OPENVINO_", "OMP_", "KMP_", "GOMP_", "TBB_", "ONEDNN_", "DNNL_", "MKL_",
    "OPENBLAS_", "BLIS_", "MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD", "TCMALLOC_", "JE_",
    "MIMALLOC_", "CUDA_VISIBLE_DEVICES", "ZE_", "NEOReadDebugKeys",
)  # fmt: skip


def collect_env_vars(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of ``environ`` (this process's by default) that change the behaviour of
    OpenVINO, OpenMP, TBB, BLAS or malloc, sorted by name."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in sorted(env) if k.startswith(ENV_PREFIXES)}


def collect_topology(topo: Topology) -> dict[str, Any]:
    """Sockets, cores and hardware threads this process may use, and the machine's totals."""
    return {
        "sockets": len(topo.sockets),
        "numa_nodes": len(topo.numa_nodes),
        "cores": len(topo.cores),
        "threads": len(topo.allowed),
        "allowed_cpus": format_cpulist(topo.allowed),
        "online_cpus": len(topo.online),
        "online_cores": topo.online_cores,
        "online_sockets": topo.online_sockets,
        "smt": topo.smt,
        "hybrid": topo.hybrid,
        "isolated_cpus": format_cpulist(topo.isolated),
        "cgroup_cpu_quota": topo.cgroup_quota_cpus,
        "cgroup_cpu_max": topo.cgroup_cpu_max,
    }


def collect_cpufreq(root: str = "/", cpus: tuple[int, ...] = ()) -> dict[str, Any]:
    """Frequency governor of ``cpus`` (None: no cpufreq, e.g. a VM) and turbo/boost state."""
    govs = {
        c: g
        for c in cpus
        if (g := _read(root, f"sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"))
    }
    governor: str | None = None
    if govs:
        kinds = sorted(set(govs.values()))
        by_kind = [f"{k} on {format_cpulist(c for c, g in govs.items() if g == k)}" for k in kinds]
        governor = kinds[0] if len(kinds) == 1 else "mixed: " + ", ".join(by_kind)
    turbo: bool | None = None
    no_turbo = _read(root, "sys/devices/system/cpu/intel_pstate/no_turbo")
    boost = _read(root, "sys/devices/system/cpu/cpufreq/boost")
    if no_turbo in ("0", "1"):
        turbo = no_turbo == "0"
    elif boost in ("0", "1"):
        turbo = boost == "1"
    return {"governor": governor, "turbo": turbo}


def collect_load(root: str = "/") -> dict[str, Any]:
    """1, 5 and 15-minute load averages (None where /proc/loadavg is unreadable)."""
    text = _read(root, "proc/loadavg")
    if not text:
        return {"load_avg": None}
    return {"load_avg": [float(x) for x in text.split()[:3]]}


def collect_thp(root: str = "/") -> dict[str, Any]:
    """Transparent huge pages mode: the bracketed word of .../transparent_hugepage/enabled."""
    text = _read(root, "sys/kernel/mm/transparent_hugepage/enabled")
    mode = None
    if text and "[" in text:
        mode = text[text.index("[") + 1 : text.index("]")]
    return {"transparent_hugepages": mode}


def collect_clocksource(root: str = "/") -> dict[str, Any]:
    """The kernel's clocksource (tsc, kvm-clock, hpet, arch_sys_counter...)."""
    return {
        "clocksource": _read(
            root, "sys/devices/system/clocksource/clocksource0/current_clocksource"
        )
    }


def collect_steal(root: str = "/") -> dict[str, Any]:
    """Share of CPU time the hypervisor took since boot, in percent (/proc/stat 'steal')."""
    for line in (_read(root, "proc/stat") or "").splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            ticks = [int(x) for x in fields[1:]]
            # user nice system idle iowait irq softirq steal [guest guest_nice]: guest time
            # is already counted in user/nice, so the total is the first eight.
            total = sum(ticks[:8])
            steal = ticks[7] if len(ticks) > 7 else 0
            return {"steal_pct": round(100.0 * steal / total, 3) if total else None}
    return {"steal_pct": None}


def _dist_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def collect_versions(root: str = "/") -> dict[str, Any]:
    """Kernel, Python, OpenVINO and inferclock versions (packages via importlib.metadata)."""
    kernel = _read(root, "proc/sys/kernel/osrelease")
    if kernel is None and root == "/":
        kernel = platform.release()
    return {
        "kernel": kernel,
        "python": platform.python_version(),
        "python_implementation": sys.implementation.name,
        "openvino": _dist_version("openvino"),
        "inferclock": _dist_version("inferclock"),
    }


def environment(root: str = "/", topo: Topology | None = None) -> dict[str, Any]:
    """The machine fingerprint: a flat, JSON-ready dict of the facts above."""
    topo = topo if topo is not None else topology(root)
    env: dict[str, Any] = {}
    env.update(collect_cpu(root))
    env.update(collect_topology(topo))
    env.update(collect_cpufreq(root, topo.allowed))
    env.update(collect_load(root))
    env.update(collect_thp(root))
    env.update(collect_clocksource(root))
    env.update(collect_steal(root))
    env.update(collect_versions(root))
    env["env_vars"] = collect_env_vars()
    return env


@dataclass(frozen=True)
class Check:
    """One noise check: the fact, whether it is fine for benchmarking, and what to do if not."""

    name: str
    value: str
    ok: bool
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "ok": self.ok, "advice": self.advice}


def _check_governor(env: dict[str, Any]) -> Check:
    gov = env["governor"]
    if gov is None:
        return Check("governor", "n/a (no cpufreq: VM or fixed clock)", True, "")
    return Check(
        "governor",
        gov,
        gov == "performance",
        ""
        if gov == "performance"
        else "the clock speed follows the load: set the 'performance' governor "
        "(cpupower frequency-set -g performance)",
    )


def _check_turbo(env: dict[str, Any]) -> Check:
    turbo = env["turbo"]
    if turbo is None:
        return Check("turbo", "n/a (not exposed)", True, "")
    return Check(
        "turbo",
        "on" if turbo else "off",
        not turbo,
        "turbo speed depends on temperature and how many cores are busy: turn it off "
        "(intel_pstate/no_turbo=1 or cpufreq/boost=0) for steadier numbers"
        if turbo
        else "",
    )


def _check_smt(env: dict[str, Any]) -> Check:
    smt = bool(env["smt"])
    return Check(
        "smt",
        "on" if smt else "off",
        not smt,
        "hardware threads of one core share its units: pin with physical_only=True so no two "
        "busy threads share a core (or turn SMT off)"
        if smt
        else "",
    )


def _check_isolated(env: dict[str, Any]) -> Check:
    iso = env["isolated_cpus"]
    return Check(
        "isolated_cpus",
        iso or "none",
        bool(iso),
        ""
        if iso
        else "other tasks may run on the benchmark CPUs: boot with isolcpus=/nohz_full= "
        "(e.g. isolcpus=2-5) and pin runs to those CPUs",
    )


def _check_load(env: dict[str, Any]) -> Check:
    load = env["load_avg"]
    if load is None:
        return Check("load_average", "n/a", True, "")
    limit = max(1.0, 0.1 * env["online_cpus"])
    ok = load[0] <= limit
    return Check(
        "load_average",
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({env['online_cpus']} CPUs)",
        ok,
        ""
        if ok
        else f"other work is running (1-minute load {load[0]:.2f}): stop it or pin the "
        "benchmark to CPUs it does not use",
    )


def _check_thp(env: dict[str, Any]) -> Check:
    thp = env["transparent_hugepages"]
    if thp is None:
        return Check("transparent_hugepages", "n/a", True, "")
    return Check(
        "transparent_hugepages",
        thp,
        thp != "always",
        "with 'always', khugepaged compacts memory in the background: 'madvise' is steadier"
        if thp == "always"
        else "",
    )


def _check_clocksource(env: dict[str, Any]) -> Check:
    cs = env["clocksource"]
    if cs is None:
        return Check("clocksource", "n/a", True, "")
    ok = cs in ("tsc", "arch_sys_counter")
    return Check(
        "clocksource",
        cs,
        ok,
        ""
        if ok
        else f"the kernel keeps time with '{cs}' (a VM or an unstable TSC): system clock "
        "reads cost more and may drift; inferclock's own clock still uses the CPU counter "
        "when it is invariant",
    )


def _check_steal(env: dict[str, Any]) -> Check:
    steal = env["steal_pct"]
    if steal is None:
        return Check("steal_time", "n/a", True, "")
    ok = steal < 1.0
    return Check(
        "steal_time",
        f"{steal:.2f}% since boot",
        ok,
        ""
        if ok
        else "the hypervisor gives this VM's CPU time to others: timings vary with the "
        "neighbours; prefer dedicated vCPUs or bare metal",
    )


def _check_quota(env: dict[str, Any]) -> Check:
    quota = env["cgroup_cpu_quota"]
    if quota is None:
        return Check("cgroup_cpu_quota", "none", True, "")
    ok = quota >= env["threads"]
    return Check(
        "cgroup_cpu_quota",
        f"{quota:g} CPUs on {env['threads']} allowed",
        ok,
        ""
        if ok
        else "the CFS quota throttles the process for the rest of each period once it is "
        "spent (latency spikes): use at most that many threads, or run without a quota",
    )


_CHECKS = (
    _check_governor,
    _check_turbo,
    _check_smt,
    _check_isolated,
    _check_load,
    _check_thp,
    _check_clocksource,
    _check_steal,
    _check_quota,
)


def noise_checks(root: str = "/", env: dict[str, Any] | None = None) -> list[Check]:
    """What on this machine may add noise to timings, in the spirit of ``pyperf system show``.

    Reads only; ``ok`` is False where a setting may add noise, and ``advice`` says what to do.
    """
    env = env if env is not None else environment(root)
    return [check(env) for check in _CHECKS]
