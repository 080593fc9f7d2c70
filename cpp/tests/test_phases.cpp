// The phase log: nesting, marks as boundaries, cuts at a call's end, a full buffer and a too
// deep stack that lose spans without writing past the end, and logs that stay per thread.
#include <atomic>
#include <thread>
#include <vector>

#include "check.hpp"
#include "inferclock/phases.hpp"

using namespace inferclock;

namespace {

PhaseLog make_log(size_t capacity) { return PhaseLog(capacity, process_clock().source); }

std::vector<PhaseSpan> spans_of(const PhaseLog& log) {
    return std::vector<PhaseSpan>(log.data(), log.data() + log.size());
}

}  // namespace

TEST(phases_nest_with_depth_and_parent) {
    PhaseLog log(make_log(64));
    log.begin_call(3);
    log.enter(1);
    log.enter(2);
    log.exit(2);
    log.exit(1);
    log.end_call(process_clock().source == ClockSource::monotonic_raw
                     ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                     : cycleclock::stop());
    const auto s = spans_of(log);
    CHECK_EQ(s.size(), 2u);
    if (s.size() != 2) return;
    // Stored as they end: the inner one first.
    CHECK_EQ(s[0].phase, 2u);
    CHECK_EQ(s[0].depth, 1);
    CHECK_EQ(s[0].parent, 1u);
    CHECK_EQ(s[1].phase, 1u);
    CHECK_EQ(s[1].depth, 0);
    CHECK_EQ(s[1].parent, PhaseSpan::kNoParent);
    CHECK(s[1].begin <= s[0].begin && s[0].begin <= s[0].end && s[0].end <= s[1].end);
    CHECK_EQ(s[0].call, 3u);
    CHECK_EQ(s[0].flags, 0);
    CHECK(!log.needs_drain());
}

TEST(phases_marks_are_boundaries) {
    PhaseLog log(make_log(64));
    log.begin_call(0);
    log.mark(1);
    log.mark(2);  // ends mark 1 where it begins
    log.enter(3);
    log.mark(4);  // inside phase 3: ends with it
    log.exit(3);
    log.end_call(1ull << 62);  // mark 2 ends with the call
    const auto s = spans_of(log);
    CHECK_EQ(s.size(), 4u);
    if (s.size() != 4) return;
    CHECK_EQ(s[0].phase, 1u);
    CHECK_EQ(s[1].phase, 4u);
    CHECK_EQ(s[2].phase, 3u);
    CHECK_EQ(s[3].phase, 2u);
    CHECK_EQ(s[0].flags, kPhaseMark);
    CHECK_EQ(s[0].end, s[3].begin);  // one read: no gap between two marks
    CHECK_EQ(s[1].end, s[2].end);    // the mark inside phase 3 ends at its exit
    CHECK_EQ(s[1].depth, 2);         // phase 3 nests inside mark 2, mark 4 inside phase 3
    CHECK_EQ(s[1].parent, 3u);
    CHECK_EQ(s[2].parent, 2u);
    CHECK_EQ(s[3].end, 1ull << 62);
    CHECK_EQ(s[3].flags, kPhaseMark);  // a mark ending with the call is not a cut
}

TEST(phases_repeat_and_cut_and_unmatched) {
    PhaseLog log(make_log(64));
    log.begin_call(0);
    log.enter(7);
    log.enter(7);  // inside itself: its time is in the outer span already
    log.exit(7);
    log.enter(8);  // never exited: cut at the call's end
    log.exit(9);   // never entered: ignored, counted
    log.end_call(1ull << 62);
    const auto s = spans_of(log);
    CHECK_EQ(s.size(), 3u);
    if (s.size() != 3) return;
    CHECK_EQ(s[0].phase, 7u);
    CHECK_EQ(s[0].flags, kPhaseRepeat);
    CHECK_EQ(s[1].phase, 8u);
    CHECK_EQ(s[1].flags, kPhaseCut);
    CHECK_EQ(s[1].end, 1ull << 62);
    CHECK_EQ(s[2].phase, 7u);
    CHECK_EQ(s[2].flags, kPhaseCut);  // still open at the end too
    CHECK_EQ(log.unmatched(), 1u);
    log.clear();
    CHECK_EQ(log.size(), 0u);
    CHECK_EQ(log.unmatched(), 0u);
}

TEST(phases_full_log_loses_spans_and_asks_for_a_drain) {
    PhaseLog log(make_log(4));
    log.begin_call(0);
    log.enter(1);
    log.exit(1);
    CHECK(!log.needs_drain());  // 1 of 4: under half
    log.begin_call(1);
    log.enter(1);
    log.exit(1);
    log.enter(1);
    log.exit(1);
    CHECK(log.needs_drain());  // 3 of 4: past half, nothing lost yet
    CHECK_EQ(log.lost(), 0u);
    log.begin_call(2);
    for (int i = 0; i < 10; ++i) {
        log.enter(2);
        log.exit(2);
    }
    log.end_call(1ull << 62);
    CHECK_EQ(log.size(), 4u);  // never past the capacity (ASan checks the writes)
    CHECK_EQ(log.lost(), 9u);
    CHECK_EQ(log.lost_call(), 2u);
    CHECK(!log.too_deep());
    const auto before = spans_of(log);
    log.reserve(16);  // grows, keeping what it had
    CHECK_EQ(log.capacity(), 16u);
    const auto after = spans_of(log);
    CHECK_EQ(after.size(), 4u);
    for (size_t i = 0; i < after.size() && i < before.size(); ++i)
        CHECK_EQ(after[i].begin, before[i].begin);
    log.clear();
    CHECK_EQ(log.lost(), 0u);
    CHECK(!log.needs_drain());
    CHECK_THROWS(std::invalid_argument, PhaseLog(1, ClockSource::monotonic_raw));
}

TEST(phases_too_deep_loses_without_closing_outer_entries) {
    PhaseLog log(make_log(1024));
    const size_t n = PhaseLog::kMaxDepth + 6;
    log.begin_call(5);
    for (size_t i = 0; i < n; ++i) log.enter(static_cast<uint32_t>(i % 3));
    log.mark(9);  // at the cap on a phase: lost too
    CHECK(log.too_deep());
    CHECK_EQ(log.lost(), 7u);
    CHECK_EQ(log.lost_call(), 5u);
    for (size_t i = n; i-- > 0;) log.exit(static_cast<uint32_t>(i % 3));
    CHECK_EQ(log.size(), PhaseLog::kMaxDepth);  // the skipped enters' exits closed nothing
    CHECK_EQ(log.unmatched(), 0u);
    const auto s = spans_of(log);
    for (const PhaseSpan& x : s) CHECK_EQ(x.flags & kPhaseCut, 0);
    CHECK(log.needs_drain());
}

TEST(phases_do_nothing_without_an_active_log) {
    CHECK(active_phase_log() == nullptr);
    phase_enter(1);  // no log: no effect, no crash
    phase_exit(1);
    phase_mark(2);
    PhaseLog outer(make_log(16)), inner(make_log(16));
    {
        ActivePhaseLog a(&outer);
        phase_mark(1);
        {
            ActivePhaseLog b(&inner);  // a loop inside a timed call
            CHECK(active_phase_log() == &inner);
            phase_enter(2);
            phase_exit(2);
        }
        CHECK(active_phase_log() == &outer);
        outer.end_call(1ull << 62);
    }
    CHECK(active_phase_log() == nullptr);
    CHECK_EQ(outer.size(), 1u);
    CHECK_EQ(inner.size(), 1u);
    CHECK_EQ(outer.data()[0].phase, 1u);
    CHECK_EQ(inner.data()[0].phase, 2u);
}

// Each thread's marks go to its own active log; a thread without one records nothing.
TEST(phases_logs_are_per_thread) {
    constexpr int T = 4;
    constexpr uint32_t CALLS = 20000;
    std::vector<std::unique_ptr<PhaseLog>> logs;
    for (int t = 0; t < T; ++t)
        logs.push_back(std::make_unique<PhaseLog>(4 * CALLS, process_clock().source));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < T; ++t) {
        threads.emplace_back([&, t] {
            ActivePhaseLog active(logs[t].get());
            while (!go.load(std::memory_order_acquire)) {
            }
            for (uint32_t c = 0; c < CALLS; ++c) {
                logs[t]->begin_call(c);
                phase_enter(static_cast<uint32_t>(t));
                phase_mark(100);
                phase_exit(static_cast<uint32_t>(t));
                logs[t]->end_call(1ull << 62);
            }
        });
    }
    std::thread bystander([&] {
        while (!go.load(std::memory_order_acquire)) {
        }
        for (uint32_t c = 0; c < CALLS; ++c) {
            phase_enter(99);
            phase_exit(99);
        }
    });
    go.store(true, std::memory_order_release);
    for (auto& th : threads) th.join();
    bystander.join();
    for (int t = 0; t < T; ++t) {
        const auto s = spans_of(*logs[t]);
        CHECK_EQ(s.size(), 2u * CALLS);
        bool own = true;
        for (size_t i = 0; i < s.size(); ++i) {
            const uint32_t want = i % 2 ? static_cast<uint32_t>(t) : 100u;
            own = own && s[i].phase == want && s[i].call == i / 2 && s[i].begin <= s[i].end;
        }
        CHECK(own);
        CHECK_EQ(logs[t]->lost(), 0u);
    }
}

// What a watching loop (no call numbers) reads: the first enter or mark, and where it began.
TEST(phases_first_tick_and_reset) {
    PhaseLog log(make_log(16));
    CHECK_EQ(log.first_tick(), PhaseLog::kNoTick);
    log.start_batch(42);
    CHECK_EQ(log.batch_start(), 42u);
    log.exit(3);  // an exit alone is not a use of phases
    CHECK_EQ(log.first_tick(), PhaseLog::kNoTick);
    log.mark(1);
    const uint64_t first = log.first_tick();
    CHECK(first != PhaseLog::kNoTick);
    log.enter(2);
    CHECK_EQ(log.first_tick(), first);  // the earliest stays
    CHECK_EQ(log.depth(), 2u);
    log.clear();  // spans and counts go; the open entries stay (a call is running)
    CHECK_EQ(log.first_tick(), PhaseLog::kNoTick);
    CHECK_EQ(log.depth(), 2u);
    log.reset();
    CHECK_EQ(log.depth(), 0u);
    log.end_call(1ull << 62);
    CHECK_EQ(log.size(), 0u);  // nothing was left open to close
}
