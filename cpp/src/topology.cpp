#include "inferclock/topology.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "inferclock/affinity.hpp"
#include "inferclock/cpulist.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

namespace {

std::optional<std::string> read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) return std::nullopt;
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

std::optional<long long> read_int(const std::string& path) {
    const auto t = read_text(path);
    if (!t || t->empty()) return std::nullopt;
    char* end = nullptr;
    const long long v = std::strtoll(t->c_str(), &end, 10);
    if (end == t->c_str()) return std::nullopt;
    return v;
}

std::optional<std::vector<int>> read_list(const std::string& path) {
    const auto t = read_text(path);
    if (!t) return std::nullopt;
    return parse_cpulist(*t);
}

// Numbers N of the entries named <prefix>N in dir, sorted.
std::vector<int> numbered_entries(const std::string& dir, const std::string& prefix) {
    std::vector<int> out;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return out;
    while (const dirent* e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string rest = name.substr(prefix.size());
        if (rest.find_first_not_of("0123456789") != std::string::npos) continue;
        out.push_back(std::atoi(rest.c_str()));
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

bool contains(const std::vector<int>& sorted, int v) {
    return std::binary_search(sorted.begin(), sorted.end(), v);
}

std::string list_or_none(const std::vector<int>& v) {
    return v.empty() ? std::string("none") : format_cpulist(v);
}

// Cpus_allowed_list from a (fake) /proc/self/status.
std::optional<std::vector<int>> status_allowed(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    const std::string key = "Cpus_allowed_list:";
    while (std::getline(f, line))
        if (line.compare(0, key.size(), key) == 0) return parse_cpulist(line.substr(key.size()));
    return std::nullopt;
}

struct Quota {
    std::optional<double> cpus;
    std::string raw;
};

// Parent directories of a cgroup path, leaf first: "/a/b" -> "/a/b", "/a", "".
std::vector<std::string> leaf_to_root(std::string path) {
    std::vector<std::string> out;
    while (!path.empty() && path.back() == '/') path.pop_back();
    for (;;) {
        out.push_back(path);
        if (path.empty()) break;
        const size_t slash = path.rfind('/');
        path = slash == std::string::npos ? "" : path.substr(0, slash);
    }
    return out;
}

// The tightest CPU quota from the cgroup leaf up to the mount root (a parent's limit binds
// too; in a container the host path in /proc/self/cgroup may not exist under the mount).
void read_cgroup(const std::string& p, Topology& t) {
    std::string v2_path, v1_path;
    bool have_v2 = false, have_v1 = false;
    std::ifstream f(p + "/proc/self/cgroup");
    std::string line;
    while (std::getline(f, line)) {
        const size_t a = line.find(':');
        const size_t b = a == std::string::npos ? a : line.find(':', a + 1);
        if (b == std::string::npos) continue;
        const std::string ctrls = line.substr(a + 1, b - a - 1);
        const std::string path = line.substr(b + 1);
        if (line.compare(0, a, "0") == 0 && ctrls.empty()) {
            have_v2 = true;
            v2_path = path;
        }
        std::stringstream cs(ctrls);
        for (std::string c; std::getline(cs, c, ',');)
            if (c == "cpu") {
                have_v1 = true;
                v1_path = path;
            }
    }
    Quota best;
    auto consider = [&](std::optional<double> cpus, const std::string& raw) {
        if (best.raw.empty()) best.raw = raw;  // the leaf's text when nothing limits
        if (cpus && (!best.cpus || *cpus < *best.cpus)) best = {cpus, raw};
    };
    const std::string v1_mounts[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct",
                                     "/sys/fs/cgroup/cpuacct,cpu"};
    if (have_v1 || !have_v2) {
        for (const auto& mount : v1_mounts) {
            for (const auto& dir : leaf_to_root(v1_path)) {
                const auto q = read_int(p + mount + dir + "/cpu.cfs_quota_us");
                const auto per = read_int(p + mount + dir + "/cpu.cfs_period_us");
                if (!q || !per) continue;
                t.cgroup_version = "v1";
                std::optional<double> cpus;
                if (*q > 0 && *per > 0) cpus = static_cast<double>(*q) / static_cast<double>(*per);
                consider(cpus, std::to_string(*q) + " " + std::to_string(*per));
            }
            if (!t.cgroup_version.empty()) break;
        }
    }
    if (t.cgroup_version.empty()) {
        for (const auto& dir : leaf_to_root(v2_path)) {
            const auto text = read_text(p + "/sys/fs/cgroup" + dir + "/cpu.max");
            if (!text) continue;
            t.cgroup_version = "v2";
            std::istringstream in(*text);
            std::string quota;
            long long period = 100000;
            in >> quota >> period;
            std::optional<double> cpus;
            if (quota != "max" && period > 0) {
                const double q = std::atof(quota.c_str());
                if (q > 0) cpus = q / static_cast<double>(period);
            }
            consider(cpus, *text);
        }
    }
    t.cgroup_cpu_max = best.raw;
    t.cgroup_quota_cpus = best.cpus;
}

}  // namespace

Topology read_topology(const std::string& root_in, const std::optional<std::vector<int>>& allowed) {
    Topology t;
    std::string p = root_in.empty() ? "/" : root_in;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    t.root = p;
    const bool real = p == "/";
    if (real) p.clear();
    const std::string cpu_dir = p + "/sys/devices/system/cpu";

    const std::vector<int> cpu_dirs = numbered_entries(cpu_dir, "cpu");
    t.possible = read_list(cpu_dir + "/possible").value_or(cpu_dirs);
    t.online = read_list(cpu_dir + "/online").value_or(t.possible);
    if (t.online.empty())
        throw ConfigError("no CPUs found under '" + cpu_dir +
                          "': root must be '/' or a directory holding a sysfs tree "
                          "(sys/devices/system/cpu/online, cpuN/topology/...)");
    t.offline = subtract(t.possible, t.online);
    t.isolated = read_list(cpu_dir + "/isolated").value_or(std::vector<int>{});

    if (allowed) {
        std::vector<int> a = *allowed;
        std::sort(a.begin(), a.end());
        a.erase(std::unique(a.begin(), a.end()), a.end());
        t.allowed = intersect(t.online, a);
        t.allowed_source = "given";
    } else if (real) {
        t.allowed = intersect(t.online, unpinned_affinity());
        t.allowed_source = "sched_getaffinity";
    } else if (auto s = status_allowed(p + "/proc/self/status")) {
        t.allowed = intersect(t.online, *s);
        t.allowed_source = "proc/self/status";
    } else {
        t.allowed = t.online;
        t.allowed_source = "online";
    }

    // Hybrid parts list their P-cores and E-cores under the two PMU devices.
    const auto p_cpus = read_list(p + "/sys/devices/cpu_core/cpus");
    const auto e_cpus = read_list(p + "/sys/devices/cpu_atom/cpus");
    t.hybrid = p_cpus && e_cpus && !p_cpus->empty() && !e_cpus->empty();

    std::map<std::vector<int>, CpuCore> by_siblings;
    std::set<int> online_sockets;
    for (const int cpu : t.online) {
        const std::string d = cpu_dir + "/cpu" + std::to_string(cpu) + "/topology/";
        CpuCore c;
        c.socket = static_cast<int>(read_int(d + "physical_package_id").value_or(0));
        c.die = static_cast<int>(read_int(d + "die_id").value_or(-1));
        const long long cl = read_int(d + "cluster_id").value_or(-1);
        c.cluster = (cl < 0 || cl >= 65535) ? -1 : static_cast<int>(cl);
        c.core_id = static_cast<int>(read_int(d + "core_id").value_or(cpu));
        auto sib = read_list(d + "core_cpus_list");
        if (!sib) sib = read_list(d + "thread_siblings_list");
        c.siblings = intersect(sib.value_or(std::vector<int>{cpu}), t.online);
        if (!contains(c.siblings, cpu)) c.siblings = {cpu};
        if (t.hybrid)
            c.core_type = contains(*p_cpus, cpu) ? "P" : contains(*e_cpus, cpu) ? "E" : "";
        online_sockets.insert(c.socket);
        auto [it, fresh] = by_siblings.emplace(c.siblings, c);
        if (contains(t.allowed, cpu)) it->second.cpus.push_back(cpu);
        (void)fresh;
    }
    t.online_sockets = static_cast<int>(online_sockets.size());
    t.online_cores = static_cast<int>(by_siblings.size());
    std::set<int> sockets;
    for (auto& [sib, c] : by_siblings) {
        if (sib.size() > 1) t.smt = true;
        if (c.cpus.empty()) continue;
        sockets.insert(c.socket);
        t.cores.push_back(c);
    }
    std::sort(t.cores.begin(), t.cores.end(),
              [](const CpuCore& a, const CpuCore& b) { return a.cpus.front() < b.cpus.front(); });
    t.sockets.assign(sockets.begin(), sockets.end());

    // A kernel without NUMA support has no node directory: one node holds everything.
    const std::string node_dir = p + "/sys/devices/system/node";
    std::vector<int> node_ids = numbered_entries(node_dir, "node");
    for (const int id : node_ids) {
        const auto cpus = read_list(node_dir + "/node" + std::to_string(id) + "/cpulist");
        NumaNode n{id, intersect(cpus.value_or(std::vector<int>{}), t.allowed)};
        if (!n.cpus.empty()) t.numa_nodes.push_back(n);
    }
    if (node_ids.empty()) t.numa_nodes.push_back(NumaNode{0, t.allowed});

    read_cgroup(p, t);
    return t;
}

namespace {

std::string describe(const CpuSelection& s) {
    std::vector<std::string> parts;
    if (s.cpus) parts.push_back("cpus='" + format_cpulist(*s.cpus) + "'");
    if (s.socket) parts.push_back("socket=" + std::to_string(*s.socket));
    if (s.numa_node) parts.push_back("numa_node=" + std::to_string(*s.numa_node));
    if (s.core_type) parts.push_back("core_type='" + *s.core_type + "'");
    if (s.physical_only) parts.push_back("physical_only=True");
    std::string out;
    for (const auto& x : parts) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? "(all allowed CPUs)" : out;
}

}  // namespace

std::vector<int> select_cpus(const Topology& t, const CpuSelection& s) {
    const int selectors =
        int(s.cpus.has_value()) + int(s.socket.has_value()) + int(s.numa_node.has_value());
    if (selectors > 1)
        throw PinningError("give at most one of cpus, socket or numa_node, got " + describe(s) +
                           "; valid sockets: " + list_or_none(t.sockets) +
                           ", valid NUMA nodes: " + [&] {
                               std::vector<int> ids;
                               for (const auto& n : t.numa_nodes) ids.push_back(n.id);
                               return list_or_none(ids);
                           }());
    std::vector<int> base;
    if (s.cpus) {
        std::vector<int> want = *s.cpus;
        if (want.empty())
            throw PinningError("cpus is empty: give at least one CPU; this process may use " +
                               list_or_none(t.allowed));
        std::sort(want.begin(), want.end());
        want.erase(std::unique(want.begin(), want.end()), want.end());
        std::vector<int> missing, offline, outside;
        for (const int c : want) {
            if (!contains(t.possible, c) && !contains(t.online, c))
                missing.push_back(c);
            else if (!contains(t.online, c))
                offline.push_back(c);
            else if (!contains(t.allowed, c))
                outside.push_back(c);
        }
        if (!missing.empty())
            throw PinningError("no CPU " + format_cpulist(missing) + " on this machine (CPUs " +
                               format_cpulist(t.online) + "); this process may use " +
                               list_or_none(t.allowed));
        if (!offline.empty())
            throw PinningError("CPU " + format_cpulist(offline) +
                               " is offline (online: " + format_cpulist(t.online) +
                               "); this process may use " + list_or_none(t.allowed));
        if (!outside.empty())
            throw PinningError("CPU " + format_cpulist(outside) +
                               " is outside the CPUs this process may use: " +
                               list_or_none(t.allowed) + " (" + t.allowed_source + ")");
        base = want;
    } else if (s.socket) {
        if (!contains(t.sockets, *s.socket))
            throw PinningError("no socket " + std::to_string(*s.socket) +
                               " with CPUs this process may use: valid sockets are " +
                               list_or_none(t.sockets));
        for (const auto& c : t.cores)
            if (c.socket == *s.socket) base.insert(base.end(), c.cpus.begin(), c.cpus.end());
        std::sort(base.begin(), base.end());
    } else if (s.numa_node) {
        std::vector<int> ids;
        for (const auto& n : t.numa_nodes) {
            ids.push_back(n.id);
            if (n.id == *s.numa_node) base = n.cpus;
        }
        if (base.empty())
            throw PinningError("no NUMA node " + std::to_string(*s.numa_node) +
                               " with CPUs this process may use: valid nodes are " +
                               list_or_none(ids));
    } else {
        base = t.allowed;
    }

    if (s.core_type) {
        if (*s.core_type != "P" && *s.core_type != "E")
            throw PinningError("core_type must be 'P' or 'E', got '" + *s.core_type + "'");
        if (!t.hybrid)
            throw PinningError("core_type='" + *s.core_type +
                               "' needs a hybrid CPU, but this one has a single core type; "
                               "leave core_type unset");
    }
    std::vector<int> out;
    for (const auto& c : t.cores) {
        if (s.core_type && c.core_type != *s.core_type) continue;
        for (const int cpu : c.cpus) {
            if (s.physical_only && cpu != c.siblings.front()) continue;
            if (contains(base, cpu)) out.push_back(cpu);
        }
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) {
        std::vector<int> firsts;
        for (const auto& c : t.cores)
            if (contains(t.allowed, c.siblings.front())) firsts.push_back(c.siblings.front());
        throw PinningError(
            "no CPU matches " + describe(s) + ": it starts from CPUs " + list_or_none(base) +
            (s.physical_only ? "; physical_only keeps each core's first hardware "
                               "thread, and those this process may use are " +
                                   list_or_none(firsts)
                             : std::string()) +
            (s.core_type ? "; core_type keeps only '" + *s.core_type + "' cores" : std::string()));
    }
    return out;
}

std::vector<int> nodes_of(const Topology& t, const std::vector<int>& cpus) {
    std::vector<int> sorted = cpus;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int> out;
    for (const auto& n : t.numa_nodes)
        if (!intersect(n.cpus, sorted).empty()) out.push_back(n.id);
    return out;
}

}  // namespace inferclock
