"""Write the fake sysfs/procfs trees under tests/data/sysfs/ (committed; rerun to regenerate).

Each tree mimics what Linux shows on one kind of machine, with only the files inferclock reads:
    python tests/data/make_sysfs.py
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent / "sysfs"


def cpulist(cpus: Iterable[int]) -> str:
    s = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)


class Tree:
    def __init__(self, name: str) -> None:
        self.root = HERE / name
        shutil.rmtree(self.root, ignore_errors=True)

    def write(self, rel: str, text: str) -> None:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text + "\n")

    def cpu(
        self,
        cpu: int,
        *,
        package: int,
        core_id: int,
        siblings: Iterable[int],
        die: int | None = 0,
        cluster: int | None = 65535,
        core_cpus_list: bool = True,
    ) -> None:
        d = f"sys/devices/system/cpu/cpu{cpu}/topology/"
        self.write(d + "physical_package_id", str(package))
        self.write(d + "core_id", str(core_id))
        self.write(d + "thread_siblings_list", cpulist(siblings))
        if core_cpus_list:
            self.write(d + "core_cpus_list", cpulist(siblings))
        if die is not None:
            self.write(d + "die_id", str(die))
        if cluster is not None:
            self.write(d + "cluster_id", str(cluster))
        if cpu != 0:
            self.write(f"sys/devices/system/cpu/cpu{cpu}/online", "1")

    def cpus(self, possible: str, online: str, isolated: str = "") -> None:
        self.write("sys/devices/system/cpu/possible", possible)
        self.write("sys/devices/system/cpu/present", possible)
        self.write("sys/devices/system/cpu/online", online)
        self.write("sys/devices/system/cpu/isolated", isolated)

    def node(self, node: int, cpus: Iterable[int]) -> None:
        self.write(f"sys/devices/system/node/node{node}/cpulist", cpulist(cpus))

    def proc(
        self,
        model: str,
        flags: str,
        n: int,
        *,
        loadavg: str = "0.10 0.20 0.15 1/300 4242",
        stat: str = "cpu  10000 0 5000 900000 100 0 50 0 0 0",
        kernel: str = "6.8.0-45-generic",
        thp: str = "always [madvise] never",
        clocksource: str = "tsc",
    ) -> None:
        entries = [
            f"processor\t: {i}\nvendor_id\t: x\nmodel name\t: {model}\nflags\t\t: {flags}\n"
            for i in range(n)
        ]
        self.write("proc/cpuinfo", "\n".join(entries))
        self.write("proc/loadavg", loadavg)
        self.write("proc/stat", stat)
        self.write("proc/sys/kernel/osrelease", kernel)
        self.write("sys/kernel/mm/transparent_hugepage/enabled", thp)
        self.write("sys/devices/system/clocksource/clocksource0/current_clocksource", clocksource)

    def governor(self, cpus: Iterable[int], governor: str) -> None:
        for c in cpus:
            self.write(f"sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor", governor)


XEON_FLAGS = (
    "fpu sse sse2 avx avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni avx512_bf16 "
    "avx512_fp16 amx_bf16 amx_tile amx_int8 constant_tsc nonstop_tsc"
)


def xeon_2s() -> None:
    """2 x Xeon (16 cores each, SMT): CPUs 0-15 / 16-31 first threads, +32 the siblings."""
    t = Tree("xeon-2s")
    t.cpus("0-63", "0-63")
    for c in range(64):
        first = c % 32
        t.cpu(
            c,
            package=first // 16,
            core_id=first % 16,
            cluster=first % 16,
            siblings=[first, first + 32],
        )
    t.node(0, [*range(0, 16), *range(32, 48)])
    t.node(1, [*range(16, 32), *range(48, 64)])
    t.governor(range(64), "powersave")
    t.write("sys/devices/system/cpu/intel_pstate/no_turbo", "0")
    t.proc(
        "Intel(R) Xeon(R) Platinum 8480+",
        XEON_FLAGS,
        64,
        loadavg="12.50 8.00 4.00 2/900 12345",
        thp="[always] madvise never",
    )
    t.write("proc/self/cgroup", "0::/user.slice/user-1000.slice/session-1.scope")
    t.write("sys/fs/cgroup/user.slice/cpu.max", "max 100000")


def hybrid_laptop() -> None:
    """Core i7-1260P-like: 4 P-cores with SMT (CPUs 0-7) and 8 E-cores (CPUs 8-15)."""
    t = Tree("hybrid-laptop")
    t.cpus("0-15", "0-15")
    for c in range(8):
        first = c - c % 2
        t.cpu(c, package=0, core_id=first * 2, cluster=first * 4, siblings=[first, first + 1])
    for c in range(8, 16):
        t.cpu(c, package=0, core_id=c + 8, cluster=32 if c < 12 else 40, siblings=[c])
    t.write("sys/devices/cpu_core/cpus", "0-7")
    t.write("sys/devices/cpu_atom/cpus", "8-15")
    t.node(0, range(16))
    t.governor(range(16), "powersave")
    t.write("sys/devices/system/cpu/intel_pstate/no_turbo", "0")
    t.proc("12th Gen Intel(R) Core(TM) i7-1260P", "fpu sse sse2 avx avx2 avx_vnni", 16)
    t.write("proc/self/cgroup", "0::/")


def epyc_nps4() -> None:
    """2 x EPYC (16 cores each, SMT) in NPS4: 4 NUMA nodes of 4 cores per socket."""
    t = Tree("epyc-nps4")
    t.cpus("0-63", "0-63")
    for c in range(64):
        first = c % 32
        t.cpu(
            c,
            package=first // 16,
            core_id=first % 16,
            cluster=first // 4,
            siblings=[first, first + 32],
        )
    for n in range(8):
        base = (n // 4) * 16 + (n % 4) * 4
        t.node(n, [*range(base, base + 4), *range(base + 32, base + 36)])
    t.governor(range(64), "performance")
    t.write("sys/devices/system/cpu/cpufreq/boost", "1")
    t.proc(
        "AMD EPYC 7313 16-Core Processor",
        "fpu sse sse2 avx avx2 constant_tsc",
        64,
        clocksource="tsc",
    )
    # cgroup v1 in a container: the host path is not under the mount; its root holds the quota.
    t.write("proc/self/cgroup", "4:cpu,cpuacct:/docker/0123abcd\n3:memory:/docker/0123abcd")
    t.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "800000")
    t.write("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000")


def container() -> None:
    """8 cores with SMT, siblings adjacent (0,1), (2,3)...; the process may use CPUs 2-5."""
    t = Tree("container-2-5")
    t.cpus("0-15", "0-15")
    for c in range(16):
        first = c - c % 2
        t.cpu(c, package=0, core_id=c // 2, siblings=[first, first + 1])
    t.node(0, range(16))
    t.proc("AMD Ryzen 7 5800X 8-Core Processor", "fpu sse sse2 avx avx2", 16)
    t.write("proc/self/status", "Name:\tpython\nCpus_allowed:\t003c\nCpus_allowed_list:\t2-5")
    t.write("proc/self/cgroup", "0::/")
    t.write("sys/fs/cgroup/cpu.max", "200000 100000")


def offline() -> None:
    """8 possible CPUs, 6 online (6-7 offline: no topology directory), no SMT."""
    t = Tree("offline-cpus")
    t.cpus("0-7", "0-5")
    for c in range(6):
        t.cpu(c, package=0, core_id=c, siblings=[c])
    for c in (6, 7):
        t.write(f"sys/devices/system/cpu/cpu{c}/online", "0")
    t.node(0, range(6))
    t.proc("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "fpu sse avx2 avx512f avx512_vnni", 6)


def vm_nodie() -> None:
    """A 4-vCPU VM on an old kernel: no die_id, cluster_id, core_cpus_list or NUMA directory."""
    t = Tree("vm-nodie")
    t.cpus("0-3", "0-3", isolated="3")
    for c in range(4):
        t.cpu(c, package=0, core_id=c, siblings=[c], die=None, cluster=None, core_cpus_list=False)
    t.proc(
        "Intel Xeon Processor (Cascadelake)",
        "fpu sse avx2 avx512f hypervisor",
        4,
        stat="cpu  10000 0 5000 80000 100 0 50 5000 0 0",
        clocksource="kvm-clock",
        thp="always madvise [never]",
    )


TREES: list[Callable[[], None]] = [xeon_2s, hybrid_laptop, epyc_nps4, container, offline, vm_nodie]

if __name__ == "__main__":
    for make in TREES:
        make()
    print("wrote", ", ".join(sorted(p.name for p in HERE.iterdir())))
