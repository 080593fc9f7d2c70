// The completion log under concurrent producers: each producer thread plays one request's
// callback (record, park when full, wait to be restarted), the main thread the collector.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "check.hpp"
#include "inferclock/completion_log.hpp"

using inferclock::Completion;
using inferclock::CompletionLog;
using inferclock::CompletionRing;
using inferclock::RequestState;

TEST(completion_log_ring_holds_capacity_then_refuses) {
    CompletionRing ring(5);
    CHECK_EQ(ring.capacity(), 8u);
    for (uint64_t i = 0; i < 8; ++i) CHECK_EQ(ring.push({i, i + 1}), i + 1);
    CHECK_EQ(ring.push({9, 9}), 0u);
    std::vector<Completion> out;
    CHECK_EQ(ring.pop_all(out), 8u);
    CHECK_EQ(out.size(), 8u);
    CHECK_EQ(out[7].start, 7u);
    CHECK_EQ(ring.push({10, 11}), 1u);  // wraps around
    out.clear();
    CHECK_EQ(ring.pop_all(out), 1u);
    CHECK_EQ(out[0].end, 11u);
}

// P producers x M completions through rings of 4: most completions park at least once.
TEST(completion_log_concurrent_producers_lose_and_duplicate_nothing) {
    constexpr size_t P = 4;
    constexpr uint64_t M = 20000;
    CompletionLog log(P, 4);
    std::atomic<uint64_t> clock{0};  // unique, increasing end ticks across producers
    std::vector<std::atomic<bool>> go(P);
    std::vector<std::atomic<bool>> finished(P);
    std::vector<std::thread> producers;
    for (size_t r = 0; r < P; ++r) {
        producers.emplace_back([&, r] {
            for (uint64_t i = 0; i < M; ++i) {
                const Completion c{r * M + i, clock.fetch_add(1) + 1};
                if (log.record(r, c)) continue;
                CHECK(log.park(r, c));  // like the callback: leave the request idle...
                while (!go[r].exchange(false, std::memory_order_acquire))
                    std::this_thread::yield();  // ...until the collector restarts it
            }
            finished[r].store(true, std::memory_order_release);
            CHECK(log.stop(r));
        });
    }
    std::vector<Completion> got;
    size_t done = 0;
    uint64_t restarts = 0;
    while (done < P) {
        log.drain(got);
        done = 0;
        for (size_t r = 0; r < P; ++r) {
            const RequestState s = log.state(r);
            if (s != RequestState::idle) continue;
            if (finished[r].load(std::memory_order_acquire)) {
                ++done;
            } else {
                log.resume(r);
                ++restarts;
                go[r].store(true, std::memory_order_release);
            }
        }
        log.wait(log.recorded() + 64,
                 std::chrono::steady_clock::now() + std::chrono::milliseconds(1));
    }
    for (auto& t : producers) t.join();
    log.drain(got);

    CHECK_EQ(got.size(), P * M);
    CHECK_EQ(log.stalls(), restarts);
    CHECK(log.stalls() > 0);
    CHECK_EQ(log.recorded(), P * M);
    std::vector<bool> seen(P * M, false);
    for (const Completion& c : got) {
        CHECK(c.start < P * M);
        if (c.start < P * M) {
            CHECK(!seen[c.start]);
            seen[c.start] = true;
        }
    }
    // Within a producer, completions drain in order (ring order, the parked one last).
    std::vector<uint64_t> last(P, 0);
    bool ordered = true;
    for (const Completion& c : got) {
        const size_t r = c.start / M;
        if (c.end <= last[r]) ordered = false;
        last[r] = c.end;
    }
    CHECK(ordered);
    std::sort(got.begin(), got.end(),
              [](const Completion& a, const Completion& b) { return a.end < b.end; });
    for (size_t i = 0; i < got.size(); ++i) CHECK_EQ(got[i].end, i + 1);  // every tick once
}

// A callback closing its request and the collector reclaiming it as lost: exactly one wins.
// Every eighth round the callback goes first and every eighth the collector (both orders for
// sure, whatever the scheduler does); the others race.
TEST(completion_log_reclaim_and_close_exclude_each_other) {
    CompletionLog log(1, 4);
    int callback_won = 0, collector_won = 0;
    for (int round = 0; round < 2000; ++round) {
        std::atomic<bool> start{false};
        bool closed = false;
        bool reclaimed = false;
        const int order = round % 8;  // 0: callback first, 1: collector first, else a race
        if (order == 1) reclaimed = log.reclaim(0);
        std::thread cb([&] {
            while (!start.load(std::memory_order_acquire)) {
            }
            closed = round % 2 ? log.stop(0) : log.fail(0, nullptr);
        });
        start.store(true, std::memory_order_release);
        if (order == 0) {
            cb.join();
            reclaimed = log.reclaim(0);
        } else {
            for (volatile int spin = 0; spin < (round % 4) * 2000; ++spin) {
            }  // sometimes the callback gets there first
            if (order != 1) reclaimed = log.reclaim(0);
            cb.join();
        }
        CHECK(closed != reclaimed);
        callback_won += closed;
        collector_won += reclaimed;
        const RequestState s = log.state(0);
        CHECK(s == RequestState::idle || s == RequestState::failed);
        log.resume(0);
    }
    CHECK_EQ(callback_won + collector_won, 2000);
    CHECK(callback_won > 0 && collector_won > 0);  // both orders were tried
}

// The collector sleeps until its target count is recorded, not until its deadline.
TEST(completion_log_wait_wakes_at_target) {
    CompletionLog log(2, 1024);
    std::thread producer([&] {
        for (uint64_t i = 0; i < 100; ++i) {
            CHECK(log.record(i % 2, {i, i + 1}));
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    });
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (log.recorded() < 100 && std::chrono::steady_clock::now() < until) log.wait(100, until);
    CHECK(std::chrono::steady_clock::now() < until);
    CHECK_EQ(log.recorded(), 100u);
    producer.join();
    std::vector<Completion> got;
    CHECK_EQ(log.drain(got), 100u);
}
