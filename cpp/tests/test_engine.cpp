// The engine on OpenVINO's CPU device, with models built here and serialized to a temp dir:
// reuse after async_stop, the user stop flag, stalls on tiny rings, samples kept on error,
// lost completions (made on purpose) taken back and counted, one caller at a time, one SIGINT
// for every thread's loop, back-to-back restarts.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/interrupt.hpp"
#include "models.hpp"

using namespace inferclock;
using namespace inferclock::testing;

namespace {

EngineOptions options(const std::string& model, int requests, int input_sets) {
    EngineOptions o;
    o.model_path = model;
    o.requests = requests;
    o.input_sets = input_sets;
    o.properties = {{"PERFORMANCE_HINT", "THROUGHPUT"}, {"NUM_STREAMS", "2"}};
    return o;
}

bool sorted_and_positive(const AsyncBatch& b) {
    return std::is_sorted(b.end_ticks.begin(), b.end_ticks.end()) &&
           std::all_of(b.latency_ticks.begin(), b.latency_ticks.end(),
                       [](int64_t t) { return t > 0; });
}

void poison(Engine& e, int set) {
    const float five = 5.f;
    e.set_input(set, "k", "f32", {1}, &five, sizeof five);
}

}  // namespace

TEST(engine_async_again_after_stop_gives_fresh_samples) {
    Engine e(options(matmul_model(), 3, 2));
    for (int round = 0; round < 8; ++round) {
        e.async_start();
        const uint64_t t0 = e.async_start_tick();
        AsyncBatch b = e.async_collect(50, 30.0);
        e.async_stop();
        CHECK(!b.error);
        CHECK(b.latency_ticks.size() >= 50);
        CHECK_EQ(b.latency_ticks.size(), b.end_ticks.size());
        CHECK(sorted_and_positive(b));
        CHECK(!b.end_ticks.empty() && b.end_ticks.front() > t0);
        CHECK(!e.stop_requested());  // async_stop leaves the user's flag alone
    }
    std::vector<int64_t> out(20, 0);
    const SyncRun run = e.run_sync(out.data(), 20);  // sync after async_stop runs too
    CHECK(!run.error);
    CHECK_EQ(run.done, 20);
    CHECK(std::all_of(out.begin(), out.end(), [](int64_t t) { return t > 0; }));
}

TEST(engine_user_stop_is_honoured_by_both_loops_until_cleared) {
    Engine e(options(matmul_model(), 2, 2));
    std::vector<int64_t> out(10, 0);
    e.request_stop();
    CHECK_EQ(e.run_sync(out.data(), 10).done, 0);
    e.async_start();
    AsyncBatch b = e.async_collect(1000, 30.0);  // returns at once: stop requested
    CHECK(!b.error);
    CHECK(b.latency_ticks.size() < 1000);
    e.async_stop();
    CHECK(e.stop_requested());
    e.clear_stop();
    CHECK_EQ(e.run_sync(out.data(), 10).done, 10);
    e.async_start();
    b = e.async_collect(100, 30.0);
    e.async_stop();
    CHECK(b.latency_ticks.size() >= 100);
}

TEST(engine_stalls_on_tiny_rings_lose_nothing) {
    EngineOptions o = options(matmul_model(), 3, 3);
    o.completion_capacity = 1;
    Engine e(o);
    e.async_start();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // nobody drains: rings fill
    size_t got = 0;
    bool ok = true;
    while (got < 2000) {
        AsyncBatch b = e.async_collect(2000 - got, 30.0);
        ok = ok && !b.error && sorted_and_positive(b) && !b.latency_ticks.empty();
        got += b.latency_ticks.size();
        if (!ok) break;
    }
    const uint64_t stalls = e.async_stalls();
    e.async_stop();
    CHECK(ok);
    CHECK(got >= 2000);
    CHECK(stalls > 0);
}

// Dropped callbacks (drop_completions) are completions OpenVINO never reported: the collector
// must take each request back and restart it, or the loop would run dry and never stop.
TEST(engine_lost_completions_are_taken_back_and_counted) {
    Engine e(options(matmul_model(), 3, 3));
    // Two rounds: the ticks start again at each async_start. One callback in three, six in all.
    for (int round = 0; round < 2; ++round) {
        e.drop_completions(6, 3);
        e.async_start();
        const uint64_t t0 = e.async_start_tick();
        size_t got = 0;
        bool ok = true;
        while (got < 300 && ok) {
            AsyncBatch b = e.async_collect(300 - got, 30.0);
            ok = !b.error && sorted_and_positive(b) && !b.latency_ticks.empty();
            got += b.latency_ticks.size();
        }
        e.async_stop();
        const std::vector<uint64_t>& ticks = e.async_lost_ticks();
        CHECK(ok);
        CHECK(got >= 300);
        CHECK(e.async_lost() >= 6);  // OpenVINO may lose one of its own too
        CHECK_EQ(ticks.size(), e.async_lost());
        CHECK(std::is_sorted(ticks.begin(), ticks.end()) && ticks.front() > t0);
    }
}

TEST(engine_sync_error_keeps_samples_taken_before) {
    Engine e(options(poisonable_model(), 1, 2));
    std::vector<int64_t> out(10, 0);
    SyncRun run = e.run_sync(out.data(), 4);  // warms both requests, times 4
    CHECK(!run.error);
    CHECK_EQ(run.done, 4);
    poison(e, 1);
    std::fill(out.begin(), out.end(), 0);
    run = e.run_sync(out.data(), 10);  // iteration 0 reads set 0, iteration 1 set 1: fails
    CHECK_EQ(run.done, 1);
    CHECK(out[0] > 0 && out[1] == 0);
    CHECK(run.error != nullptr);
    CHECK_THROWS(DeviceError, std::rethrow_exception(run.error));
}

TEST(engine_async_error_keeps_completions_of_the_other_requests) {
    Engine e(options(poisonable_model(), 3, 3));
    poison(e, 2);  // request 2 reads set 2
    e.async_start();
    AsyncBatch b = e.async_collect(100000, 30.0);
    CHECK(b.error != nullptr);
    CHECK_THROWS(DeviceError, std::rethrow_exception(b.error));
    // Requests 0 and 1 were started before request 2 failed; each completion is kept.
    CHECK(b.latency_ticks.size() >= 2);
    CHECK(sorted_and_positive(b));
    AsyncBatch again = e.async_collect(10, 1.0);  // the error stays until the next async_start
    CHECK(again.error != nullptr);
    e.async_stop();
}

TEST(engine_device_names_are_parsed) {
    CHECK(device_names("HETERO:FPGA,CPU") == std::vector<std::string>({"FPGA", "CPU"}));
    CHECK(device_names("AUTO:-GPU,CPU(2)") == std::vector<std::string>({"GPU", "CPU"}));
    CHECK(device_names("GPU.1") == std::vector<std::string>({"GPU.1"}));
    CHECK(device_names("AUTO").empty());
    check_device("CPU");
    CHECK_THROWS(DeviceError, check_device("HETERO:FPGA,CPU"));
}

// The destructor stops a running loop and waits out every callback before the engine goes.
TEST(engine_destroyed_while_running_waits_for_its_callbacks) {
    for (int i = 0; i < 4; ++i) {
        EngineOptions o = options(matmul_model(), 3, 1);
        o.completion_capacity = i % 2 ? 1 : 64;  // with and without parked requests
        Engine e(o);
        e.async_start();
        AsyncBatch b = e.async_collect(20, 30.0);
        CHECK(b.latency_ticks.size() >= 20);
    }
}

// One thread at a time (issue 24 item 10): while thread A is inside async_collect draining the
// completion log, B's calls are refused with ConfigError instead of stopping the loop and
// freeing the log under A; request_stop stays open to B, which is how B ends A's call.
TEST(engine_a_second_thread_is_refused_while_a_call_holds_the_engine) {
    Engine e(options(matmul_model(), 2, 2));
    const float x[64] = {};
    e.async_start();
    std::atomic<bool> done{false};
    AsyncBatch got;
    std::thread a([&] {
        for (;;) {  // the main thread's set_input may hold the engine the instant A calls
            try {
                got = e.async_collect(UINT64_MAX / 2, 300.0);
                break;
            } catch (const ConfigError&) {
            }
        }
        done = true;
    });
    bool refused = false;  // set_input goes through until A holds the engine
    const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!refused && !done && std::chrono::steady_clock::now() < guard) {
        try {
            e.set_input(0, "x", "f32", {1, 64}, x, sizeof x);
        } catch (const ConfigError&) {
            refused = true;
        }
    }
    CHECK(refused);
    std::vector<int64_t> out(4);
    CHECK_THROWS(ConfigError, e.async_stop());
    CHECK_THROWS(ConfigError, e.async_start());
    CHECK_THROWS(ConfigError, (void)e.run_sync(out.data(), 4));
    CHECK_THROWS(ConfigError, (void)e.async_collect(1, 0.0));
    e.request_stop();
    a.join();
    e.clear_stop();
    e.async_stop();
    CHECK(!got.error);
    CHECK_EQ(got.latency_ticks.size(), got.end_ticks.size());
    e.set_input(0, "x", "f32", {1, 64}, x, sizeof x);  // free again
}

// Many short throughput loops on one engine and on fresh ones, each start right after the
// last stop (issue 24 item 9): a request started again before OpenVINO released it would fail
// with "Infer Request is busy". A loop of the case, not a timing: every round must succeed.
TEST(engine_restarts_back_to_back_never_find_a_request_busy) {
    for (int k = 0; k < 6; ++k) {
        EngineOptions o = options(matmul_model(), 2 + k % 3, 1);
        o.completion_capacity = k % 2 ? 1 : 64;  // with and without parked requests
        Engine e(o);
        if (k % 3 == 2) e.drop_completions(UINT64_MAX, 5);  // lost ones taken back too
        for (int round = 0; round < 12; ++round) {
            e.async_start();
            AsyncBatch b = e.async_collect(40, 30.0);
            e.async_stop();
            CHECK(!b.error);
            CHECK(b.latency_ticks.size() >= 40 || b.error);
        }
        e.drop_completions(0);
        std::vector<int64_t> out(8);
        CHECK(!e.run_sync(out.data(), 8).error);
    }
}

// One SIGINT stops the loops of every thread (issue 24 item 6): nothing clears the generation
// for the others, so each loop that began before it sees it. The loops are given the
// generation before the signal, so the test holds whichever of them starts first.
TEST(engine_one_sigint_stops_the_loops_of_every_thread) {
    Engine sync_engine(options(matmul_model(), 1, 1));
    Engine async_engine(options(matmul_model(), 2, 1));
    interrupt::Watch watch(true);  // swallow: SIGINT's default action would end the test
    const uint64_t since = interrupt::generation();
    const int64_t n = int64_t{1} << 40;  // would run for days
    std::vector<int64_t> out(1 << 20);
    SyncRun s;
    AsyncBatch b;
    async_engine.async_start();
    std::thread t1([&] { s = sync_engine.run_sync(out.data(), n, since); });
    std::thread t2([&] { b = async_engine.async_collect(UINT64_MAX / 2, 300.0, since); });
    std::raise(SIGINT);
    t1.join();
    t2.join();
    async_engine.async_stop();
    CHECK(interrupt::since(since));
    CHECK(!s.error && s.done < n);
    CHECK(!b.error);
}

// Starts refused as busy (OpenVINO's ov::Busy, injected): async_start's, the collector's and
// the callbacks' are all waited out and started again, never an error (issue 24 item 9).
TEST(engine_busy_starts_are_waited_out) {
    Engine e(options(matmul_model(), 3, 1));
    for (uint64_t busy : {1, 3, 40}) {
        e.busy_starts(busy);
        e.async_start();
        size_t got = 0;
        bool ok = true;
        while (got < 300 && ok) {
            AsyncBatch b = e.async_collect(300 - got, 30.0);
            ok = !b.error && sorted_and_positive(b);
            got += b.latency_ticks.size();
        }
        e.async_stop();
        CHECK(ok);
        CHECK_EQ(e.async_busy_waits(), busy);
    }
}
