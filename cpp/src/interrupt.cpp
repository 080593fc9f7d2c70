// SIGINT while a timed loop runs: a process-wide flag, raised by our handler, which the first
// Watch installs and the last one removes (restoring the previous handler).
#include "inferclock/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <mutex>

namespace inferclock::interrupt {

namespace {
std::atomic<bool> g_pending{false};
std::atomic<bool> g_chain{true};
std::mutex g_mu;
int g_watchers = 0;
struct sigaction g_previous{};

extern "C" void on_sigint(int sig, siginfo_t* info, void* ctx) {
    g_pending.store(true, std::memory_order_relaxed);
    if (!g_chain.load(std::memory_order_relaxed)) return;
    // Python's C handler only trips its own flags, which is async-signal-safe.
    if (g_previous.sa_flags & SA_SIGINFO) {
        if (g_previous.sa_sigaction) g_previous.sa_sigaction(sig, info, ctx);
    } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
               g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(sig);
    }
}
}  // namespace

bool pending() { return g_pending.load(std::memory_order_relaxed); }
void clear() { g_pending.store(false, std::memory_order_relaxed); }
bool take() { return g_pending.exchange(false, std::memory_order_relaxed); }

Watch::Watch(bool chain) {
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_watchers++ > 0) return;
    g_pending.store(false, std::memory_order_relaxed);  // a stale flag would end the loop at once
    struct sigaction prev{};
    sigaction(SIGINT, nullptr, &prev);
    g_previous = prev;  // before ours is installed: the handler may run at once
    if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_IGN) return;  // leave it so
    g_chain.store(chain, std::memory_order_relaxed);
    struct sigaction sa{};
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
}

Watch::~Watch() {
    std::lock_guard<std::mutex> lk(g_mu);
    if (--g_watchers > 0) return;
    struct sigaction cur{};
    sigaction(SIGINT, nullptr, &cur);
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigint)
        sigaction(SIGINT, &g_previous, nullptr);
}

}  // namespace inferclock::interrupt
