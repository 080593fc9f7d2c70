// inferclock's engine as MLPerf LoadGen's system under test, in C++: LoadGen's issue thread
// calls IssueQuery here directly (no Python), each sample starts on a free infer request of
// the engine, and each completion callback reports the sample to LoadGen through `complete`.
//
// LoadGen's C++ symbols are not exported from the mlcommons-loadgen wheel, so its headers are
// not linked against: mlperf_abi below declares the few types LoadGen's Python StartTest takes
// (it casts its integer SUT handle to a SystemUnderTest* and makes only the virtual calls
// Name, IssueQuery and FlushQueries on it). They are layout- and vtable-identical with
// loadgen/system_under_test.h and query_sample.h of LoadGen 6.0 (Itanium C++ ABI, libstdc++'s
// C++11 std::string, as the wheel is built); docs/loadgen.md says how that was checked.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "inferclock/engine.hpp"

namespace inferclock {

namespace mlperf_abi {
using ResponseId = uintptr_t;
using QuerySampleIndex = size_t;
struct QuerySample {
    ResponseId id;
    QuerySampleIndex index;
};
struct QuerySampleResponse {
    ResponseId id;
    uintptr_t data;
    size_t size;
    int64_t n_tokens;
};
// Same virtual functions in the same order as mlperf::SystemUnderTest: the vtable slots after
// the two destructor entries are Name, IssueQuery, FlushQueries.
class SystemUnderTest {
   public:
    virtual ~SystemUnderTest() {}
    virtual const std::string& Name() = 0;
    virtual void IssueQuery(const std::vector<QuerySample>& samples) = 0;
    virtual void FlushQueries() = 0;
};
static_assert(sizeof(QuerySample) == 16, "mlperf::QuerySample is two 64-bit words");
static_assert(sizeof(QuerySampleResponse) == 32, "mlperf::QuerySampleResponse is four words");
}  // namespace mlperf_abi

// Reports completed samples to LoadGen (mlperf::QuerySamplesComplete's work).
using CompleteFn = std::function<void(mlperf_abi::QuerySampleResponse*, size_t)>;

// Per sample, in issue order: ticks of the process clock (0: never reached or failed).
struct SampleTicks {
    std::vector<uint64_t> issued, started, completed;
};

class LoadgenSut final : public mlperf_abi::SystemUnderTest, public RequestDriver {
   public:
    LoadgenSut(Engine& engine, CompleteFn complete, std::string name = "inferclock");
    ~LoadgenSut() override;
    LoadgenSut(const LoadgenSut&) = delete;
    LoadgenSut& operator=(const LoadgenSut&) = delete;

    // The integer LoadGen's Python StartTest takes as its SUT: the SystemUnderTest subobject.
    uintptr_t handle() { return reinterpret_cast<uintptr_t>(static_cast<SystemUnderTest*>(this)); }
    // Hold the engine, run every request once (untimed) and start the dispatcher thread.
    void begin();
    // After StartTest returned: stop the dispatcher, wait for every callback's end, release
    // the engine; rethrows the first inference error (as a DeviceError).
    void finish();

    const std::string& Name() override { return name_; }
    void IssueQuery(const std::vector<mlperf_abi::QuerySample>& samples) override;
    void FlushQueries() override {}
    void on_done(size_t r, uint64_t end_tick, std::exception_ptr error) noexcept override;

    SampleTicks ticks() const;        // after finish
    int64_t issued() const;           // samples LoadGen issued
    int64_t max_queued() const;       // longest the queue of samples waiting for a request got
    int64_t dispatched() const;       // samples started by the dispatcher (not in IssueQuery)
    int64_t issue_calls() const;      // IssueQuery calls
    int64_t complete_ns_total() const;  // time spent in `complete`, all callbacks together

   private:
    struct Pending {
        uintptr_t id;
        int64_t seq;
    };
    struct Rec {
        uint64_t issued = 0, started = 0;
        std::atomic<uint64_t> completed{0};
    };
    static constexpr int64_t kChunk = 1 << 16;
    static constexpr size_t kMaxChunks = 1 << 14;  // 2^30 samples
    Rec& rec(int64_t seq) const;
    void dispatch_locked();  // start queued samples on idle requests; the caller holds mu_
    void dispatcher();
    void fail(std::exception_ptr ex) noexcept;

    Engine& engine_;
    CompleteFn complete_;
    std::string name_;
    size_t nreq_;
    mutable std::mutex mu_;            // the queue, the sequence, request assignment
    std::deque<Pending> fifo_;
    int64_t next_seq_ = 0;
    size_t cursor_ = 0;
    int64_t max_queued_ = 0, dispatched_ = 0, issue_calls_ = 0;
    std::unique_ptr<std::atomic<Rec*>[]> chunks_;
    std::unique_ptr<std::atomic<int>[]> running_;  // per request: 1 running, 0 idle
    std::unique_ptr<std::atomic<uintptr_t>[]> slot_id_;
    std::unique_ptr<std::atomic<int64_t>[]> slot_seq_;
    std::atomic<int64_t> queued_{0};
    std::atomic<uint32_t> word_{0};  // futex word: bumped by every completion
    std::atomic<bool> waiting_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<int> in_callback_{0};
    std::atomic<int64_t> complete_ns_{0};
    std::atomic<bool> failed_{false};
    std::exception_ptr error_;
    bool begun_ = false;
    std::thread thread_;
};

}  // namespace inferclock
