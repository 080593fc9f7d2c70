#include "pybind11.hpp"
#include "inferclock/affinity.hpp"
#include "inferclock/cpulist.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/topology.hpp"

namespace inferclock::bindings {

namespace {

PinScope scope_from(const std::string& s) {
    if (s == "process") return PinScope::process;
    if (s == "thread") return PinScope::thread;
    throw PinningError("scope must be 'process' or 'thread', got '" + s + "'");
}

}  // namespace

void register_topology(py::module_& m) {
    m.def(
        "parse_cpulist", [](const std::string& text) { return parse_cpulist(text); },
        py::arg("text"), "'0-3,8' -> [0, 1, 2, 3, 8] (sorted, unique).");
    m.def("format_cpulist", &format_cpulist, py::arg("cpus"), "[8, 0, 1, 2, 3] -> '0-3,8'.");

    py::class_<CpuCore>(m, "CpuCore", "One physical core and its hardware threads.")
        .def_readonly("socket", &CpuCore::socket)
        .def_readonly("die", &CpuCore::die)
        .def_readonly("cluster", &CpuCore::cluster)
        .def_readonly("core_id", &CpuCore::core_id)
        .def_readonly("cpus", &CpuCore::cpus)
        .def_readonly("siblings", &CpuCore::siblings)
        .def_readonly("core_type", &CpuCore::core_type);
    py::class_<NumaNode>(m, "NumaNode", "A NUMA node and its CPUs the process may use.")
        .def_readonly("id", &NumaNode::id)
        .def_readonly("cpus", &NumaNode::cpus);
    py::class_<Topology>(m, "Topology", "CPU topology read from sysfs (see read_topology).")
        .def_readonly("root", &Topology::root)
        .def_readonly("possible", &Topology::possible)
        .def_readonly("online", &Topology::online)
        .def_readonly("offline", &Topology::offline)
        .def_readonly("isolated", &Topology::isolated)
        .def_readonly("allowed", &Topology::allowed)
        .def_readonly("allowed_source", &Topology::allowed_source)
        .def_readonly("sockets", &Topology::sockets)
        .def_readonly("numa_nodes", &Topology::numa_nodes)
        .def_readonly("cores", &Topology::cores)
        .def_readonly("smt", &Topology::smt)
        .def_readonly("hybrid", &Topology::hybrid)
        .def_readonly("online_cores", &Topology::online_cores)
        .def_readonly("online_sockets", &Topology::online_sockets)
        .def_readonly("cgroup_version", &Topology::cgroup_version)
        .def_readonly("cgroup_cpu_max", &Topology::cgroup_cpu_max)
        .def_readonly("cgroup_quota_cpus", &Topology::cgroup_quota_cpus);

    m.def("read_topology", &read_topology, py::arg("root") = "/", py::arg("allowed") = py::none(),
          "Topology under sysfs root; `allowed` overrides the process CPU mask.");
    m.def(
        "select_cpus",
        [](const Topology& t, std::optional<std::vector<int>> cpus, std::optional<int> socket,
           std::optional<int> numa_node, bool physical_only, std::optional<std::string> core_type) {
            return select_cpus(t, CpuSelection{std::move(cpus), socket, numa_node, physical_only,
                                               std::move(core_type)});
        },
        py::arg("topology"), py::arg("cpus") = py::none(), py::arg("socket") = py::none(),
        py::arg("numa_node") = py::none(), py::arg("physical_only") = false,
        py::arg("core_type") = py::none(),
        "Sorted CPUs a selection means; PinningError naming the valid choices if none.");
    m.def("nodes_of", &nodes_of, py::arg("topology"), py::arg("cpus"),
          "NUMA nodes holding any of cpus.");

    m.def("get_affinity", &get_affinity, py::arg("tid") = 0,
          "CPUs thread tid (0: the calling thread) may run on.");
    m.def("unpinned_affinity", &unpinned_affinity,
          "The calling thread's mask before any active inferclock pin.");
    m.def("current_cpu", &current_cpu, "The CPU the calling thread runs on now (sched_getcpu).");
    m.def("thread_ids", &thread_ids, "Thread ids of this process (/proc/self/task).");
    m.def(
        "mempolicy",
        [] {
            const MemPolicy p = get_mempolicy();
            return py::make_tuple(std::string(mempolicy_name(p.mode)), p.nodes);
        },
        "The calling thread's memory policy as (mode name, nodes).");

    py::class_<PinGuard>(m, "PinGuard",
                         "Applies a CPU mask (and MPOL_BIND memory) until release(); restores "
                         "the previous mask and memory policy.")
        .def(py::init([](std::vector<int> cpus, const std::string& scope,
                         std::vector<int> membind_nodes) {
                 return std::make_unique<PinGuard>(std::move(cpus), scope_from(scope),
                                                   std::move(membind_nodes));
             }),
             py::arg("cpus"), py::arg("scope") = "process",
             py::arg("membind_nodes") = std::vector<int>{})
        .def("release", &PinGuard::release, "Restore the previous state (idempotent).")
        .def_property_readonly("active", &PinGuard::active)
        .def_property_readonly("cpus", &PinGuard::cpus)
        .def_property_readonly("membind_nodes", &PinGuard::membind_nodes)
        .def_property_readonly("previous", &PinGuard::previous)
        .def_property_readonly("scope", [](const PinGuard& g) {
            return g.scope() == PinScope::thread ? "thread" : "process";
        });
}

}  // namespace inferclock::bindings
