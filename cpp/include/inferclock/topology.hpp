// CPU topology read from sysfs under a root directory ("/" for this machine, a fake tree in
// tests): sockets, dies, clusters, cores and their hardware threads, NUMA nodes, hybrid core
// types, and the CPUs this process may use. Linux only.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace inferclock {

struct CpuCore {
    int socket = 0;             // physical_package_id
    int die = -1;               // die_id; -1 where the kernel does not report one
    int cluster = -1;           // cluster_id; -1 where absent or "none" (65535 / -1)
    int core_id = 0;            // core_id (unique within a socket and die, not globally)
    std::vector<int> cpus;      // this core's hardware threads that the process may use
    std::vector<int> siblings;  // all its online hardware threads (core_cpus_list)
    std::string core_type;      // "P" or "E" on a hybrid CPU, "" otherwise
};

struct NumaNode {
    int id = 0;
    std::vector<int> cpus;  // the node's CPUs that the process may use
};

struct Topology {
    std::string root;
    std::vector<int> possible, online, offline, isolated;
    std::vector<int> allowed;    // online CPUs the process may use
    std::string allowed_source;  // "sched_getaffinity", "proc/self/status", "given" or "online"
    std::vector<int> sockets;    // sockets with an allowed CPU
    std::vector<NumaNode> numa_nodes;  // nodes with an allowed CPU
    std::vector<CpuCore> cores;        // cores with an allowed CPU, ordered by first CPU
    bool smt = false;                  // some online core has more than one hardware thread
    bool hybrid = false;               // the kernel lists P- and E-cores (cpu_core / cpu_atom)
    int online_cores = 0;              // whole machine, not only the allowed part
    int online_sockets = 0;
    std::string cgroup_version;               // "v2", "v1" or "" when no CPU controller was found
    std::string cgroup_cpu_max;               // "max 100000", "200000 100000" (v1 quota/period too)
    std::optional<double> cgroup_quota_cpus;  // quota/period in CPUs; nullopt = no limit
};

// Reads the topology under `root`. `allowed` overrides the process mask; without it the mask
// is sched_getaffinity() as it was before any active inferclock pin (root "/"), or
// Cpus_allowed_list from <root>/proc/self/status in a fake tree, or every online CPU.
Topology read_topology(const std::string& root = "/",
                       const std::optional<std::vector<int>>& allowed = std::nullopt);

// What a pin asks for. At most one of cpus, socket, numa_node; physical_only and core_type
// narrow whichever was given (or all allowed CPUs).
struct CpuSelection {
    std::optional<std::vector<int>> cpus;
    std::optional<int> socket;
    std::optional<int> numa_node;
    bool physical_only = false;  // keep each core's first hardware thread (OpenVINO's "main")
    std::optional<std::string> core_type;  // "P" or "E"
};

// The sorted CPUs a selection means. Throws PinningError naming the valid choices for an
// unknown socket, node, CPU or core type, an empty result, or more than one selector.
std::vector<int> select_cpus(const Topology& topo, const CpuSelection& sel);

// NUMA nodes holding any of `cpus` (for binding memory next to them).
std::vector<int> nodes_of(const Topology& topo, const std::vector<int>& cpus);

}  // namespace inferclock
