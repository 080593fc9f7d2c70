// The throughput loop: N requests restarted from their completion callbacks, the collector that
// drains their completions (completion_log.hpp) and restarts requests that stalled, and the
// stop that returns only when no callback can touch the engine any more.
//
// Callbacks run on OpenVINO's threads. They store a tick and restart their request, nothing
// else: no lock, no allocation, no Python. A callback that does not restart its request ends
// with the in-flight decrement, its last touch of the engine; async_stop waits for zero.
//
// OpenVINO holds a request's callback aside while calling it and puts it back afterwards, so a
// request restarted from inside its callback that completes before the callback is back
// completes with no callback at all. The collector notices (OpenVINO says the request is done
// but no callback entered for its last start), takes the request back and restarts it.
// drop_completions makes such losses on purpose, so tests reach that path.
//
// A start OpenVINO refuses as busy (ov::Busy: the request not yet released from its last run)
// never fails the loop: the collector waits for the release and starts it again; a callback,
// which cannot wait for its own request, leaves it idle for the collector to do so.
// busy_starts makes such refusals on purpose, so tests reach that path.
#include <openvino/runtime/exception.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "detail.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/interrupt.hpp"

namespace inferclock {

namespace {
using Steady = std::chrono::steady_clock;
// The collector also wakes this often on its own: a signal handler cannot post for it.
constexpr auto kSlice = std::chrono::milliseconds(20);
}  // namespace

bool Engine::stopping() const {
    return halt_.load(std::memory_order_relaxed) || user_stop_.load(std::memory_order_relaxed) ||
           interrupted();
}

// Start request r; the caller holds its in-flight count. Returns the error if it did not start.
std::exception_ptr Engine::launch(size_t r) noexcept {
    ov::InferRequest& req = requests_[r];  // read before the release below, not after
    AsyncRequest& q = async_[r];
    q.start_ticks.store(now_ticks(source_), std::memory_order_release);
    q.launched.fetch_add(1, std::memory_order_release);
    try {
        if (busy_left_.load(std::memory_order_relaxed) != 0 && busy_this())
            ov::Busy::create("Infer Request is busy");  // as OpenVINO says it (busy_starts)
        req.start_async();
        return nullptr;
    } catch (...) {
        return std::current_exception();
    }
}

bool Engine::is_busy(const std::exception_ptr& ex) noexcept {
    try {
        std::rethrow_exception(ex);
    } catch (const ov::Busy&) {
        return true;
    } catch (...) {
        return false;
    }
}

// Start request r from the collector's thread (the caller holds its in-flight count): a busy
// refusal waits for OpenVINO to release the request, then tries again.
std::exception_ptr Engine::launch_waiting(size_t r) {
    std::exception_ptr ex;
    for (int tries = 0; tries < kBusyTries; ++tries) {
        ex = launch(r);
        if (!ex || !is_busy(ex)) return ex;
        busy_waits_.fetch_add(1, std::memory_order_relaxed);
        try {
            requests_[r].wait();
        } catch (...) {  // that run's error reached its callback already
        }
        std::this_thread::yield();
    }
    return ex;
}

void Engine::busy_starts(uint64_t count) { busy_left_.store(count, std::memory_order_relaxed); }

bool Engine::busy_this() noexcept {
    uint64_t left = busy_left_.load(std::memory_order_relaxed);
    while (left != 0 &&
           !busy_left_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
    }
    return left != 0;
}

bool Engine::close_failed(size_t r, std::exception_ptr ex) noexcept {
    halt_.store(true, std::memory_order_release);  // the other requests stop restarting too
    return log_->fail(r, std::move(ex));
}

void Engine::on_complete(size_t r, uint64_t end, std::exception_ptr ex) noexcept {
    // Fault injection (drop_completions): gone before it touches anything, as if never called.
    if (drop_left_.load(std::memory_order_relaxed) != 0 && drop_this()) return;
    // Acquire before reading anything else: pairs with async_start's release, so the engine's
    // set-up is visible here without trusting OpenVINO's hand-off (TSan cannot see it).
    const bool halted = halt_.load(std::memory_order_acquire);
    AsyncRequest& q = async_[r];
    q.entered.fetch_add(1, std::memory_order_release);
    const Completion c{q.start_ticks.load(std::memory_order_acquire), end};
    bool closed;  // this callback leaves the request idle (false: the collector took it back)
    if (ex) {
        closed = close_failed(r, std::move(ex));
    } else if (!log_->record(r, c)) {
        closed = log_->park(r, c);  // ring full: the collector stores it and restarts r
    } else if (halted || stopping()) {
        closed = log_->stop(r);
    } else if (!(ex = launch(r))) {
        return;  // runs on with its in-flight count
    } else if (is_busy(ex)) {
        busy_waits_.fetch_add(1, std::memory_order_relaxed);
        closed = log_->stop(r);  // idle: the collector waits for the release and restarts it
    } else {
        closed = close_failed(r, std::move(ex));
    }
    if (closed) in_flight_.fetch_sub(1, std::memory_order_release);
}

// Once per engine: OpenVINO puts a callback back after calling it, so setting one while an
// earlier callback's tail may still run would race with that.
template <class Clock>
void Engine::set_callbacks() {
    for (size_t r = 0; r < static_cast<size_t>(async_requests_); ++r)
        requests_[r].set_callback([this, r](std::exception_ptr ex) {
            const uint64_t end = Clock::stop();  // the tick first: the count is not timed
            callbacks_inside_.fetch_add(1, std::memory_order_relaxed);
            if (RequestDriver* d = driver_.load(std::memory_order_acquire))
                d->on_done(r, end, std::move(ex));
            else if (serving_.load(std::memory_order_acquire))
                on_served(r, end, std::move(ex));
            else
                on_complete(r, end, std::move(ex));
            callbacks_inside_.fetch_sub(1, std::memory_order_release);  // our last touch
        });
}

// A callback's tail (after its in-flight decrement, or after start_async restarted its
// request) is a few instructions: spin, then yield.
void Engine::quiesce_callbacks() const {
    for (int k = 0; callbacks_inside_.load(std::memory_order_acquire) != 0; ++k)
        if (k > 64) std::this_thread::yield();
}

void Engine::ensure_callbacks() {
    const size_t n = static_cast<size_t>(async_requests_);
    if (!async_) async_.reset(new AsyncRequest[n]);
    if (!serve_query_) {
        serve_query_.reset(new std::atomic<int64_t>[n]);
        for (size_t r = 0; r < n; ++r) serve_query_[r].store(-1, std::memory_order_relaxed);
    }
    if (!callbacks_set_) {
        if (source_ == ClockSource::monotonic_raw)
            set_callbacks<detail::RawClock>();
        else
            set_callbacks<detail::CounterClock>();
        callbacks_set_ = true;
    }
}

void Engine::async_start() {
    Hold hold(*this, "async_start");
    if (async_running_) throw ConfigError("async loop already running");
    const size_t n = static_cast<size_t>(async_requests_);
    log_ = std::make_unique<CompletionLog>(n, opts_.completion_capacity);
    ensure_callbacks();
    async_taken_ = 0;
    lost_ticks_.clear();
    in_flight_.store(static_cast<int>(n), std::memory_order_relaxed);
    async_running_ = true;
    async_start_tick_ = now_ticks(source_);
    halt_.store(false, std::memory_order_release);  // publishes the set-up above to callbacks
    busy_waits_.store(0, std::memory_order_relaxed);
    for (size_t r = 0; r < n; ++r) {
        if (std::exception_ptr ex = launch_waiting(r)) {
            log_->fail(r, ex);  // never started: no callback will come
            in_flight_.fetch_sub(static_cast<int>(n - r));
            for (size_t k = r + 1; k < n; ++k) log_->stop(k);
            stop_async_loop();
            std::rethrow_exception(detail::as_device_error(
                ex, "could not start async inference on '" + opts_.device + "'"));
        }
    }
}

// Request r is running for us, but OpenVINO is done with its last start and no callback entered
// for it: a lost completion (see the top of this file). Take it back.
bool Engine::reclaim_lost(size_t r) {
    AsyncRequest& q = async_[r];
    const uint64_t launched = q.launched.load(std::memory_order_acquire);
    bool done = true;
    try {
        done = requests_[r].wait_for(std::chrono::milliseconds(0));
    } catch (...) {  // a failed start: its future holds the error
    }
    if (!done || q.entered.load(std::memory_order_acquire) >= launched ||
        q.launched.load(std::memory_order_acquire) != launched || !log_->reclaim(r))
        return false;
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    lost_ticks_.push_back(now_ticks(source_));
    return true;
}

void Engine::drop_completions(uint64_t count, uint64_t every) {
    drop_left_.store(0, std::memory_order_relaxed);
    drop_seen_.store(0, std::memory_order_relaxed);
    drop_every_.store(std::max<uint64_t>(every, 1), std::memory_order_relaxed);
    drop_left_.store(count, std::memory_order_relaxed);
}

bool Engine::drop_this() noexcept {
    const uint64_t seen = drop_seen_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (seen % drop_every_.load(std::memory_order_relaxed) != 0) return false;
    uint64_t left = drop_left_.load(std::memory_order_relaxed);
    while (left != 0 &&
           !drop_left_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) {
    }
    return left != 0;
}

// Restart an idle request from the collector: after its last callback and OpenVINO's tail.
void Engine::restart(size_t r) {
    try {
        requests_[r].wait();
    } catch (...) {
    }
    log_->resume(r);
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    if (std::exception_ptr ex = launch_waiting(r))
        if (close_failed(r, std::move(ex))) in_flight_.fetch_sub(1, std::memory_order_relaxed);
}

// One look at every request: restart the idle ones (unless stopping), reclaim lost ones, count
// those still running and find an error.
Engine::Census Engine::tend_requests() {
    Census c;
    const bool may_restart = async_running_ && !stopping();
    for (size_t r = 0; r < log_->requests(); ++r) {
        RequestState s = log_->state(r);
        while (s == RequestState::closing) {  // its callback is writing the slot: a moment
            std::this_thread::yield();
            s = log_->state(r);
        }
        if (s == RequestState::running && async_running_ && reclaim_lost(r)) s = RequestState::idle;
        if (s == RequestState::idle && may_restart) {
            restart(r);
            s = log_->state(r);
        }
        if (s == RequestState::running) ++c.running;
        if (s == RequestState::failed && !c.error) c.error = log_->error(r);
    }
    return c;
}

AsyncBatch Engine::async_collect(uint64_t n, double timeout_s, uint64_t since) {
    Hold hold(*this, "async_collect");
    AsyncBatch out;
    if (!log_) return out;
    watch_interrupts(since);
    const auto deadline =
        Steady::now() + std::chrono::duration_cast<Steady::duration>(
                            std::chrono::duration<double>(std::max(timeout_s, 0.0)));
    const uint64_t target = async_taken_ + n;  // in recorded() terms
    std::vector<Completion> got;
    std::exception_ptr error;
    for (;;) {
        async_taken_ += log_->drain(got);
        const Census c = tend_requests();
        error = c.error;
        const bool timed_out = Steady::now() >= deadline;
        // After an error, wait for the requests still running: their completions count too.
        if (error ? c.running == 0 || timed_out
                  : got.size() >= n || stopping() || timed_out || !async_running_)
            break;
        log_->wait(target, std::min(deadline, Steady::now() + kSlice));
    }
    async_taken_ += log_->drain(got);  // what came while we looked at the requests
    std::sort(got.begin(), got.end(),
              [](const Completion& a, const Completion& b) { return a.end < b.end; });
    out.latency_ticks.reserve(got.size());
    out.end_ticks.reserve(got.size());
    for (const Completion& c : got) {
        out.latency_ticks.push_back(static_cast<int64_t>(c.end - c.start));
        out.end_ticks.push_back(c.end);
    }
    if (error)
        out.error =
            detail::as_device_error(error, "async inference failed on '" + opts_.device + "'");
    return out;
}

void Engine::async_stop() {
    Hold hold(*this, "async_stop");
    stop_async_loop();
}

void Engine::stop_async_loop() {
    if (!async_running_) return;
    halt_.store(true, std::memory_order_release);
    // Callbacks that do not restart end with the in-flight decrement; lost completions are
    // taken back here, since no callback will come for them.
    while (in_flight_.load(std::memory_order_acquire) > 0) {
        for (size_t r = 0; r < log_->requests(); ++r)
            if (log_->state(r) == RequestState::running) reclaim_lost(r);
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    // OpenVINO's tail after each last callback (it puts the callback back, sets its future).
    for (size_t r = 0; r < log_->requests(); ++r) {
        try {
            requests_[r].wait();
        } catch (...) {
        }
    }
    quiesce_callbacks();
    async_running_ = false;
}

}  // namespace inferclock
