// The open-loop issuer (engine_serve.cpp, engine_multistream.cpp) on OpenVINO's CPU device:
// every query of a schedule completes with its four ticks in order, FIFO under overload; the
// skip policy, max_outstanding (its prefix still runs), the user stop and a failing inference
// end it cleanly; the issuer keeps the process's priority by default; MultiStream issues each
// query after the previous one completed.
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <numeric>
#include <string>
#include <vector>

#include "check.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"
#include "models.hpp"

using namespace inferclock;
using namespace inferclock::testing;

namespace {

EngineOptions options(const std::string& model, int requests) {
    EngineOptions o;
    o.model_path = model;
    o.requests = requests;
    o.input_sets = 2;
    o.properties = {{"PERFORMANCE_HINT", "THROUGHPUT"}, {"NUM_STREAMS", "2"}};
    return o;
}

struct Schedule {
    std::vector<double> offsets;
    std::vector<uint64_t> due, issued, started, completed;
    explicit Schedule(size_t n, double gap_ns)
        : offsets(n), due(n), issued(n), started(n), completed(n) {
        for (size_t i = 0; i < n; ++i) offsets[i] = static_cast<double>(i) * gap_ns;
    }
    ServeTicks ticks() {
        ServeTicks t;
        t.offsets_ns = offsets.data();
        t.due = due.data();
        t.issued = issued.data();
        t.started = started.data();
        t.completed = completed.data();
        t.n = static_cast<int64_t>(offsets.size());
        return t;
    }
};

}  // namespace

TEST(serve_queue_completes_every_query_in_fifo_order) {
    Engine e(options(matmul_model(), 2));
    Schedule s(3000, 2000.0);  // 500k qps: far beyond the model, most queries queue
    const ServeRun run = e.serve(s.ticks(), ServeOptions{});
    CHECK(!run.error);
    CHECK(!run.runaway && !run.stopped);
    CHECK_EQ(run.taken, 3000);
    CHECK_EQ(run.skipped, 0);
    CHECK(run.max_outstanding > 2);
    bool ordered = true;
    for (size_t i = 0; i < s.due.size(); ++i) {
        ordered = ordered && s.due[i] > 0 && s.due[i] <= s.issued[i] &&
                  s.issued[i] <= s.started[i] && s.started[i] < s.completed[i];
        if (i) ordered = ordered && s.started[i] >= s.started[i - 1];  // FIFO
    }
    CHECK(ordered);
    CHECK(std::is_sorted(s.due.begin(), s.due.end()));
    CHECK(run.start_tick <= s.due.front());
    // Reusable: the async loop and another schedule run on the same engine.
    e.async_start();
    AsyncBatch b = e.async_collect(50, 30.0);
    e.async_stop();
    CHECK(!b.error && b.latency_ticks.size() >= 50);
    Schedule again(100, 10000.0);
    CHECK(!e.serve(again.ticks(), ServeOptions{}).error);
    CHECK(std::all_of(again.completed.begin(), again.completed.end(),
                      [](uint64_t t) { return t > 0; }));
}

TEST(serve_skip_policy_skips_queries_due_while_the_request_is_busy) {
    Engine e(options(matmul_model(), 1));
    Schedule s(2000, 500.0);  // due every 0.5 us: one request cannot start them all
    ServeOptions o;
    o.policy = ServePolicy::skip;
    const ServeRun run = e.serve(s.ticks(), o);
    CHECK(!run.error);
    CHECK_EQ(run.taken, 2000);
    CHECK(run.skipped > 0);
    int64_t started = 0;
    for (size_t i = 0; i < s.due.size(); ++i) {
        if (s.started[i]) {
            ++started;
            CHECK(s.completed[i] > s.started[i]);
        } else {
            CHECK(s.issued[i] > 0 && s.completed[i] == 0);
        }
    }
    CHECK_EQ(started + run.skipped, 2000);
    CHECK(run.max_outstanding <= 1);
}

TEST(serve_max_outstanding_stops_taking_up_and_runs_the_prefix) {
    Engine e(options(matmul_model(), 2));
    Schedule s(5000, 0.0);  // every query due at once
    ServeOptions o;
    o.max_outstanding = 8;
    const ServeRun run = e.serve(s.ticks(), o);
    CHECK(!run.error);
    CHECK(run.runaway);
    CHECK(run.taken < 5000);
    CHECK_EQ(run.max_outstanding, 9);  // the first take-up past the limit, which still runs
    const auto done = std::count_if(s.completed.begin(), s.completed.end(),
                                    [](uint64_t t) { return t > 0; });
    CHECK_EQ(done, run.taken);
}

TEST(serve_issuer_keeps_the_process_priority_by_default) {
    Engine e(options(matmul_model(), 2));
    Schedule s(50, 10000.0);
    errno = 0;
    const int own = getpriority(PRIO_PROCESS, 0);  // this thread's, which the issuer inherits
    const ServeRun run = e.serve(s.ticks(), ServeOptions{});
    CHECK(!run.error);
    CHECK_EQ(run.nice, own);
}

TEST(serve_multistream_issues_after_the_previous_query_completed) {
    Engine e(options(matmul_model(), 2));
    MultiStreamOptions o;
    o.samples_per_query = 3;  // more than the requests: the third waits for a free one
    o.min_queries = 200;
    const MultiStreamRun run = e.multistream(o);
    CHECK(!run.error && !run.stopped && !run.capped);
    CHECK_EQ(run.issued.size(), size_t{200});
    CHECK_EQ(run.completed.size(), size_t{600});
    bool ordered = true;
    uint64_t previous_done = 0;
    for (size_t q = 0; q < run.issued.size(); ++q) {
        uint64_t done = 0;
        for (size_t k = 3 * q; k < 3 * q + 3; ++k) {
            ordered = ordered && run.issued[q] <= run.started[k] &&
                      run.started[k] < run.completed[k];
            done = std::max(done, run.completed[k]);
        }
        ordered = ordered && run.issued[q] >= previous_done && run.issued[q] >= run.start_tick;
        previous_done = done;
    }
    CHECK(ordered);
    MultiStreamOptions capped = o;
    capped.min_duration_ns = 3600e9;
    capped.max_queries = 5;
    const MultiStreamRun c = e.multistream(capped);
    CHECK(c.capped && c.issued.size() == 5);
    e.request_stop();
    const MultiStreamRun stopped = e.multistream(o);
    CHECK(stopped.stopped && stopped.issued.empty());
    e.clear_stop();
    MultiStreamOptions bad = o;
    bad.samples_per_query = 0;
    CHECK_THROWS(ConfigError, (void)e.multistream(bad));
}

TEST(serve_user_stop_and_failures_end_the_schedule) {
    Engine e(options(matmul_model(), 2));
    Schedule s(100, 1e6);
    e.request_stop();
    ServeRun run = e.serve(s.ticks(), ServeOptions{});
    CHECK(run.stopped && !run.error);
    CHECK_EQ(run.taken, 0);
    e.clear_stop();

    Engine bad(options(poisonable_model(), 2));
    const float five = 5.f;
    bad.set_input(1, "k", "f32", {1}, &five, sizeof five);  // request 1 reads set 1: fails
    Schedule p(200, 1000.0);
    run = bad.serve(p.ticks(), ServeOptions{});
    CHECK(run.error != nullptr);
    CHECK_THROWS(DeviceError, std::rethrow_exception(run.error));
}
