// The LoadGen SUT (loadgen_sut.cpp) without LoadGen: IssueQuery as LoadGen's issue thread calls
// it, from two threads at once, onto an engine with fewer requests than samples; every sample
// is reported exactly once through the completion function, after its own completion tick,
// and the engine is free for its own loops afterwards. Runs under ASan and TSan.
#include <algorithm>
#include <mutex>
#include <thread>
#include <vector>

#include "check.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/loadgen_sut.hpp"
#include "models.hpp"

using namespace inferclock;
using namespace inferclock::testing;

namespace {

EngineOptions two_requests() {
    EngineOptions o;
    o.model_path = matmul_model();
    o.requests = 2;
    o.input_sets = 2;
    o.properties = {{"PERFORMANCE_HINT", "THROUGHPUT"}, {"NUM_STREAMS", "2"}};
    return o;
}

}  // namespace

TEST(loadgen_sut_reports_every_sample_once) {
    Engine e(two_requests());
    std::mutex mu;
    std::vector<uintptr_t> seen;
    LoadgenSut sut(e, [&](mlperf_abi::QuerySampleResponse* r, size_t n) {
        std::lock_guard<std::mutex> lock(mu);
        for (size_t k = 0; k < n; ++k) seen.push_back(r[k].id);
    });
    CHECK_EQ(sut.Name(), std::string("inferclock"));
    sut.begin();
    auto issue = [&](uintptr_t first) {
        for (uintptr_t q = 0; q < 50; ++q) {
            std::vector<mlperf_abi::QuerySample> s{{first + 2 * q, 0}, {first + 2 * q + 1, 1}};
            sut.IssueQuery(s);
        }
    };
    std::thread a(issue, uintptr_t{1000});
    std::thread b(issue, uintptr_t{5000});
    a.join();
    b.join();
    // LoadGen's StartTest returns once every sample was reported; so does this wait.
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mu);
            if (seen.size() >= 200) break;
        }
        std::this_thread::yield();
    }
    sut.finish();
    std::sort(seen.begin(), seen.end());
    std::vector<uintptr_t> want;
    for (uintptr_t i = 0; i < 100; ++i) want.push_back(1000 + i);
    for (uintptr_t i = 0; i < 100; ++i) want.push_back(5000 + i);
    CHECK(seen == want);
    CHECK_EQ(sut.issued(), 200);
    CHECK_EQ(sut.issue_calls(), 100);
    const SampleTicks t = sut.ticks();
    bool ordered = true;
    for (size_t i = 0; i < t.issued.size(); ++i)
        ordered = ordered && t.issued[i] > 0 && t.started[i] >= t.issued[i] &&
                  t.completed[i] > t.started[i];
    CHECK(ordered);
    std::vector<int64_t> out(4);
    const SyncRun r = e.run_sync(out.data(), 4);  // the engine is free again
    CHECK(!r.error);
    CHECK_EQ(r.done, 4);
}

TEST(loadgen_sut_holds_the_engine) {
    Engine e(two_requests());
    LoadgenSut sut(e, [](mlperf_abi::QuerySampleResponse*, size_t) {});
    sut.begin();
    bool refused = false;
    try {
        e.async_start();
    } catch (const ConfigError&) {
        refused = true;
    }
    CHECK(refused);
    sut.finish();
    e.async_start();
    e.async_stop();
}
