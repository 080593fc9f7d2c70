// Open-loop scenarios (MLPerf LoadGen's Server and MultiStream): queries due on a schedule fixed
// in advance, an issuer thread that takes each one up at its due time and starts it on a free
// infer request, and completion callbacks that only store their tick.
//
// The issuer never waits on a completion: it sleeps on a futex until shortly before the next
// due time (a completion wakes it early only to start a query waiting in the FIFO queue), then
// spins on the clock. Queries are taken up in due order, so the FIFO queue is the index range
// [head, next): taken up, not started yet. A request freed by its callback is restarted only
// after request.wait(), once OpenVINO is done with it (it puts the callback back first), so
// no completion goes without its callback.
#include <linux/futex.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <thread>

#include "detail.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/interrupt.hpp"

namespace inferclock {

namespace {

using detail::kIdle;
using detail::kSliceNs;
using detail::kWarm;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

long futex_wait(std::atomic<uint32_t>* word, uint32_t seen, double ns) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(ns / 1e9);
    ts.tv_nsec = static_cast<long>(ns - static_cast<double>(ts.tv_sec) * 1e9);
    return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, &ts,
                   nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>* word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
            0);
}

}  // namespace

void Engine::serve_fail(std::exception_ptr ex) noexcept {
    bool expected = false;
    if (serve_failed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
        serve_error_ = std::move(ex);
}

void Engine::on_served(size_t r, uint64_t end, std::exception_ptr ex) noexcept {
    const int64_t q = serve_query_[r].load(std::memory_order_acquire);
    if (ex)
        serve_fail(std::move(ex));
    else if (q >= 0)
        serve_completed_[q] = end;
    if (q >= 0) serve_done_.fetch_add(1, std::memory_order_acq_rel);  // warm-up runs aside
    serve_query_[r].store(kIdle, std::memory_order_release);
    serve_word_.fetch_add(1, std::memory_order_seq_cst);
    if (issuer_waiting_.load(std::memory_order_seq_cst)) futex_wake(&serve_word_);
}

// Sleep until a completion bumps the futex word (from `seen`) or max_ns passed.
void Engine::serve_wait(uint32_t seen, double max_ns) {
    if (max_ns <= 0) return;
    issuer_waiting_.store(true, std::memory_order_seq_cst);
    if (serve_word_.load(std::memory_order_seq_cst) == seen)
        futex_wait(&serve_word_, seen, std::min(max_ns, kSliceNs));
    issuer_waiting_.store(false, std::memory_order_relaxed);
}

// Start query q on idle request r (the issuer's thread).
void Engine::serve_start(int64_t q, size_t r, const ServeTicks& t, ServeRun& run) {
    try {
        requests_[r].wait();  // OpenVINO's tail after the last callback (see the top)
    } catch (...) {           // that inference's error reached its callback already
    }
    serve_query_[r].store(q, std::memory_order_release);
    t.started[q] = now_ticks(source_);
    try {
        requests_[r].start_async();
    } catch (...) {
        serve_query_[r].store(kIdle, std::memory_order_release);
        t.started[q] = 0;
        run.error = std::current_exception();
    }
}

// Every request once, untimed, through the serving callback: the schedule starts warm.
void Engine::serve_warm() {
    const size_t n = static_cast<size_t>(async_requests_);
    for (size_t r = 0; r < n; ++r) {
        serve_query_[r].store(kWarm, std::memory_order_release);
        try {
            requests_[r].start_async();
        } catch (...) {
            serve_query_[r].store(kIdle, std::memory_order_release);
            serve_fail(std::current_exception());
            break;
        }
    }
    for (size_t r = 0; r < n; ++r) {
        while (serve_query_[r].load(std::memory_order_acquire) != kIdle)
            std::this_thread::sleep_for(std::chrono::microseconds(20));
        try {
            requests_[r].wait();
        } catch (...) {
        }
    }
}

size_t Engine::idle_request(size_t& cursor) const {
    const size_t nreq = static_cast<size_t>(async_requests_);
    for (size_t k = 0; k < nreq; ++k) {
        const size_t r = (cursor + k) % nreq;
        if (serve_query_[r].load(std::memory_order_acquire) == kIdle) {
            cursor = r + 1;
            return r;
        }
    }
    return nreq;
}

bool Engine::serve_halted() const {
    return serve_failed_.load(std::memory_order_acquire) ||
           user_stop_.load(std::memory_order_relaxed) || interrupted();
}

ServeRun Engine::issue(const ServeTicks& t, const ServeOptions& o) {
    ServeRun run;
    const size_t nreq = static_cast<size_t>(async_requests_);
    const double ticks_per_ns = source_ == ClockSource::monotonic_raw
                                    ? 1.0
                                    : process_clock().frequency_hz / 1e9;
    const auto spin_ticks = static_cast<uint64_t>(o.spin_ns * ticks_per_ns);
    run.start_tick = now_ticks(source_);
    for (int64_t i = 0; i < t.n; ++i)
        t.due[i] =
            run.start_tick + static_cast<uint64_t>(std::llround(t.offsets_ns[i] * ticks_per_ns));
    // [head, next): taken up, not started; `end`: where taking up stops (max_outstanding
    // lowers it to the prefix taken up, which still runs).
    int64_t head = 0, next = 0, end = t.n;
    size_t cursor = 0;  // where the search for an idle request begins (round robin)
    for (;;) {
        const uint32_t seen = serve_word_.load(std::memory_order_seq_cst);
        if (serve_halted() || run.error) {
            run.stopped = !serve_failed_.load() && !run.error;
            break;
        }
        // The FIFO queue first: its queries are overdue.
        while (head < next) {
            const size_t r = idle_request(cursor);
            if (r == nreq) break;
            serve_start(head++, r, t, run);
            if (run.error) break;
        }
        if (run.error) break;
        if (next == end) {
            if (head == end) break;
            serve_wait(seen, kSliceNs);  // only queued queries are left
            continue;
        }
        const uint64_t now = now_ticks(source_);
        const uint64_t due = t.due[next];
        if (now >= due) {
            t.issued[next] = now;
            ++run.taken;
            if (o.policy == ServePolicy::skip && head == next && idle_request(cursor) == nreq) {
                ++run.skipped;  // taken up, never started
                head = ++next;
                continue;
            }
            const int64_t outstanding =
                run.taken - run.skipped - serve_done_.load(std::memory_order_acquire);
            run.max_outstanding = std::max(run.max_outstanding, outstanding);
            ++next;  // queued; the loop's top starts it on an idle request
            // As LoadGen's issue loop: checked after the query was issued, which still runs.
            if (o.max_outstanding > 0 && outstanding > o.max_outstanding) {
                run.runaway = true;
                end = next;
            }
            continue;
        }
        const uint64_t left = due - now;
        if (left > spin_ticks)
            serve_wait(seen, static_cast<double>(left - spin_ticks) / ticks_per_ns);
        else
            cpu_relax();
    }
    return run;
}

// Wait until every started query completed and no callback is inside any more.
void Engine::serve_drain() {
    const size_t nreq = static_cast<size_t>(async_requests_);
    for (;;) {
        const uint32_t seen = serve_word_.load(std::memory_order_seq_cst);
        bool busy = false;
        for (size_t r = 0; r < nreq; ++r)
            busy = busy || serve_query_[r].load(std::memory_order_acquire) != kIdle;
        if (!busy && callbacks_inside_.load(std::memory_order_acquire) == 0) break;
        if (busy)
            serve_wait(seen, kSliceNs);
        else
            std::this_thread::yield();  // a callback's last few instructions
    }
    for (size_t r = 0; r < nreq; ++r) {
        try {
            requests_[r].wait();
        } catch (...) {
        }
    }
}

void Engine::serve_begin(uint64_t* completed) {
    ensure_callbacks();
    serve_completed_ = completed;
    serve_done_.store(0, std::memory_order_relaxed);
    serve_failed_.store(false, std::memory_order_relaxed);
    serve_error_ = nullptr;
    serving_.store(true, std::memory_order_release);  // publishes the state above to callbacks
    serve_warm();
}

std::exception_ptr Engine::serve_end(std::exception_ptr error, const char* mode) {
    serve_drain();
    serving_.store(false, std::memory_order_release);
    serve_completed_ = nullptr;
    if (!error && serve_failed_.load(std::memory_order_acquire)) error = serve_error_;
    if (error)
        error = detail::as_device_error(
            error, std::string("inference failed in ") + mode + " on '" + opts_.device + "'");
    return error;
}

void Engine::on_issuer(int nice, int& ran_at, std::exception_ptr& error,
                       const std::function<void()>& body) {
    std::exception_ptr crashed;
    std::thread issuer([&] {
        pthread_setname_np(pthread_self(), "ic-issuer");
        // Timer slack (50 us by default) would make every sleep that much late.
        prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
        const auto tid = static_cast<id_t>(syscall(SYS_gettid));
        // Opt-in only: by default the issuer keeps the process's priority, as LoadGen's
        // threads do (a raised issuer lengthened the tail it measured on a busy machine).
        if (nice < 0) setpriority(PRIO_PROCESS, tid, nice);  // best effort: read back below
        errno = 0;
        const int now = getpriority(PRIO_PROCESS, tid);
        ran_at = errno == 0 ? now : 0;
        try {
            body();
        } catch (...) {
            crashed = std::current_exception();
        }
    });
    issuer.join();
    if (crashed) error = crashed;
}

ServeRun Engine::serve(const ServeTicks& ticks, const ServeOptions& opts, uint64_t since) {
    Hold hold(*this, "serve");
    watch_interrupts(since);
    if (async_running_) throw ConfigError("serve: the async loop is running");
    if (ticks.n < 0) throw ConfigError("serve: negative query count");
    for (int64_t i = 1; i < ticks.n; ++i)
        if (!(ticks.offsets_ns[i] >= ticks.offsets_ns[i - 1]))
            throw ConfigError("serve: the schedule's offsets must be ascending");
    if (ticks.n > 0 && !(ticks.offsets_ns[0] >= 0))
        throw ConfigError("serve: the schedule's offsets must be >= 0");
    serve_begin(ticks.completed);
    ServeRun run;
    if (!serve_failed_.load(std::memory_order_acquire)) {
        int nice = 0;
        std::exception_ptr crashed;
        on_issuer(opts.nice, nice, crashed, [&] { run = issue(ticks, opts); });
        run.nice = nice;
        if (crashed) run.error = crashed;
    }
    run.error = serve_end(run.error, "server mode");
    return run;
}

}  // namespace inferclock
