#include "inferclock/affinity.hpp"

#include <dirent.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "inferclock/cpulist.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

namespace {

constexpr int kMpolBind = 2;
constexpr int kMpolModeFlags = (1 << 15) | (1 << 14) | (1 << 13);
constexpr int kMaxNodes = 4096;  // above any kernel's MAX_NUMNODES (get_mempolicy needs >=)
constexpr int kBitsPerLong = 8 * sizeof(unsigned long);

struct CpuSetDeleter {
    void operator()(cpu_set_t* s) const { CPU_FREE(s); }
};
using CpuSetPtr = std::unique_ptr<cpu_set_t, CpuSetDeleter>;

pid_t gettid_() { return static_cast<pid_t>(syscall(SYS_gettid)); }

std::string errno_text(int e) { return std::string(std::strerror(e)); }

// Thread-safe bookkeeping of active guards, for unpinned_affinity().
std::mutex g_mutex;
int g_active = 0;
std::vector<int> g_base;  // mask saved by the outermost active guard

int get_affinity_raw(pid_t tid, std::vector<int>& out) {
    for (int n = 1024; n <= (1 << 20); n *= 2) {
        CpuSetPtr set(CPU_ALLOC(n));
        const size_t size = CPU_ALLOC_SIZE(n);
        CPU_ZERO_S(size, set.get());
        if (sched_getaffinity(tid, size, set.get()) == 0) {
            out.clear();
            for (int c = 0; c < n; ++c)
                if (CPU_ISSET_S(c, size, set.get())) out.push_back(c);
            return 0;
        }
        if (errno != EINVAL) return errno;
    }
    return EINVAL;
}

int set_affinity_raw(pid_t tid, const std::vector<int>& cpus) {
    const int max = cpus.empty() ? 0 : *std::max_element(cpus.begin(), cpus.end());
    const int n = std::max(1024, max + 1);
    CpuSetPtr set(CPU_ALLOC(n));
    const size_t size = CPU_ALLOC_SIZE(n);
    CPU_ZERO_S(size, set.get());
    for (const int c : cpus) CPU_SET_S(c, size, set.get());
    return sched_setaffinity(tid, size, set.get()) == 0 ? 0 : errno;
}

}  // namespace

std::vector<int> get_affinity(pid_t tid) {
    std::vector<int> out;
    if (const int e = get_affinity_raw(tid, out))
        throw PinningError("sched_getaffinity(" + std::to_string(tid) +
                           ") failed: " + errno_text(e));
    return out;
}

void set_affinity(const std::vector<int>& cpus, pid_t tid) {
    if (cpus.empty()) throw PinningError("cannot pin to an empty CPU set");
    if (const int e = set_affinity_raw(tid, cpus))
        throw PinningError("sched_setaffinity to CPUs " + format_cpulist(cpus) +
                           " failed: " + errno_text(e) +
                           (e == EINVAL ? " (none of them is in this process's cpuset; it may "
                                          "use " +
                                              format_cpulist(unpinned_affinity()) + ")"
                                        : std::string()));
}

std::vector<int> unpinned_affinity() {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (g_active > 0) return g_base;
    }
    return get_affinity(0);
}

int current_cpu() {
    const int c = sched_getcpu();
    if (c < 0) throw PinningError("sched_getcpu failed: " + errno_text(errno));
    return c;
}

std::vector<pid_t> thread_ids() {
    std::vector<pid_t> out;
    DIR* d = opendir("/proc/self/task");
    if (d == nullptr) return {gettid_()};
    while (const dirent* e = readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

MemPolicy get_mempolicy() {
    std::vector<unsigned long> mask(kMaxNodes / kBitsPerLong, 0);
    int mode = 0;
    if (syscall(SYS_get_mempolicy, &mode, mask.data(), static_cast<unsigned long>(kMaxNodes),
                nullptr, 0UL) != 0)
        throw PinningError("get_mempolicy failed: " + errno_text(errno));
    MemPolicy p;
    p.mode = mode;
    for (int n = 0; n < kMaxNodes; ++n)
        if (mask[n / kBitsPerLong] >> (n % kBitsPerLong) & 1UL) p.nodes.push_back(n);
    return p;
}

void set_mempolicy(const MemPolicy& p) {
    std::vector<unsigned long> mask(kMaxNodes / kBitsPerLong, 0);
    for (const int n : p.nodes) {
        if (n < 0 || n >= kMaxNodes)
            throw PinningError("NUMA node " + std::to_string(n) + " out of range");
        mask[n / kBitsPerLong] |= 1UL << (n % kBitsPerLong);
    }
    // The kernel reads maxnode - 1 bits (a historical off-by-one libnuma also compensates).
    if (syscall(SYS_set_mempolicy, p.mode, mask.data(),
                static_cast<unsigned long>(kMaxNodes) + 1) != 0)
        throw PinningError(std::string("set_mempolicy(") + mempolicy_name(p.mode) + ", nodes " +
                           format_cpulist(p.nodes) + ") failed: " + errno_text(errno));
}

const char* mempolicy_name(int mode) {
    switch (mode & ~kMpolModeFlags) {
        case 0:
            return "default";
        case 1:
            return "preferred";
        case 2:
            return "bind";
        case 3:
            return "interleave";
        case 4:
            return "local";
        case 5:
            return "preferred_many";
        case 6:
            return "weighted_interleave";
    }
    return "unknown";
}

PinGuard::PinGuard(std::vector<int> cpus, PinScope scope, std::vector<int> membind_nodes)
    : cpus_(std::move(cpus)), nodes_(std::move(membind_nodes)), scope_(scope) {
    std::sort(cpus_.begin(), cpus_.end());
    cpus_.erase(std::unique(cpus_.begin(), cpus_.end()), cpus_.end());
    if (cpus_.empty()) throw PinningError("cannot pin to an empty CPU set");
    owner_ = gettid_();
    caller_previous_ = get_affinity(0);
    if (!nodes_.empty()) saved_policy_ = get_mempolicy();
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        if (g_active++ == 0) g_base = caller_previous_;
    }
    active_ = true;
    try {
        if (scope_ == PinScope::thread) {
            saved_.push_back({owner_, caller_previous_});
            set_affinity(cpus_, owner_);
        } else {
            // Threads may start while we walk the list: walk until a pass finds none new.
            for (int pass = 0; pass < 20; ++pass) {
                bool fresh = false;
                for (const pid_t tid : thread_ids()) {
                    if (std::any_of(saved_.begin(), saved_.end(),
                                    [&](const Saved& s) { return s.tid == tid; }))
                        continue;
                    fresh = true;
                    Saved s{tid, {}};
                    const int ge = get_affinity_raw(tid, s.mask);
                    if (ge == ESRCH) continue;  // exited meanwhile
                    if (ge != 0)
                        throw PinningError("sched_getaffinity of thread " + std::to_string(tid) +
                                           ": " + errno_text(ge));
                    saved_.push_back(s);
                    const int se = set_affinity_raw(tid, cpus_);
                    if (se == ESRCH) continue;
                    if (se != 0)
                        throw PinningError("sched_setaffinity of thread " + std::to_string(tid) +
                                           " to CPUs " + format_cpulist(cpus_) +
                                           " failed: " + errno_text(se));
                }
                if (!fresh) break;
            }
        }
        if (!nodes_.empty()) {
            set_mempolicy(MemPolicy{kMpolBind, nodes_});
            bound_ = true;
        }
    } catch (...) {
        restore();
        throw;
    }
}

PinGuard::~PinGuard() { restore(); }

void PinGuard::release() {
    if (!active_) return;
    if (bound_ && gettid_() != owner_)
        throw PinningError(
            "a pin with membind must be released by the thread that made it "
            "(memory policy belongs to a thread)");
    const std::string err = restore();
    if (!err.empty()) throw PinningError(err);
}

std::string PinGuard::restore() noexcept {
    if (!active_) return "";
    active_ = false;
    std::string err;
    try {
        if (bound_ && gettid_() == owner_) {
            try {
                set_mempolicy(saved_policy_);
            } catch (const Error& e) {
                err = e.what();
            }
        }
        bound_ = false;
        std::vector<pid_t> now = scope_ == PinScope::process ? thread_ids() : std::vector<pid_t>{};
        for (const auto& s : saved_) {
            const int e = set_affinity_raw(s.tid, s.mask);
            if (e != 0 && e != ESRCH && err.empty())
                err = "restoring thread " + std::to_string(s.tid) + " to CPUs " +
                      format_cpulist(s.mask) + " failed: " + errno_text(e);
            now.erase(std::remove(now.begin(), now.end(), s.tid), now.end());
        }
        for (const pid_t tid : now) set_affinity_raw(tid, caller_previous_);  // born inside
    } catch (...) {
        if (err.empty()) err = "restoring the CPU mask failed";
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    if (--g_active == 0) g_base.clear();
    return err;
}

}  // namespace inferclock
