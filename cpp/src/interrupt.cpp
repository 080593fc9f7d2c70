// SIGINT while a timed loop runs: a process-wide generation counter, bumped by our handler,
// which the first Watch installs and the last one removes (restoring the previous handler).
#include "inferclock/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <mutex>

namespace inferclock::interrupt {

namespace {
std::atomic<uint64_t> g_generation{0};
std::atomic<int> g_swallowers{0};  // Watches alive that swallow (see interrupt.hpp)
std::mutex g_mu;
int g_watchers = 0;
struct sigaction g_previous{};

extern "C" void on_sigint(int sig, siginfo_t* info, void* ctx) {
    g_generation.fetch_add(1, std::memory_order_relaxed);
    if (g_swallowers.load(std::memory_order_relaxed) > 0) return;
    // Python's C handler only trips its own flags, which is async-signal-safe.
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, ctx);
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
               g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(sig);
    }
}
}  // namespace

uint64_t generation() { return g_generation.load(std::memory_order_relaxed); }
bool since(uint64_t g) { return g_generation.load(std::memory_order_relaxed) != g; }

Watch::Watch(bool swallow) : swallow_(swallow) {
    std::lock_guard<std::mutex> lk(g_mu);
    if (swallow_) g_swallowers.fetch_add(1, std::memory_order_relaxed);
    if (g_watchers++ > 0) return;
    struct sigaction prev{};
    sigaction(SIGINT, nullptr, &prev);
    g_previous = prev;  // before ours is installed: the handler may run at once
    if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_IGN) return;  // leave it so
    struct sigaction sa{};
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
}

Watch::~Watch() {
    std::lock_guard<std::mutex> lk(g_mu);
    if (swallow_) g_swallowers.fetch_sub(1, std::memory_order_relaxed);
    if (--g_watchers > 0) return;
    struct sigaction cur{};
    sigaction(SIGINT, nullptr, &cur);
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigint)
        sigaction(SIGINT, &g_previous, nullptr);
}

}  // namespace inferclock::interrupt
