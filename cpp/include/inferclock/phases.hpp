// Phases of a timed call: the log that `with ic.phase(name)` and `ic.mark(name)` write into
// while ic.measure's loop runs a Python callable (see register_measure.cpp).
//
// A phase is a span inside one call, read with the process clock: entered and exited (a
// `with` block), or opened by a mark, which lasts until the next mark at its level, the end of
// the phase around it, or the end of the call. Phases nest: the stack of open entries gives
// each span its depth and parent. Spans are stored when they end, in a buffer allocated before
// the loop runs; the hot path takes no lock and never allocates.
//
// The loop makes the log active on its thread (ActivePhaseLog) and tells it which call runs
// (begin_call) and when it ended (end_call closes what is still open). Marks on a thread with
// no active log do nothing: the same code runs untimed. A span that finds the buffer full is
// counted as lost, never written out of bounds; end_call() tells the loop to stop after the
// call (past half full, or a span lost) so its owner can read the spans, clear or grow the
// buffer, and go on. A call without phases costs the loop a store, two loads and a branch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "inferclock/clock.hpp"

namespace inferclock {

enum PhaseFlags : uint16_t {
    kPhaseMark = 1,    // opened by mark()
    kPhaseRepeat = 2,  // the same phase was open around it: its time is counted there already
    kPhaseCut = 4,     // a phase (not a mark) its parent's exit or the call's end closed for it
};

struct PhaseSpan {
    static constexpr uint32_t kNoParent = UINT32_MAX;
    uint64_t begin = 0;  // ticks of the process clock
    uint64_t end = 0;
    uint32_t call = 0;   // the call it ran in, as the loop numbered it (begin_call)
    uint32_t phase = 0;  // the caller's id for its name
    uint32_t parent = kNoParent;  // the phase of the entry around it; kNoParent at top level
    uint16_t depth = 0;           // entries open around it: 0 is top level
    uint16_t flags = 0;           // PhaseFlags
};
static_assert(sizeof(PhaseSpan) == 32, "numpy reads spans as a packed 32-byte record");

class PhaseLog {
   public:
    static constexpr size_t kMaxDepth = 64;

    PhaseLog(size_t capacity, ClockSource source);
    PhaseLog(const PhaseLog&) = delete;
    PhaseLog& operator=(const PhaseLog&) = delete;

    // ---- the hot path: the thread that runs the loop only; no lock, no allocation ----
    void enter(uint32_t phase) noexcept;
    void exit(uint32_t phase) noexcept;  // closes `phase` and anything still open inside it
    void mark(uint32_t phase) noexcept;  // ends the open mark at this level, opens one
    void start_batch(uint64_t tick) noexcept { batch_start_ = tick; }  // the loop's first read
    void begin_call(uint32_t call) noexcept { call_ = call; }
    // The call ended at `tick` (the loop's own read): open marks end there, and phases left
    // open (an __enter__ without __exit__) are cut there. True when the loop should stop
    // after this call for a drain (needs_drain()).
    bool end_call(uint64_t tick) noexcept {
        if ((depth_ | static_cast<size_t>(drain_)) == 0) return false;  // the common case
        close_all(tick);
        return drain_;
    }
    // Past half full, or a span was lost: the loop should stop after this call.
    bool needs_drain() const noexcept { return drain_; }

    // ---- between batches (no call running) ----
    const PhaseSpan* data() const { return spans_.get(); }
    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    // Spans that could not be stored since clear(): the buffer was full, or kMaxDepth entries
    // were open. lost_call() is the call in which the first was lost.
    uint64_t lost() const { return lost_; }
    uint32_t lost_call() const { return lost_call_; }
    bool too_deep() const { return too_deep_; }
    uint64_t unmatched() const { return unmatched_; }  // exits of phases that were not open
    // The earliest enter or mark since clear() (kNoTick if none): a loop that does not number
    // its calls (watch) learns from it, with batch_start(), in which call phases began.
    static constexpr uint64_t kNoTick = UINT64_MAX;
    uint64_t first_tick() const { return first_tick_; }
    uint64_t batch_start() const { return batch_start_; }
    size_t depth() const { return depth_; }
    void clear();                   // forget the spans and the counts
    void reset();                   // clear(), and forget the open phases too
    void reserve(size_t capacity);  // grow, keeping the spans

   private:
    struct Open {
        uint64_t begin;
        uint32_t phase;
        uint16_t flags;
    };
    uint64_t read() const noexcept;
    uint16_t repeat_flag(uint32_t phase) const noexcept;
    void push(uint32_t phase, uint16_t flags, uint64_t tick) noexcept;
    void close_from(size_t level, uint64_t tick) noexcept;  // entries [level, depth_), inner first
    void close_all(uint64_t tick) noexcept;
    void lose() noexcept;

    std::unique_ptr<PhaseSpan[]> spans_;
    size_t capacity_ = 0, high_water_ = 0, size_ = 0;
    Open open_[kMaxDepth];
    size_t depth_ = 0;
    size_t skipped_ = 0;  // enters past kMaxDepth not pushed (a loss): their exits skip
    bool drain_ = false;  // size_ > high_water_ || lost_ != 0, kept for end_call's one check
    uint32_t call_ = 0;
    uint64_t lost_ = 0;
    uint32_t lost_call_ = 0;
    bool too_deep_ = false;
    uint64_t unmatched_ = 0;
    uint64_t first_tick_ = kNoTick;
    uint64_t batch_start_ = 0;
    bool raw_;  // the clock source is CLOCK_MONOTONIC_RAW, not a counter
};

// The log this thread's marks go to, nullptr when none is: then enter/exit/mark do nothing.
PhaseLog* active_phase_log() noexcept;
// One call each from the bindings: the thread's active log, if any, records.
void phase_enter(uint32_t phase) noexcept;
void phase_exit(uint32_t phase) noexcept;
void phase_mark(uint32_t phase) noexcept;

// Makes `log` this thread's active log for the guard's lifetime (the previous one after it, so
// a timed loop can run inside another's call).
class ActivePhaseLog {
   public:
    explicit ActivePhaseLog(PhaseLog* log) noexcept;
    ~ActivePhaseLog();
    ActivePhaseLog(const ActivePhaseLog&) = delete;
    ActivePhaseLog& operator=(const ActivePhaseLog&) = delete;

   private:
    PhaseLog* previous_;
};

}  // namespace inferclock
