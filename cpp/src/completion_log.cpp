// The completion log: its rings, the callback side (record / park / stop / fail: no lock, no
// allocation) and the collector side (drain, reclaim, resume, wait on the semaphore).
#include "inferclock/completion_log.hpp"

#include <cerrno>
#include <ctime>
#include <system_error>

namespace inferclock {

CompletionRing::CompletionRing(size_t capacity) {
    size_t cap = 1;
    while (cap < capacity) cap <<= 1;
    buf_.reset(new Completion[cap]);
    mask_ = cap - 1;
}

size_t CompletionRing::pop_all(std::vector<Completion>& out) {
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    const uint64_t h = head_.load(std::memory_order_acquire);
    for (uint64_t i = t; i < h; ++i) out.push_back(buf_[i & mask_]);
    tail_.store(h, std::memory_order_release);
    return static_cast<size_t>(h - t);
}

CompletionLog::CompletionLog(size_t requests, size_t capacity)
    : capacity_(CompletionRing(capacity).capacity()) {
    high_water_ = capacity_ > 1 ? capacity_ / 2 : 1;
    for (size_t r = 0; r < requests; ++r) slots_.push_back(std::make_unique<Slot>(capacity_));
    if (sem_init(&bell_, 0, 0) != 0)
        throw std::system_error(errno, std::generic_category(), "sem_init");
}

CompletionLog::~CompletionLog() { sem_destroy(&bell_); }

// ---- callback side ----

void CompletionLog::count(uint64_t n, bool wake) noexcept {
    // seq_cst pairs with wait(): either it sees this count or this sees its target.
    const uint64_t done = recorded_.fetch_add(n, std::memory_order_seq_cst) + n;
    if (done >= wake_at_.load(std::memory_order_seq_cst) &&
        wake_at_.exchange(kNever, std::memory_order_seq_cst) != kNever)
        wake = true;
    if (wake) sem_post(&bell_);
}

bool CompletionLog::record(size_t r, const Completion& c) noexcept {
    const size_t fill = slots_[r]->ring.push(c);
    if (fill == 0) return false;
    count(1, fill == high_water_);
    return true;
}

bool CompletionLog::begin_close(Slot& s) noexcept {
    RequestState expected = RequestState::running;
    return s.state.compare_exchange_strong(expected, RequestState::closing,
                                           std::memory_order_acquire);
}

bool CompletionLog::park(size_t r, const Completion& c) noexcept {
    Slot& s = *slots_[r];
    if (!begin_close(s)) return false;
    s.parked = c;
    stalls_.fetch_add(1, std::memory_order_relaxed);
    s.state.store(RequestState::parked, std::memory_order_release);
    count(1, true);
    return true;
}

bool CompletionLog::stop(size_t r) noexcept {
    Slot& s = *slots_[r];
    if (!begin_close(s)) return false;
    s.state.store(RequestState::idle, std::memory_order_release);
    sem_post(&bell_);
    return true;
}

bool CompletionLog::fail(size_t r, std::exception_ptr error) noexcept {
    Slot& s = *slots_[r];
    if (!begin_close(s)) return false;
    s.error = std::move(error);
    s.state.store(RequestState::failed, std::memory_order_release);
    sem_post(&bell_);
    return true;
}

// ---- collector side ----

size_t CompletionLog::drain(std::vector<Completion>& out) {
    size_t got = 0;
    for (auto& slot : slots_) {
        Slot& s = *slot;
        got += s.ring.pop_all(out);
        if (s.state.load(std::memory_order_acquire) == RequestState::parked) {
            // It filled the ring again while we drained it: take that first, then the parked
            // completion, its last (a request's completions stay in order across drains).
            got += s.ring.pop_all(out);
            out.push_back(s.parked);
            ++got;
            s.state.store(RequestState::idle, std::memory_order_relaxed);
        }
    }
    return got;
}

std::exception_ptr CompletionLog::error(size_t r) const { return slots_[r]->error; }

bool CompletionLog::reclaim(size_t r) {
    RequestState expected = RequestState::running;
    return slots_[r]->state.compare_exchange_strong(expected, RequestState::idle,
                                                    std::memory_order_acq_rel);
}

void CompletionLog::resume(size_t r) {
    slots_[r]->error = nullptr;
    slots_[r]->state.store(RequestState::running, std::memory_order_relaxed);
}

void CompletionLog::wait(uint64_t target, std::chrono::steady_clock::time_point until) {
    wake_at_.store(target, std::memory_order_seq_cst);
    if (recorded_.load(std::memory_order_seq_cst) < target) {
        // sem_clockwait takes CLOCK_MONOTONIC, which is what steady_clock reads on Linux. A
        // signal (EINTR) returns early too: the caller looks at its interrupt flag.
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(until.time_since_epoch()).count();
        const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        sem_clockwait(&bell_, CLOCK_MONOTONIC, &ts);
    }
    wake_at_.store(kNever, std::memory_order_seq_cst);
}

}  // namespace inferclock
