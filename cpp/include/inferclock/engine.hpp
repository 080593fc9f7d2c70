// The OpenVINO measurement engine: load, reshape, compile (each timed), prepare inputs, then
// run latency (sync) or throughput (async) loops that only read the clock, call OpenVINO and
// store ticks. No pybind11 here: the bindings drive it in chunks with the GIL released.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <openvino/openvino.hpp>

#include "inferclock/clock.hpp"

namespace inferclock {

struct EngineOptions {
    std::string model_path;   // anything ov::Core::read_model reads
    std::string device = "CPU";
    int64_t batch_size = 1;
    // Full shapes for inputs, by name (like benchmark_app -shape); they win over batch_size.
    std::map<std::string, std::vector<int64_t>> shapes;
    // Compile properties as strings (OpenVINO converts them): hint, streams, threads...
    std::map<std::string, std::string> properties;
    std::string cache_dir;    // OpenVINO model cache; "" = off
    int requests = 0;         // infer requests for async; 0 = the compiled model's optimum
    int input_sets = 4;       // distinct input sets rotated across iterations
    uint64_t seed = 0;
};

struct InitTimes {
    double read_ms = 0, reshape_ms = 0, compile_ms = 0, first_infer_ms = 0;
    std::string cache = "off";  // "cold", "hot" (loaded from OpenVINO's cache) or "off"
};

struct PortInfo {
    std::string name;
    std::string element_type;  // OpenVINO's name: f32, u8, i64...
    std::vector<int64_t> shape;
    std::string partial_shape;  // as in the model before reshape
};

struct AsyncBatch {  // completions collected since the last call
    std::vector<int64_t> latency_ticks;  // start to callback, completion order
    std::vector<uint64_t> end_ticks;
};

// The process-wide ov::Core (plugins registered on it persist for the process).
ov::Core& core();
// Register an external plugin library under a device name (DeviceError when it fails).
void register_plugin(const std::string& library_path, const std::string& device_name);
void register_plugins_xml(const std::string& xml_path);
// Devices OpenVINO lists, and the names a device string may use.
std::vector<std::string> available_devices();
// Check a device string ("CPU", "GPU.1", "HETERO:FPGA,CPU", "AUTO:GPU,CPU"...) against what is
// present; DeviceError naming what is missing and what is there.
void check_device(const std::string& device);

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
    int64_t batch_size() const { return batch_; }
    ClockSource clock_source() const { return source_; }

    // Copy user data into input set `set` of input `name` (validated: type and byte size).
    void set_input(int set, const std::string& name, const std::string& element_type,
                   const std::vector<int64_t>& shape, const void* data, size_t nbytes);
    // The tensor of input `name` in input set `set` (for inspection).
    const ov::Tensor& input_tensor(int set, const std::string& name) const;
    // Run the first (cold) inference again after user inputs were set; returns ms.
    double first_inference();

    // Latency: up to n sync inferences, request i % input_sets; ticks of each into out.
    // Stops early when stop is set; returns how many ran.
    int64_t run_sync(int64_t* out, int64_t n);

    // Throughput: start every request; each callback stores its completion and restarts it.
    void async_start();
    // Wait (blocking, call without the GIL) until at least n more completions or timeout_s;
    // returns the completions since the last collect (fewer when stopped or timed out).
    AsyncBatch async_collect(uint64_t n, double timeout_s);
    // Stop restarting requests and wait for those in flight.
    void async_stop();
    uint64_t async_start_tick() const { return async_start_tick_; }

    // Ask the running loop to stop at the next iteration boundary (signal-safe: an atomic).
    void request_stop() { stop_.store(true, std::memory_order_relaxed); }
    void clear_stop() { stop_.store(false, std::memory_order_relaxed); }
    bool stop_requested() const { return stop_.load(std::memory_order_relaxed); }

    // Properties OpenVINO reports for the compiled model, as strings.
    std::map<std::string, std::string> config() const;
    // The runtime (executed) graph: one map of rt_info strings per op, plus "name" and "type".
    std::vector<std::map<std::string, std::string>> runtime_ops() const;

private:
    struct Log;  // per-request completion storage (single producer: that request's callback)
    void prepare_inputs();
    void on_complete(size_t r, std::exception_ptr ex);

    EngineOptions opts_;
    InitTimes init_;
    int64_t batch_ = 1;
    ClockSource source_;
    std::shared_ptr<ov::Model> model_;
    ov::CompiledModel compiled_;
    std::vector<ov::InferRequest> requests_;
    std::vector<PortInfo> inputs_, outputs_;
    std::vector<std::vector<ov::Tensor>> sets_;  // [set][input]
    std::atomic<bool> stop_{false};

    // async state
    std::vector<std::unique_ptr<Log>> logs_;
    std::vector<uint64_t> started_;  // start tick per request (written by its own callback)
    std::atomic<uint64_t> completed_{0};
    std::atomic<uint64_t> target_{UINT64_MAX};
    std::atomic<int> in_flight_{0};
    std::mutex mu_;
    std::condition_variable cv_;
    std::exception_ptr async_error_;
    bool async_running_ = false;
    int async_requests_ = 1;
    uint64_t async_start_tick_ = 0;
};

}  // namespace inferclock
