// MultiStream as MLPerf LoadGen 6.0 runs it (issue_query_controller.cc, the MultiStream
// QueryScheduler): the next query is issued when every sample of the previous one completed;
// its issue tick is its scheduled time, so the time between queries is in no latency. A query's
// samples start together, one infer request each (FIFO on the requests while all are busy);
// its latency is issue to the last sample's completion. It shares the serving callbacks
// (on_served), the warm-up and the drain with server mode (engine_serve.cpp): a request's
// serve_query_ holds the sample's slot in the query, and its callback stores the completion
// tick in that slot.
#include <algorithm>
#include <vector>

#include "detail.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

using detail::kIdle;
using detail::kSliceNs;

void Engine::chain(const MultiStreamOptions& o, uint64_t* slots, MultiStreamRun& run) {
    const size_t nreq = static_cast<size_t>(async_requests_);
    const auto spq = static_cast<size_t>(o.samples_per_query);
    const double ticks_per_ns = source_ == ClockSource::monotonic_raw
                                    ? 1.0
                                    : process_clock().frequency_hz / 1e9;
    const auto min_ticks = static_cast<uint64_t>(o.min_duration_ns * ticks_per_ns);
    std::vector<uint64_t> started(spq);
    size_t cursor = 0;
    run.start_tick = now_ticks(source_);
    for (int64_t q = 0;; ++q) {
        if (q == o.max_queries) {
            run.capped = true;
            break;
        }
        const uint64_t at = now_ticks(source_);
        std::fill(slots, slots + spq, uint64_t{0});
        const int64_t target = (q + 1) * o.samples_per_query;
        size_t s = 0;
        bool halted = false;
        // Start every sample, then wait for the last completion; a free request starts the
        // next sample at once.
        for (;;) {
            const uint32_t seen = serve_word_.load(std::memory_order_seq_cst);
            if (serve_halted()) {
                halted = true;
                break;
            }
            for (size_t r; s < spq && (r = idle_request(cursor)) != nreq; ++s) {
                try {
                    requests_[r].wait();  // OpenVINO's tail after the last callback
                } catch (...) {
                }
                serve_query_[r].store(static_cast<int64_t>(s), std::memory_order_release);
                started[s] = now_ticks(source_);
                try {
                    requests_[r].start_async();
                } catch (...) {
                    serve_query_[r].store(kIdle, std::memory_order_release);
                    serve_fail(std::current_exception());
                    break;
                }
            }
            if (s == spq && serve_done_.load(std::memory_order_acquire) >= target) break;
            serve_wait(seen, kSliceNs);
        }
        if (halted) {  // the query in flight is not recorded (serve_drain waits for it)
            run.stopped = !serve_failed_.load(std::memory_order_acquire);
            break;
        }
        run.issued.push_back(at);
        run.started.insert(run.started.end(), started.begin(), started.end());
        run.completed.insert(run.completed.end(), slots, slots + spq);
        // LoadGen's end of the issue loop: both minimums met, the duration up to this issue.
        if (q + 1 >= o.min_queries && at - run.start_tick >= min_ticks) break;
    }
}

MultiStreamRun Engine::multistream(const MultiStreamOptions& opts, uint64_t since) {
    Hold hold(*this, "multistream");
    watch_interrupts(since);
    if (async_running_) throw ConfigError("multistream: the async loop is running");
    if (opts.samples_per_query < 1)
        throw ConfigError("multistream: samples_per_query must be >= 1");
    if (opts.max_queries < 1) throw ConfigError("multistream: max_queries must be >= 1");
    if (!(opts.min_duration_ns >= 0))
        throw ConfigError("multistream: min_duration_ns must be >= 0");
    std::vector<uint64_t> slots(static_cast<size_t>(opts.samples_per_query));
    serve_begin(slots.data());
    MultiStreamRun run;
    if (!serve_failed_.load(std::memory_order_acquire)) {
        int nice = 0;
        std::exception_ptr crashed;
        on_issuer(opts.nice, nice, crashed, [&] { chain(opts, slots.data(), run); });
        run.nice = nice;
        if (crashed) run.error = crashed;
    }
    run.error = serve_end(run.error, "multistream mode");
    return run;
}

}  // namespace inferclock
