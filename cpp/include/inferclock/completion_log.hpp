// The async loop's completion log: how completions travel from OpenVINO's callback threads to
// the one thread that collects them, with no lock and no allocation on the callback side.
//
// Each request has a fixed-capacity single-producer single-consumer ring: the request's
// completion callback is its only producer, the collector its only consumer (who drains it into
// vectors of its own). When a ring is full the callback parks its request instead of
// restarting it: the completion waits in the request's slot, and the collector, after
// draining, takes it and restarts the request. Each park is a stall, counted.
//
// The callback wakes the collector through a POSIX semaphore (sem_post takes no lock and is
// async-signal-safe) when the collector's target count is reached, when its ring reaches half
// full, and when its request stops; the collector never holds anything a callback waits for.
// A request's state says what its callback left behind when it did not restart it; only the
// callback writes it while the request runs, only the collector while it does not.
#pragma once

#include <semaphore.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

namespace inferclock {

struct Completion {
    uint64_t start = 0;  // ticks when the request was started
    uint64_t end = 0;    // ticks when its callback ran
};

// One request's ring: push() on the producer's thread only, pop_all() on the consumer's only.
class CompletionRing {
   public:
    explicit CompletionRing(size_t capacity);  // rounded up to a power of two

    // The ring's fill after the push, or 0 when it was full and nothing was stored.
    size_t push(const Completion& c) noexcept {
        const uint64_t h = head_.load(std::memory_order_relaxed);
        const uint64_t t = tail_.load(std::memory_order_acquire);
        if (h - t > mask_) return 0;
        buf_[h & mask_] = c;
        head_.store(h + 1, std::memory_order_release);
        return static_cast<size_t>(h + 1 - t);
    }
    // Appends everything pushed so far to `out`; returns how many.
    size_t pop_all(std::vector<Completion>& out);
    size_t capacity() const { return static_cast<size_t>(mask_) + 1; }

   private:
    std::unique_ptr<Completion[]> buf_;
    uint64_t mask_;
    alignas(64) std::atomic<uint64_t> head_{0};  // next slot the producer writes
    alignas(64) std::atomic<uint64_t> tail_{0};  // next slot the consumer reads
};

enum class RequestState : uint8_t {
    running,  // started: its callback will come (or the completion is lost, see reclaim())
    closing,  // its callback is leaving it idle (a moment: writing the slot)
    parked,   // ring was full: one completion waits in the slot, the request is not running
    idle,     // not running, nothing waiting (the loop was stopping, or the collector took it)
    failed,   // not running: its inference (or restart) failed, the error waits in the slot
};

class CompletionLog {
   public:
    CompletionLog(size_t requests, size_t capacity);
    ~CompletionLog();
    CompletionLog(const CompletionLog&) = delete;
    CompletionLog& operator=(const CompletionLog&) = delete;

    // ---- request r's callback: no lock, no allocation ----
    // Store a completion; false when the ring is full and nothing was stored.
    bool record(size_t r, const Completion& c) noexcept;
    // The callback leaves its request idle: with the completion that did not fit (a stall),
    // with nothing (the loop is stopping) or with the error it failed with. Each publishes the
    // state with release and wakes the collector. False (nothing written) when the collector
    // had already taken the request back with reclaim().
    bool park(size_t r, const Completion& c) noexcept;
    bool stop(size_t r) noexcept;
    bool fail(size_t r, std::exception_ptr error) noexcept;

    // ---- the collector ----
    // Appends every stored completion to `out`, parked ones too (their request goes from
    // parked to idle); returns how many.
    size_t drain(std::vector<Completion>& out);
    RequestState state(size_t r) const { return slots_[r]->state.load(std::memory_order_acquire); }
    std::exception_ptr error(size_t r) const;  // valid while state(r) == failed
    // A running request whose completion will never call back: take it to idle. False when
    // its callback is closing it at the same moment (then the callback's word stands).
    bool reclaim(size_t r);
    // An idle request is about to be restarted: it is running from now on.
    void resume(size_t r);
    // Completions recorded so far (stored or parked), by every request.
    uint64_t recorded() const { return recorded_.load(std::memory_order_seq_cst); }
    // Sleep until recorded() >= target, a callback rings, or `until`; spurious wake-ups happen.
    void wait(uint64_t target, std::chrono::steady_clock::time_point until);

    size_t requests() const { return slots_.size(); }
    size_t capacity() const { return capacity_; }
    uint64_t stalls() const { return stalls_.load(std::memory_order_relaxed); }

   private:
    static constexpr uint64_t kNever = UINT64_MAX;
    struct alignas(64) Slot {
        explicit Slot(size_t capacity) : ring(capacity) {}
        CompletionRing ring;
        Completion parked;
        std::exception_ptr error;
        std::atomic<RequestState> state{RequestState::running};
    };
    bool begin_close(Slot& s) noexcept;
    void count(uint64_t n, bool wake) noexcept;

    size_t capacity_, high_water_;
    std::vector<std::unique_ptr<Slot>> slots_;  // one allocation each: no false sharing
    alignas(64) std::atomic<uint64_t> recorded_{0};
    std::atomic<uint64_t> wake_at_{kNever};
    std::atomic<uint64_t> stalls_{0};
    sem_t bell_;
};

}  // namespace inferclock
