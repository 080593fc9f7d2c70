// The phase log: the stack of open phases and marks, spans stored as they end, and the
// thread's active log that enter/exit/mark find (initial-exec TLS: one %fs-relative load).
#include "inferclock/phases.hpp"

#include <algorithm>
#include <stdexcept>

namespace inferclock {

namespace {
thread_local PhaseLog* t_active __attribute__((tls_model("initial-exec"))) = nullptr;
}  // namespace

PhaseLog::PhaseLog(size_t capacity, ClockSource source)
    : raw_(source == ClockSource::monotonic_raw) {
    if (capacity < 2) throw std::invalid_argument("PhaseLog: capacity must be at least 2");
    reserve(capacity);
}

// A mark sits between two lines of Python, tens of ns from anything it could be reordered
// with: the unordered read (rdtsc) is enough, and the cheapest.
uint64_t PhaseLog::read() const noexcept {
    if (raw_) return static_cast<uint64_t>(cycleclock::monotonic_raw_ns());
#if defined(__x86_64__)
    return cycleclock::boundary();
#else
    return cycleclock::start();
#endif
}

uint16_t PhaseLog::repeat_flag(uint32_t phase) const noexcept {
    for (size_t i = 0; i < depth_; ++i)
        if (open_[i].phase == phase) return kPhaseRepeat;
    return 0;
}

void PhaseLog::lose() noexcept {
    if (lost_++ == 0) lost_call_ = call_;
    drain_ = true;
}

void PhaseLog::push(uint32_t phase, uint16_t flags, uint64_t tick) noexcept {
    if (depth_ == kMaxDepth) {
        too_deep_ = true;
        lose();
        if (!(flags & kPhaseMark)) ++skipped_;  // its exit must not close an outer entry
        return;
    }
    const uint16_t all = flags | repeat_flag(phase);  // before the push: it scans the stack
    open_[depth_++] = {tick, phase, all};
}

void PhaseLog::close_from(size_t level, uint64_t tick) noexcept {
    while (depth_ > level) {
        const size_t d = --depth_;
        const Open& o = open_[d];
        if (size_ == capacity_) {
            lose();
            continue;
        }
        uint16_t flags = o.flags;
        if (d > level && !(flags & kPhaseMark)) flags |= kPhaseCut;
        spans_[size_++] = {o.begin,
                           tick,
                           call_,
                           o.phase,
                           d ? open_[d - 1].phase : PhaseSpan::kNoParent,
                           static_cast<uint16_t>(d),
                           flags};
        drain_ = drain_ || size_ > high_water_;
    }
}

void PhaseLog::close_all(uint64_t tick) noexcept {
    // Everything still open at the call's end: marks end here; phases are cut here.
    for (size_t d = 0; d < depth_; ++d)
        if (!(open_[d].flags & kPhaseMark)) open_[d].flags |= kPhaseCut;
    close_from(0, tick);
    skipped_ = 0;
}

void PhaseLog::enter(uint32_t phase) noexcept {
    // Bookkeeping first, the read last: the stack work is not part of the phase.
    if (depth_ == kMaxDepth) return push(phase, 0, 0);
    const uint16_t repeat = repeat_flag(phase);
    open_[depth_].phase = phase;
    open_[depth_].flags = repeat;
    const uint64_t t = read();
    open_[depth_].begin = t;
    ++depth_;
    first_tick_ = t < first_tick_ ? t : first_tick_;
}

void PhaseLog::exit(uint32_t phase) noexcept {
    const uint64_t t = read();  // the read first: the stack work is not part of the phase
    if (skipped_ != 0) {
        --skipped_;
        return;
    }
    for (size_t d = depth_; d-- > 0;) {
        if (open_[d].phase == phase && !(open_[d].flags & kPhaseMark)) return close_from(d, t);
    }
    ++unmatched_;  // entered before the loop began, or exited twice: nothing to close
}

void PhaseLog::mark(uint32_t phase) noexcept {
    // One read ends the previous mark at this level and begins this one: no gap between them.
    const uint64_t t = read();
    if (depth_ != 0 && (open_[depth_ - 1].flags & kPhaseMark)) close_from(depth_ - 1, t);
    push(phase, kPhaseMark, t);
    first_tick_ = t < first_tick_ ? t : first_tick_;
}

void PhaseLog::clear() {
    size_ = 0;
    lost_ = 0;
    lost_call_ = 0;
    drain_ = false;
    too_deep_ = false;
    unmatched_ = 0;
    first_tick_ = kNoTick;
}

void PhaseLog::reset() {
    clear();
    depth_ = 0;
    skipped_ = 0;
}

void PhaseLog::reserve(size_t capacity) {
    if (capacity <= capacity_) return;
    std::unique_ptr<PhaseSpan[]> grown(new PhaseSpan[capacity]);
    std::copy(spans_.get(), spans_.get() + size_, grown.get());
    spans_ = std::move(grown);
    capacity_ = capacity;
    high_water_ = capacity / 2;
    drain_ = size_ > high_water_ || lost_ != 0;
}

PhaseLog* active_phase_log() noexcept { return t_active; }

void phase_enter(uint32_t phase) noexcept {
    if (PhaseLog* log = t_active) log->enter(phase);
}
void phase_exit(uint32_t phase) noexcept {
    if (PhaseLog* log = t_active) log->exit(phase);
}
void phase_mark(uint32_t phase) noexcept {
    if (PhaseLog* log = t_active) log->mark(phase);
}

ActivePhaseLog::ActivePhaseLog(PhaseLog* log) noexcept : previous_(t_active) { t_active = log; }
ActivePhaseLog::~ActivePhaseLog() { t_active = previous_; }

}  // namespace inferclock
