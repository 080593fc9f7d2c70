// The engine's set-up and its latency loop: option checks, compile (errors sorted into config
// and device faults), requests, inputs, the cold first inference, the sync loop, and what the
// compiled model reports. The throughput loop is in engine_async.cpp.
#include "inferclock/engine.hpp"

#include <algorithm>

#include "detail.hpp"
#include "inferclock/errors.hpp"
#include "inferclock/interrupt.hpp"

namespace inferclock {

using detail::ov_message;

Engine::Hold::Hold(const Engine& e, const char* call) : busy_(e.busy_) {
    check_not_forked();  // the engine's OpenVINO threads stayed in the parent
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire))
        throw ConfigError(std::string("Engine.") + call +
                          ": the engine is in use by another thread (one call at a time: "
                          "give each thread its own Engine, or wait for the other call; "
                          "request_stop() ends a running loop)");
}

bool Engine::interrupted() const {
    return interrupt::since(interrupt_seen_.load(std::memory_order_relaxed));
}

void Engine::watch_interrupts(uint64_t since) {
    interrupt_seen_.store(since == kNow ? interrupt::generation() : since,
                          std::memory_order_relaxed);
}

Engine::Engine(EngineOptions opts) : opts_(std::move(opts)), source_(process_clock().source) {
    interrupt_seen_.store(interrupt::generation(), std::memory_order_relaxed);
    if (opts_.batch_size < 1)
        throw ConfigError("batch_size must be a positive integer, got " +
                          std::to_string(opts_.batch_size));
    if (opts_.input_sets < 1)
        throw ConfigError("input_sets must be >= 1, got " + std::to_string(opts_.input_sets));
    if (opts_.requests < 0)
        throw ConfigError("requests must be >= 1 (or None for the device's optimum), got " +
                          std::to_string(opts_.requests));
    if (opts_.completion_capacity < 1) throw ConfigError("completion_capacity must be >= 1, got 0");
    check_device(opts_.device);

    PreparedModel prepared = prepare_model(opts_.model_path, opts_.batch_size, opts_.shapes);
    init_.read_ms = prepared.read_ms;
    init_.reshape_ms = prepared.reshape_ms;
    inputs_ = std::move(prepared.inputs);
    outputs_ = std::move(prepared.outputs);
    compile(prepared.model);

    // Requests: sync mode rotates input sets over one request per set; async uses N.
    int n = opts_.requests;
    if (n == 0) {
        try {
            n = static_cast<int>(compiled_.get_property(ov::optimal_number_of_infer_requests));
        } catch (const std::exception&) {
            n = 1;
        }
    }
    async_requests_ = std::max(n, 1);
    const int nreq = std::max(async_requests_, opts_.input_sets);
    try {
        for (int i = 0; i < nreq; ++i) requests_.push_back(compiled_.create_infer_request());
    } catch (const std::exception& e) {
        throw DeviceError("could not create infer requests on '" + opts_.device +
                          "': " + ov_message(e));
    }
    warm_.assign(requests_.size(), false);
    sets_ = std::make_unique<InputSets>(compiled_, inputs_, opts_.input_sets, opts_.seed);
    sets_->bind(requests_);
    init_.first_infer_ms = infer_first();
}

Engine::~Engine() {
    try {
        stop_async_loop();
    } catch (...) {
    }
    quiesce_callbacks();
}

void Engine::compile(const std::shared_ptr<ov::Model>& model) {
    ov::AnyMap config;
    for (const auto& kv : opts_.properties) config[kv.first] = kv.second;
    if (!opts_.cache_dir.empty()) config[ov::cache_dir.name()] = opts_.cache_dir;
    detail::Stopwatch sw(source_);
    try {
        compiled_ = core().compile_model(model, opts_.device, config);
    } catch (const std::exception& e) {
        const std::string msg = ov_message(e);
        std::string props;
        for (const auto& kv : opts_.properties) props += " " + kv.first + "=" + kv.second;
        // OpenVINO reports a bad property in many words; it names the key or the value.
        bool about_config = msg.find("propert") != std::string::npos ||
                            msg.find("Could not read") != std::string::npos ||
                            msg.find("Unsupported") != std::string::npos;
        for (const auto& kv : opts_.properties)
            if ((kv.second.size() > 1 && msg.find(kv.second) != std::string::npos) ||
                msg.find(kv.first) != std::string::npos)
                about_config = true;
        if (about_config && !opts_.properties.empty())
            throw ConfigError("device '" + opts_.device + "' rejected the configuration {" + props +
                              " }: " + msg);
        throw DeviceError("could not compile the model on '" + opts_.device + "': " + msg);
    }
    init_.compile_ms = sw.ms();
    if (!opts_.cache_dir.empty()) {
        try {
            init_.cache = compiled_.get_property(ov::loaded_from_cache) ? "hot" : "cold";
        } catch (const std::exception&) {
            init_.cache = "cold";
        }
    }
}

void Engine::set_input(int set, const std::string& name, const std::string& element_type,
                       const std::vector<int64_t>& shape, const void* data, size_t nbytes) {
    Hold hold(*this, "set_input");
    sets_->set(set, name, element_type, shape, data, nbytes);
}

const ov::Tensor& Engine::input_tensor(int set, const std::string& name) const {
    return sets_->tensor(set, name);
}

double Engine::first_inference() {
    Hold hold(*this, "first_inference");
    return infer_first();
}

double Engine::infer_first() {
    const uint64_t t0 = now_ticks(source_);
    try {
        requests_[0].infer();
    } catch (const std::exception& e) {
        throw DeviceError("first inference failed on '" + opts_.device + "': " + ov_message(e));
    }
    const uint64_t t1 = stop_ticks(source_);
    warm_[0] = true;
    return detail::ticks_to_ms(t1 - t0);
}

void Engine::warm_sync_requests() {
    // A request's first inference is cold (allocations, caches): never time it.
    for (size_t k = 0; k < sets_->size(); ++k) {
        if (warm_[k]) continue;
        requests_[k].infer();
        warm_[k] = true;
    }
}

namespace {

// The timed loop: pick the request bound to this iteration's input set, read the clock, infer,
// read the clock, store. Nothing else (STYLE.md item 4). An exception keeps what was stored.
template <class Clock>
int64_t sync_loop(std::vector<ov::InferRequest>& reqs, size_t sets, int64_t* out, int64_t n,
                  const std::atomic<bool>& stop, uint64_t since, std::exception_ptr& error) {
    int64_t i = 0;
    size_t k = 0;
    try {
        for (; i < n; ++i) {
            if (stop.load(std::memory_order_relaxed) || interrupt::since(since)) break;
            ov::InferRequest& r = reqs[k];
            k = (k + 1 == sets) ? 0 : k + 1;
            const uint64_t t0 = Clock::start();
            r.infer();
            const uint64_t t1 = Clock::stop();
            out[i] = static_cast<int64_t>(t1 - t0);
        }
    } catch (...) {
        error = std::current_exception();
    }
    return i;
}

}  // namespace

SyncRun Engine::run_sync(int64_t* out, int64_t n, uint64_t since) {
    Hold hold(*this, "run_sync");
    watch_interrupts(since);
    since = interrupt_seen_.load(std::memory_order_relaxed);
    if (async_running_) throw ConfigError("run_sync while the async loop runs");
    SyncRun run;
    try {
        warm_sync_requests();
    } catch (...) {
        run.error = std::current_exception();
    }
    if (!run.error)
        run.done = source_ == ClockSource::monotonic_raw
                       ? sync_loop<detail::RawClock>(requests_, sets_->size(), out, n, user_stop_,
                                                     since, run.error)
                       : sync_loop<detail::CounterClock>(requests_, sets_->size(), out, n,
                                                         user_stop_, since, run.error);
    if (run.error)
        run.error =
            detail::as_device_error(run.error, "inference failed on '" + opts_.device + "'");
    return run;
}

std::map<std::string, std::string> Engine::config() const {
    std::map<std::string, std::string> out;
    std::vector<ov::PropertyName> names;
    try {
        names = compiled_.get_property(ov::supported_properties);
    } catch (const std::exception&) {
        return out;
    }
    for (const auto& n : names) {
        if (n == ov::supported_properties.name()) continue;
        try {
            out[n] = compiled_.get_property(n).as<std::string>();
        } catch (const std::exception&) {
        }
    }
    return out;
}

std::vector<std::map<std::string, std::string>> Engine::runtime_ops() const {
    std::vector<std::map<std::string, std::string>> ops;
    std::shared_ptr<const ov::Model> rt;
    try {
        rt = compiled_.get_runtime_model();
    } catch (const std::exception&) {
        return ops;  // some devices (HETERO, AUTO) may not expose it
    }
    for (const auto& node : rt->get_ordered_ops()) {
        std::map<std::string, std::string> m;
        m["name"] = node->get_friendly_name();
        m["type"] = node->get_type_name();
        for (const auto& kv : node->get_rt_info()) {
            try {
                m[kv.first] = kv.second.as<std::string>();
            } catch (const std::exception&) {
            }
        }
        ops.push_back(std::move(m));
    }
    return ops;
}

}  // namespace inferclock
