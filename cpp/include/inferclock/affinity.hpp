// CPU affinity and NUMA memory policy of threads, and a RAII guard that applies a CPU mask
// (and optionally binds memory) and restores what was there before. Linux only; memory
// policy goes through the set_mempolicy/get_mempolicy system calls, without libnuma.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace inferclock {

// CPUs thread `tid` may run on (0: the calling thread). Throws PinningError on failure.
std::vector<int> get_affinity(pid_t tid = 0);

// Sets thread `tid`'s mask (0: the calling thread). Throws PinningError naming the CPUs.
void set_affinity(const std::vector<int>& cpus, pid_t tid = 0);

// The calling thread's mask as it was before any inferclock pin now in force (the mask the
// outermost active PinGuard saved), else its current mask: "what this process may use".
std::vector<int> unpinned_affinity();

// The CPU the calling thread runs on now (sched_getcpu).
int current_cpu();

// Thread ids of this process (/proc/self/task).
std::vector<pid_t> thread_ids();

// The calling thread's memory policy. mode is MPOL_* including mode flags.
struct MemPolicy {
    int mode = 0;
    std::vector<int> nodes;
};
MemPolicy get_mempolicy();
void set_mempolicy(const MemPolicy& policy);  // throws PinningError when the kernel refuses
const char* mempolicy_name(int mode);         // "default", "bind", ... (flags ignored)

enum class PinScope { thread, process };

// Applies `cpus` to the calling thread (thread scope) or to every thread of the process
// (process scope; threads started later inherit it), and with non-empty `membind_nodes`
// binds the calling thread's memory to those nodes (MPOL_BIND; threads it starts later
// inherit it, other threads keep theirs: the kernel offers no call to change them).
// release() or the destructor restores each thread's previous mask and the memory policy;
// process-scope threads born during the pin get the creating thread's previous mask.
// Guards must be released in reverse order of creation to restore exactly.
class PinGuard {
   public:
    PinGuard(std::vector<int> cpus, PinScope scope, std::vector<int> membind_nodes = {});
    ~PinGuard();
    PinGuard(const PinGuard&) = delete;
    PinGuard& operator=(const PinGuard&) = delete;

    // Restores; idempotent. Throws PinningError if a restore failed (the destructor does not).
    void release();
    bool active() const { return active_; }
    const std::vector<int>& cpus() const { return cpus_; }
    const std::vector<int>& membind_nodes() const { return nodes_; }
    const std::vector<int>& previous() const { return caller_previous_; }
    PinScope scope() const { return scope_; }

   private:
    struct Saved {
        pid_t tid;
        std::vector<int> mask;
    };
    std::string restore() noexcept;  // returns the first error, "" if none

    std::vector<int> cpus_;
    std::vector<int> nodes_;
    PinScope scope_;
    pid_t owner_ = 0;
    std::vector<int> caller_previous_;
    std::vector<Saved> saved_;
    MemPolicy saved_policy_;
    bool bound_ = false;
    bool active_ = false;
};

}  // namespace inferclock
