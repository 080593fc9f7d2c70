// The LoadGen SUT (loadgen_sut.hpp): samples LoadGen issues go straight onto idle infer
// requests from LoadGen's own thread; those that find every request busy wait in a FIFO queue
// that a dispatcher thread empties as callbacks free requests. Callbacks store their tick,
// free their request and report the sample to LoadGen; they never start a request (OpenVINO
// cannot wait for a request inside its own callback), so every start waits for OpenVINO's
// tail first (Engine::drive_start).
#include "inferclock/loadgen_sut.hpp"

#include <linux/futex.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "detail.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

namespace {

constexpr uintptr_t kWarm = 1;  // LoadGen's response ids are pointers: never 1
constexpr double kSliceNs = 20e6;
// The request whose callback this thread runs (if LoadGen issued from inside `complete`, that
// request must not be started here: its own wait() would never return).
thread_local size_t tls_in_callback = SIZE_MAX;

void futex_wait(std::atomic<uint32_t>* word, uint32_t seen, double ns) {
    timespec ts;
    ts.tv_sec = static_cast<time_t>(ns / 1e9);
    ts.tv_nsec = static_cast<long>(ns - static_cast<double>(ts.tv_sec) * 1e9);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr,
            0);
}

void futex_wake(std::atomic<uint32_t>* word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
            0);
}

int64_t mono_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

LoadgenSut::LoadgenSut(Engine& engine, CompleteFn complete, std::string name)
    : engine_(engine),
      complete_(std::move(complete)),
      name_(std::move(name)),
      nreq_(static_cast<size_t>(engine.num_requests())),
      chunks_(new std::atomic<Rec*>[kMaxChunks]),
      running_(new std::atomic<int>[nreq_]),
      slot_id_(new std::atomic<uintptr_t>[nreq_]),
      slot_seq_(new std::atomic<int64_t>[nreq_]) {
    if (!complete_) throw ConfigError("LoadgenSut: no completion function");
    for (size_t k = 0; k < kMaxChunks; ++k) chunks_[k].store(nullptr, std::memory_order_relaxed);
    for (size_t r = 0; r < nreq_; ++r) {
        running_[r].store(0, std::memory_order_relaxed);
        slot_id_[r].store(0, std::memory_order_relaxed);
        slot_seq_[r].store(-1, std::memory_order_relaxed);
    }
}

LoadgenSut::~LoadgenSut() {
    try {
        if (begun_) finish();
    } catch (...) {
    }
    for (size_t k = 0; k < kMaxChunks; ++k) delete[] chunks_[k].load(std::memory_order_relaxed);
}

LoadgenSut::Rec& LoadgenSut::rec(int64_t seq) const {
    Rec* chunk = chunks_[static_cast<size_t>(seq / kChunk)].load(std::memory_order_acquire);
    return chunk[seq % kChunk];
}

void LoadgenSut::fail(std::exception_ptr ex) noexcept {
    bool expected = false;
    if (failed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel))
        error_ = std::move(ex);
}

void LoadgenSut::begin() {
    if (begun_) throw ConfigError("LoadgenSut.begin: already begun");
    engine_.drive_begin(this);
    begun_ = true;
    // Every request once, untimed: LoadGen's first query finds them warm.
    for (size_t r = 0; r < nreq_; ++r) {
        slot_id_[r].store(kWarm, std::memory_order_relaxed);
        running_[r].store(1, std::memory_order_release);
        try {
            engine_.drive_start(r);
        } catch (...) {
            running_[r].store(0, std::memory_order_release);
            fail(std::current_exception());
            break;
        }
    }
    for (size_t r = 0; r < nreq_; ++r)
        while (running_[r].load(std::memory_order_acquire) != 0)
            std::this_thread::sleep_for(std::chrono::microseconds(20));
    if (failed_.load(std::memory_order_acquire)) {
        std::exception_ptr ex = error_;
        finish();
        std::rethrow_exception(ex);
    }
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "ic-lg-dispatch");
        dispatcher();
    });
}

void LoadgenSut::dispatch_locked() {
    while (!fifo_.empty()) {
        size_t r = nreq_;
        for (size_t k = 0; k < nreq_; ++k) {
            const size_t c = (cursor_ + k) % nreq_;
            if (c != tls_in_callback && running_[c].load(std::memory_order_acquire) == 0) {
                r = c;
                break;
            }
        }
        if (r == nreq_) return;
        cursor_ = r + 1;
        const Pending p = fifo_.front();
        fifo_.pop_front();
        queued_.fetch_sub(1, std::memory_order_relaxed);
        slot_id_[r].store(p.id, std::memory_order_relaxed);
        slot_seq_[r].store(p.seq, std::memory_order_relaxed);
        rec(p.seq).started = now_ticks(engine_.clock_source());
        running_[r].store(1, std::memory_order_release);
        try {
            engine_.drive_start(r);
        } catch (...) {
            // LoadGen waits for every sample it issued: report it (failed) all the same.
            fail(std::current_exception());
            running_[r].store(0, std::memory_order_release);
            mlperf_abi::QuerySampleResponse resp{p.id, 0, 0, 0};
            complete_(&resp, 1);
        }
    }
}

void LoadgenSut::IssueQuery(const std::vector<mlperf_abi::QuerySample>& samples) {
    const uint64_t now = now_ticks(engine_.clock_source());
    std::lock_guard<std::mutex> lock(mu_);
    ++issue_calls_;
    for (const mlperf_abi::QuerySample& s : samples) {
        const int64_t seq = next_seq_++;
        const size_t k = static_cast<size_t>(seq / kChunk);
        if (k >= kMaxChunks) throw ConfigError("LoadgenSut: more than 2^30 samples in one run");
        if (chunks_[k].load(std::memory_order_relaxed) == nullptr)
            chunks_[k].store(new Rec[kChunk], std::memory_order_release);
        rec(seq).issued = now;
        fifo_.push_back({s.id, seq});
    }
    queued_.fetch_add(static_cast<int64_t>(samples.size()), std::memory_order_relaxed);
    dispatch_locked();
    max_queued_ = std::max(max_queued_, static_cast<int64_t>(fifo_.size()));
}

void LoadgenSut::dispatcher() {
    for (;;) {
        const uint32_t seen = word_.load(std::memory_order_seq_cst);
        {
            std::lock_guard<std::mutex> lock(mu_);
            const size_t before = fifo_.size();
            dispatch_locked();
            dispatched_ += static_cast<int64_t>(before - fifo_.size());
            if (stopping_.load(std::memory_order_acquire) && fifo_.empty()) return;
        }
        waiting_.store(true, std::memory_order_seq_cst);
        if (word_.load(std::memory_order_seq_cst) == seen) futex_wait(&word_, seen, kSliceNs);
        waiting_.store(false, std::memory_order_relaxed);
    }
}

void LoadgenSut::on_done(size_t r, uint64_t end_tick, std::exception_ptr error) noexcept {
    in_callback_.fetch_add(1, std::memory_order_acq_rel);
    const uintptr_t id = slot_id_[r].load(std::memory_order_relaxed);
    const int64_t seq = slot_seq_[r].load(std::memory_order_relaxed);
    if (error) fail(std::move(error));
    const bool sample = id != kWarm;
    if (sample) rec(seq).completed.store(error ? 0 : end_tick, std::memory_order_release);
    running_[r].store(0, std::memory_order_release);  // free for the next start
    word_.fetch_add(1, std::memory_order_seq_cst);
    if (queued_.load(std::memory_order_relaxed) > 0 && waiting_.load(std::memory_order_seq_cst))
        futex_wake(&word_);
    if (sample) {
        mlperf_abi::QuerySampleResponse resp{id, 0, 0, 0};
        const int64_t t0 = mono_ns();
        tls_in_callback = r;
        try {
            complete_(&resp, 1);
        } catch (...) {
            fail(std::current_exception());
        }
        tls_in_callback = SIZE_MAX;
        complete_ns_.fetch_add(mono_ns() - t0, std::memory_order_relaxed);
    }
    in_callback_.fetch_sub(1, std::memory_order_release);  // our last touch
}

void LoadgenSut::finish() {
    if (!begun_) return;
    begun_ = false;
    if (thread_.joinable()) {
        stopping_.store(true, std::memory_order_release);
        word_.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(&word_);
        thread_.join();
    }
    for (size_t r = 0; r < nreq_; ++r)
        while (running_[r].load(std::memory_order_acquire) != 0)
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    while (in_callback_.load(std::memory_order_acquire) != 0) std::this_thread::yield();
    engine_.drive_end();
    if (failed_.load(std::memory_order_acquire))
        std::rethrow_exception(detail::as_device_error(error_, "inference failed under LoadGen"));
}

SampleTicks LoadgenSut::ticks() const {
    std::lock_guard<std::mutex> lock(mu_);
    SampleTicks t;
    const size_t n = static_cast<size_t>(next_seq_);
    t.issued.reserve(n);
    t.started.reserve(n);
    t.completed.reserve(n);
    for (int64_t s = 0; s < next_seq_; ++s) {
        const Rec& x = rec(s);
        t.issued.push_back(x.issued);
        t.started.push_back(x.started);
        t.completed.push_back(x.completed.load(std::memory_order_acquire));
    }
    return t;
}

int64_t LoadgenSut::issued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return next_seq_;
}
int64_t LoadgenSut::max_queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_queued_;
}
int64_t LoadgenSut::dispatched() const {
    std::lock_guard<std::mutex> lock(mu_);
    return dispatched_;
}
int64_t LoadgenSut::issue_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return issue_calls_;
}
int64_t LoadgenSut::complete_ns_total() const {
    return complete_ns_.load(std::memory_order_relaxed);
}

}  // namespace inferclock
