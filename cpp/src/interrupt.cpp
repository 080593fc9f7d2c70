#include "inferclock/interrupt.hpp"

#include <atomic>
#include <csignal>
#include <mutex>

namespace inferclock::interrupt {

namespace {
std::atomic<bool> g_pending{false};
std::mutex g_mu;
int g_watchers = 0;
struct sigaction g_previous {};

extern "C" void on_sigint(int sig, siginfo_t* info, void* ctx) {
    g_pending.store(true, std::memory_order_relaxed);
    // Chain: Python's handler only trips its own flags, which is async-signal-safe.
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

Watch::Watch() {
    std::lock_guard<std::mutex> lk(g_mu);
    if (g_watchers++ > 0) return;
    struct sigaction sa {};
    sa.sa_sigaction = on_sigint;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    struct sigaction prev {};
    sigaction(SIGINT, nullptr, &prev);
    if (!(prev.sa_flags & SA_SIGINFO) && prev.sa_handler == SIG_IGN) {
        g_previous = prev;  // SIGINT ignored: leave it so
        return;
    }
    sigaction(SIGINT, &sa, &g_previous);
}

Watch::~Watch() {
    std::lock_guard<std::mutex> lk(g_mu);
    if (--g_watchers > 0) return;
    struct sigaction cur {};
    sigaction(SIGINT, nullptr, &cur);
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigint)
        sigaction(SIGINT, &g_previous, nullptr);
}

}  // namespace inferclock::interrupt
