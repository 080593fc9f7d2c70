// The OpenVINO measurement engine: a compiled model with its requests and inputs, and the two
// timed loops. Latency: sync infer() in a loop, the clock read around each call. Throughput:
// N async requests, each restarted from its completion callback, completions handed to the
// collector through a CompletionLog. No pybind11 here: the bindings drive the loops in chunks
// with the GIL released. One thread at a time, enforced: every loop call and set_input takes
// the engine's busy flag, and a second caller meanwhile gets a ConfigError.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <openvino/runtime/compiled_model.hpp>
#include <openvino/runtime/infer_request.hpp>

#include "inferclock/clock.hpp"
#include "inferclock/completion_log.hpp"
#include "inferclock/devices.hpp"
#include "inferclock/inputs.hpp"
#include "inferclock/model.hpp"

namespace inferclock {

struct EngineOptions {
    std::string model_path;  // anything ov::Core::read_model reads
    std::string device = "CPU";
    int64_t batch_size = 1;
    // Full shapes for inputs, by name (like benchmark_app -shape); they win over batch_size.
    ShapeMap shapes;
    // Compile properties as strings (OpenVINO converts them): hint, streams, threads...
    std::map<std::string, std::string> properties;
    std::string cache_dir;  // OpenVINO model cache; "" = off
    int requests = 0;       // infer requests for async; 0 = the compiled model's optimum
    int input_sets = 4;     // distinct input sets rotated across iterations
    uint64_t seed = 0;
    // Completions each async request can hold before the collector drains them; a request
    // whose ring is full waits (a stall, counted) until the collector restarts it.
    size_t completion_capacity = 1u << 14;
};

struct InitTimes {
    double read_ms = 0, reshape_ms = 0, compile_ms = 0, first_infer_ms = 0;
    std::string cache = "off";  // "cold", "hot" (loaded from OpenVINO's cache) or "off"
};

// What a loop measured, and why it ended early if it failed: samples taken before an error
// stay valid. `error` holds a typed error (DeviceError for a failed inference).
struct SyncRun {
    int64_t done = 0;  // ticks stored in out[0..done)
    std::exception_ptr error;
};

// Server and MultiStream scenarios (engine_serve.cpp): queries due on a schedule fixed in
// advance, issued by a dedicated thread that never waits on a completion.
enum class ServePolicy {
    queue,  // Server: a query due while every request is busy waits in FIFO order
    skip,   // MultiStream: a query due while every request is busy is skipped (counted)
};

struct ServeOptions {
    ServePolicy policy = ServePolicy::queue;
    // LoadGen's server_max_async_queries: once more queries than this are outstanding (taken
    // up, not completed) after one is taken up, the issuer takes up no more; those taken up
    // still run to completion (LoadGen waits for every issued query). 0 = no limit.
    int64_t max_outstanding = 0;
    // The issuer sleeps until this long before a due time, then spins on the clock.
    double spin_ns = 50e3;
    // < 0: the issuer thread asks for this nice value (best effort; see ServeRun::nice);
    // 0: its priority is left as the process has it.
    int nice = 0;
};

// Per query, ticks of the process clock (0: never reached). `due` is written by serve() from
// the schedule's offsets; `issued`: the issuer took the query up; `started`: start_async on a
// free infer request; `completed`: its completion callback.
struct ServeTicks {
    const double* offsets_ns = nullptr;  // the schedule: due times after the start, ascending
    uint64_t* due = nullptr;
    uint64_t* issued = nullptr;
    uint64_t* started = nullptr;
    uint64_t* completed = nullptr;
    int64_t n = 0;
};

struct ServeRun {
    uint64_t start_tick = 0;  // the schedule's zero
    int64_t taken = 0;        // queries the issuer took up (the rest were never due in time)
    int64_t skipped = 0;      // skip policy: taken up while every request was busy
    int64_t max_outstanding = 0;
    bool runaway = false;  // max_outstanding cut the schedule: `taken` is the prefix run
    bool stopped = false;  // request_stop() or SIGINT ended the schedule early
    int nice = 0;          // the issuer thread's nice value as read back while it ran
    std::exception_ptr error;
};

// MultiStream as LoadGen 6.0: each query of samples_per_query samples is issued when the
// previous one completed (all its samples); its samples start together, one infer request
// each (FIFO while every request is busy). Issuing ends, after a query, once at least
// min_queries were issued and min_duration_ns passed from the start to that query's issue
// (LoadGen's min_query_count and min_duration); max_queries bounds the memory (reaching it
// first sets `capped`).
struct MultiStreamOptions {
    int64_t samples_per_query = 8;
    int64_t min_queries = 1;
    double min_duration_ns = 0;
    int64_t max_queries = 1 << 20;
    int nice = 0;  // as ServeOptions::nice
};

struct MultiStreamRun {
    uint64_t start_tick = 0;
    std::vector<uint64_t> issued;     // per completed query: its issue tick (its due time)
    std::vector<uint64_t> started;    // per sample, query-major: start_async on a request
    std::vector<uint64_t> completed;  // per sample, query-major: its callback
    bool stopped = false;             // request_stop() or SIGINT: the query in flight dropped
    bool capped = false;              // max_queries issued before min_duration passed
    int nice = 0;                     // as ServeRun::nice
    std::exception_ptr error;
};

struct AsyncBatch {                      // completions collected by one async_collect
    std::vector<int64_t> latency_ticks;  // start to callback, in completion order
    std::vector<uint64_t> end_ticks;     // sorted
    std::exception_ptr error;            // the loop failed: these are the completions before
};

// An outside scheduler of the async requests (the LoadGen SUT, loadgen_sut.cpp): while one is
// attached (drive_begin .. drive_end), each completion callback hands it the request, the
// completion tick and the error, and touches nothing else of the engine's loops.
class RequestDriver {
   public:
    virtual ~RequestDriver() = default;
    virtual void on_done(size_t request, uint64_t end_tick, std::exception_ptr error) noexcept = 0;
};

class Engine {
   public:
    // Reads, reshapes, compiles, creates requests, fills inputs and runs the first inference,
    // timing each step. Throws ModelError / DeviceError / ConfigError with context.
    explicit Engine(EngineOptions opts);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const InitTimes& init_times() const { return init_; }
    const std::vector<PortInfo>& inputs() const { return inputs_; }
    const std::vector<PortInfo>& outputs() const { return outputs_; }
    // Requests that run concurrently in throughput mode (sync mode rotates over input_sets).
    int num_requests() const { return async_requests_; }
    int input_sets() const { return opts_.input_sets; }
    int64_t batch_size() const { return opts_.batch_size; }
    ClockSource clock_source() const { return source_; }

    // Every call below that runs or changes a loop (and set_input) holds the engine for its
    // duration; a call from another thread meanwhile gets ConfigError("... in use ..."). The
    // stop flag (request_stop) is exempt: it is how another thread ends a running call.
    // Copy user data into input set `set` of input `name` (validated: type and byte size).
    void set_input(int set, const std::string& name, const std::string& element_type,
                   const std::vector<int64_t>& shape, const void* data, size_t nbytes);
    // The tensor of input `name` in input set `set` (for inspection).
    const ov::Tensor& input_tensor(int set, const std::string& name) const;
    // Run the first (cold) inference again after user inputs were set; returns ms.
    double first_inference();

    // Latency: up to n sync inferences, request i % input_sets, ticks of each into out. Every
    // request has had one untimed inference before its first timed one. Stops early at
    // request_stop() or SIGINT (see interrupt.hpp). ConfigError while the async loop runs.
    // `since`: the interrupt generation the run began at (a Ctrl-C since then stops every
    // loop call of it at once); kNow: this call's start.
    static constexpr uint64_t kNow = UINT64_MAX;
    [[nodiscard]] SyncRun run_sync(int64_t* out, int64_t n, uint64_t since = kNow);

    // Throughput: start every request; each callback stores its completion and restarts it.
    void async_start();
    // Wait (blocking, call without the GIL) until at least n more completions or timeout_s;
    // returns every completion since the last collect (fewer when stopped or timed out).
    // Restarts requests parked on a full ring. After an error the batch carries it (and every
    // completion of requests still running when it came); it stays until the next async_start.
    [[nodiscard]] AsyncBatch async_collect(uint64_t n, double timeout_s, uint64_t since = kNow);
    // Stop restarting requests and wait until no callback can touch this engine any more.
    void async_stop();
    uint64_t async_start_tick() const { return async_start_tick_; }
    // Times a request waited on a full ring since async_start.
    uint64_t async_stalls() const { return log_ ? log_->stalls() : 0; }
    // Completions whose callback OpenVINO never made since async_start (the request was
    // taken back and restarted; its time is unknown, so it is not in any batch).
    uint64_t async_lost() const { return lost_ticks_.size(); }
    // When the collector took each of them back (process-clock ticks, ascending): at or after
    // the completion itself, so a rate over a window can count them.
    const std::vector<uint64_t>& async_lost_ticks() const { return lost_ticks_; }
    // Fault injection, for tests: of the throughput loop's next completion callbacks, one in
    // every `every` (1: each) returns at once as though OpenVINO had never called it, `count`
    // times; the collector then finds the completion lost and takes it back. 0 disarms. Off,
    // it costs each callback one relaxed load; the serving loop is never touched.
    void drop_completions(uint64_t count, uint64_t every = 1);
    // Starts OpenVINO refused as busy since async_start (each waited out, never an error).
    uint64_t async_busy_waits() const { return busy_waits_.load(std::memory_order_relaxed); }
    // Fault injection, for tests: the throughput loop's next `count` starts are refused with
    // OpenVINO's own ov::Busy ("Infer Request is busy") before reaching OpenVINO, as a start
    // of a request not yet released would be. 0 disarms.
    void busy_starts(uint64_t count);

    // Server / MultiStream: an issuer thread takes each query up at its due time (sleep, then
    // spin on the clock) and starts it on a free request; completion callbacks only store
    // their tick. Every request runs once, untimed, first. Blocks until every started query
    // completed; stops issuing at request_stop(), SIGINT, an error or the runaway guard.
    [[nodiscard]] ServeRun serve(const ServeTicks& ticks, const ServeOptions& opts,
                                 uint64_t since = kNow);
    // MultiStream (see MultiStreamOptions): the same issuer thread and callbacks, each query
    // issued when the previous one completed. Records only whole queries.
    [[nodiscard]] MultiStreamRun multistream(const MultiStreamOptions& opts,
                                             uint64_t since = kNow);

    // Outside scheduling (engine_drive.cpp): drive_begin holds the engine (its busy flag) for
    // `driver` until drive_end, sets the callbacks and routes every completion to the driver.
    // drive_start starts request r (< num_requests()) once OpenVINO is done with its last
    // run; the driver must not start a request it has not heard complete. drive_end waits
    // for OpenVINO's tail on every request, detaches and releases the engine; the driver
    // must first see every started request complete.
    void drive_begin(RequestDriver* driver);
    void drive_start(size_t r);
    void drive_end();

    // Ask the running loop (sync or async) to stop at the next iteration boundary; the flag
    // stays until clear_stop(). Signal-safe: an atomic; any thread (no busy flag).
    void request_stop() { user_stop_.store(true, std::memory_order_relaxed); }
    void clear_stop() { user_stop_.store(false, std::memory_order_relaxed); }
    bool stop_requested() const { return user_stop_.load(std::memory_order_relaxed); }

    // Properties OpenVINO reports for the compiled model, as strings.
    std::map<std::string, std::string> config() const;
    // The runtime (executed) graph: one map of rt_info strings per op, plus "name" and "type".
    std::vector<std::map<std::string, std::string>> runtime_ops() const;

   private:
    // Per async request, shared with OpenVINO's threads (atomics: TSan sees the edges that
    // OpenVINO's own, uninstrumented, hand-offs hide).
    struct alignas(64) AsyncRequest {
        std::atomic<uint64_t> start_ticks{0};  // written by the starter, read by the callback
        std::atomic<uint64_t> launched{0};     // starts so far
        std::atomic<uint64_t> entered{0};      // callbacks so far
    };
    struct Census {
        size_t running = 0;
        std::exception_ptr error;
    };

    // Holds the busy flag for one public call (see set_input above).
    class Hold {
       public:
        Hold(const Engine& e, const char* call);
        ~Hold() { busy_.store(false, std::memory_order_release); }
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;

       private:
        std::atomic<bool>& busy_;
    };

    void compile(const std::shared_ptr<ov::Model>& model);
    void stop_async_loop();  // async_stop's work, for callers already holding the engine
    double infer_first();    // first_inference's work
    void warm_sync_requests();
    bool stopping() const;
    bool interrupted() const;  // a Ctrl-C since interrupt_seen_
    void watch_interrupts(uint64_t since);
    // A completion of request r at tick `end` (taken first thing in the callback).
    void on_complete(size_t r, uint64_t end, std::exception_ptr ex) noexcept;
    void on_served(size_t r, uint64_t end, std::exception_ptr ex) noexcept;
    template <class Clock>
    void set_callbacks();
    void ensure_callbacks();  // per-request state and callbacks, made once per engine
    void serve_warm();
    ServeRun issue(const ServeTicks& t, const ServeOptions& o);
    void serve_start(int64_t q, size_t r, const ServeTicks& t, ServeRun& run);
    void serve_wait(uint32_t seen, double max_ns);
    void serve_drain();
    void quiesce_callbacks() const;  // until no callback is inside (see callbacks_inside_)
    void serve_begin(uint64_t* completed);
    std::exception_ptr serve_end(std::exception_ptr error, const char* mode);
    // Runs body on a new issuer thread (named, 1 ns timer slack, at `nice` when < 0) and
    // joins it; ran_at: its nice value read back; an exception it throws lands in `error`.
    void on_issuer(int nice, int& ran_at, std::exception_ptr& error,
                   const std::function<void()>& body);
    void chain(const MultiStreamOptions& o, uint64_t* slots, MultiStreamRun& run);
    size_t idle_request(size_t& cursor) const;
    bool serve_halted() const;
    void serve_fail(std::exception_ptr ex) noexcept;
    std::exception_ptr launch(size_t r) noexcept;
    std::exception_ptr launch_waiting(size_t r);
    static bool is_busy(const std::exception_ptr& ex) noexcept;
    bool busy_this() noexcept;  // busy_starts: whether this start is one to refuse
    static constexpr int kBusyTries = 1000;
    bool close_failed(size_t r, std::exception_ptr ex) noexcept;
    void restart(size_t r);
    bool reclaim_lost(size_t r);
    bool drop_this() noexcept;  // drop_completions: whether this callback is one to drop
    Census tend_requests();

    EngineOptions opts_;
    InitTimes init_;
    ClockSource source_;
    ov::CompiledModel compiled_;
    std::vector<PortInfo> inputs_, outputs_;
    std::unique_ptr<InputSets> sets_;
    std::vector<bool> warm_;  // request had an inference since the inputs were bound
    std::atomic<bool> user_stop_{false};
    mutable std::atomic<bool> busy_{false};  // a public call holds the engine (Hold)
    // interrupt::generation() a loop compares with: a Ctrl-C since then stops it (callbacks read
    // it too, hence atomic). Set by each loop call from its `since` argument.
    std::atomic<uint64_t> interrupt_seen_{0};

    // async state
    int async_requests_ = 1;
    bool async_running_ = false;
    bool callbacks_set_ = false;
    uint64_t async_start_tick_ = 0;
    uint64_t async_taken_ = 0;  // completions drained since async_start
    // Per lost completion (see reclaim_lost): when the collector took it back.
    std::vector<uint64_t> lost_ticks_;
    std::unique_ptr<CompletionLog> log_;
    std::unique_ptr<AsyncRequest[]> async_;

    // serving state (engine_serve.cpp); callbacks read serving_ to know which loop runs
    std::atomic<bool> serving_{false};
    std::unique_ptr<std::atomic<int64_t>[]> serve_query_;  // per request: its query, -1 idle
    uint64_t* serve_completed_ = nullptr;
    std::atomic<uint32_t> serve_word_{0};      // futex word: bumped by every completion
    std::atomic<bool> issuer_waiting_{false};  // the issuer sleeps on serve_word_
    std::atomic<int64_t> serve_done_{0};       // completions since serve() began
    std::atomic<bool> serve_failed_{false};
    std::exception_ptr serve_error_;  // the first failure (written once, under serve_failed_)
    std::atomic<bool> halt_{true};   // the async loop's own stop: set outside a run, by
                                     // async_stop and by an error; async_start clears it
    std::atomic<int> in_flight_{0};  // requests whose callback may still touch this engine
    // Callbacks inside this engine now, of any loop. Each one's decrement (release) is its
    // last touch, and every loop's end waits for zero (acquire): that is the edge which orders
    // a callback's reads before the engine's next use or its destruction. OpenVINO's own
    // hand-offs (start_async to the next callback, wait) are not instrumented, so TSan cannot
    // see those.
    std::atomic<int> callbacks_inside_{0};
    // drop_completions: callbacks still to drop, one in drop_every_ of those seen since armed.
    std::atomic<uint64_t> drop_left_{0}, drop_every_{1}, drop_seen_{0};
    std::atomic<uint64_t> busy_left_{0};   // busy_starts still to refuse
    std::atomic<uint64_t> busy_waits_{0};  // busy refusals since async_start
    std::atomic<RequestDriver*> driver_{nullptr};  // drive_begin .. drive_end
    // Last: destroyed first, so OpenVINO finishes with every request before the state above
    // goes away.
    std::vector<ov::InferRequest> requests_;
};

}  // namespace inferclock
