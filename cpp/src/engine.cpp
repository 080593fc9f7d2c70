#include "inferclock/engine.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <thread>

#include "inferclock/errors.hpp"
#include "inferclock/interrupt.hpp"

namespace inferclock {

namespace {

bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

// OpenVINO messages repeat a long "Check ... failed at src/..." preamble; keep them whole
// (they name the real cause) but on one line.
std::string ov_message(const std::exception& e) {
    std::string s = e.what();
    std::replace(s.begin(), s.end(), '\n', ' ');
    if (s.size() > 1500) s = s.substr(0, 1500) + "...";
    return s;
}

double ticks_to_ms(uint64_t ticks) { return static_cast<double>(ticks) * 1e3 / process_clock().frequency_hz; }

struct Stopwatch {
    ClockSource s;
    uint64_t t0;
    explicit Stopwatch(ClockSource src) : s(src), t0(now_ticks(src)) {}
    double ms() const { return ticks_to_ms(now_ticks(s) - t0); }
};

inline uint64_t read_stop(ClockSource s) {
    return s == ClockSource::monotonic_raw ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                           : cycleclock::stop();
}

const std::set<std::string>& meta_devices() {
    static const std::set<std::string> m{"AUTO", "HETERO", "MULTI", "BATCH"};
    return m;
}

// Device names a string refers to: "HETERO:FPGA,CPU" -> {FPGA, CPU}; "GPU.1" -> {GPU.1}.
std::vector<std::string> device_names(const std::string& device) {
    std::vector<std::string> names;
    const auto colon = device.find(':');
    std::string head = device.substr(0, colon);
    if (meta_devices().count(head)) {
        if (colon == std::string::npos) return names;  // AUTO alone picks among present ones
        std::stringstream ss(device.substr(colon + 1));
        std::string item;
        while (std::getline(ss, item, ',')) {
            // AUTO accepts "-CPU" to exclude a device and "GPU(2)" style priorities? keep names.
            while (!item.empty() && (item[0] == '-' || item[0] == ' ')) item.erase(0, 1);
            auto paren = item.find('(');
            if (paren != std::string::npos) item = item.substr(0, paren);
            if (!item.empty()) names.push_back(item);
        }
        return names;
    }
    names.push_back(device);
    return names;
}

std::string base_name(const std::string& name) { return name.substr(0, name.find('.')); }

}  // namespace

ov::Core& core() {
    static ov::Core c;
    return c;
}

std::vector<std::string> available_devices() {
    try {
        return core().get_available_devices();
    } catch (const std::exception& e) {
        throw DeviceError("OpenVINO could not list its devices: " + ov_message(e));
    }
}

namespace {
std::mutex g_plugins_mu;
std::map<std::string, std::string> g_plugins;  // device name -> library registered here
}  // namespace

void register_plugin(const std::string& library_path, const std::string& device_name) {
    if (device_name.empty() || device_name.find_first_of(":,. ") != std::string::npos)
        throw DeviceError("plugin device name must be a plain name like 'FPGA', got '" +
                          device_name + "'");
    if (!is_file(library_path))
        throw DeviceError("plugin library for device '" + device_name + "' not found: '" +
                          library_path + "' is not a file");
    std::lock_guard<std::mutex> lk(g_plugins_mu);
    auto it = g_plugins.find(device_name);
    if (it != g_plugins.end()) {
        if (it->second == library_path) return;  // same registration again: nothing to do
        throw DeviceError("device '" + device_name + "' is already registered with '" +
                          it->second + "'; cannot register '" + library_path + "' under it");
    }
    try {
        core().register_plugin(library_path, device_name);
        g_plugins[device_name] = library_path;
    } catch (const std::exception& e) {
        throw DeviceError("could not register plugin '" + library_path + "' as device '" +
                          device_name + "': " + ov_message(e));
    }
}

void register_plugins_xml(const std::string& xml_path) {
    if (!is_file(xml_path))
        throw DeviceError("plugins XML not found: '" + xml_path + "' is not a file");
    try {
        core().register_plugins(xml_path);
    } catch (const std::exception& e) {
        throw DeviceError("could not register plugins from '" + xml_path + "': " + ov_message(e));
    }
}

void check_device(const std::string& device) {
    if (device.empty()) throw DeviceError("device must not be empty (e.g. 'CPU')");
    const auto present = available_devices();
    for (const auto& name : device_names(device)) {
        if (meta_devices().count(base_name(name))) continue;
        bool found = std::find(present.begin(), present.end(), name) != present.end();
        if (!found && name.find('.') == std::string::npos) {
            // "GPU" matches "GPU.0"; a registered plugin may list no device until queried.
            for (const auto& p : present)
                if (base_name(p) == name) found = true;
        }
        if (!found) {
            try {
                // A plugin registered by name but listing no device still answers this.
                const auto full = core().get_property(name, ov::device::full_name);
                found = !full.empty();
            } catch (const std::exception&) {
            }
        }
        if (found) continue;
        std::string why;
        if (name == "FPGA") {
            why = "no OpenVINO plugin is registered for 'FPGA'. FPGAs need an external plugin "
                  "(Intel FPGA AI Suite ships one; it is not in the openvino wheel): register it "
                  "with ic.register_plugin(library_path, 'FPGA') or --plugin FPGA=PATH, usually "
                  "run as HETERO:FPGA,CPU";
        } else if (name == "GPU" || name == "NPU") {
            why = "OpenVINO found no " + name + " on this machine (its " + name +
                  " plugin loaded but reported no device)";
        } else {
            why = "'" + name + "' is not a device OpenVINO knows here (register an external "
                  "plugin with ic.register_plugin(library_path, '" + name + "'))";
        }
        throw DeviceError("device '" + device + "' is not available: " + why +
                          ". Devices present: " + join(present) +
                          " (plus AUTO, HETERO:..., MULTI:... over them)");
    }
}

// ---------------------------------------------------------------- completion log
// Blocks of completions per request; the request's callback is the only writer, the
// collector the only reader. Blocks are made ahead by the collector so a callback allocates
// only if it outruns it.
struct Engine::Log {
    struct Entry {
        uint64_t start, end;
    };
    static constexpr size_t kBlock = 1u << 14;
    static constexpr size_t kMaxBlocks = 1u << 14;  // 268M completions per request
    std::unique_ptr<std::atomic<Entry*>[]> blocks{new std::atomic<Entry*>[kMaxBlocks]};
    std::atomic<uint64_t> count{0};
    uint64_t consumed = 0;

    Log() {
        for (size_t i = 0; i < kMaxBlocks; ++i) blocks[i].store(nullptr);
        ensure(0);
        ensure(1);
    }
    ~Log() {
        for (size_t i = 0; i < kMaxBlocks; ++i) delete[] blocks[i].load();
    }
    Entry* ensure(size_t b) {
        if (b >= kMaxBlocks) return nullptr;
        Entry* p = blocks[b].load(std::memory_order_acquire);
        if (p) return p;
        auto* fresh = new Entry[kBlock];
        if (blocks[b].compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return fresh;
        delete[] fresh;
        return p;
    }
    bool push(uint64_t start, uint64_t end) {
        const uint64_t i = count.load(std::memory_order_relaxed);
        Entry* blk = ensure(i / kBlock);
        if (!blk) return false;
        blk[i % kBlock] = {start, end};
        count.store(i + 1, std::memory_order_release);
        return true;
    }
};

// ---------------------------------------------------------------- engine

Engine::Engine(EngineOptions opts) : opts_(std::move(opts)), source_(process_clock().source) {
    if (opts_.batch_size < 1)
        throw ConfigError("batch_size must be a positive integer, got " +
                          std::to_string(opts_.batch_size));
    if (opts_.input_sets < 1)
        throw ConfigError("input_sets must be >= 1, got " + std::to_string(opts_.input_sets));
    if (opts_.requests < 0)
        throw ConfigError("requests must be >= 1 (or None for the device's optimum), got " +
                          std::to_string(opts_.requests));
    batch_ = opts_.batch_size;
    check_device(opts_.device);
    auto& c = core();

    // read
    {
        struct stat st {};
        if (::stat(opts_.model_path.c_str(), &st) != 0)
            throw ModelError("model file not found: '" + opts_.model_path + "'");
        if (S_ISDIR(st.st_mode) && opts_.model_path.find("saved_model") == std::string::npos) {
            // TF SavedModel directories are legitimate; anything else that is a directory is not.
            struct stat pb {};
            if (::stat((opts_.model_path + "/saved_model.pb").c_str(), &pb) != 0)
                throw ModelError("model path '" + opts_.model_path +
                                 "' is a directory, not a model file (expected .xml, .onnx, "
                                 ".tflite, .pdmodel, .pb or a TF SavedModel directory)");
        }
        if (S_ISREG(st.st_mode) && st.st_size == 0)
            throw ModelError("model file '" + opts_.model_path + "' is empty");
        Stopwatch sw(source_);
        try {
            model_ = c.read_model(opts_.model_path);
        } catch (const std::exception& e) {
            throw ModelError("could not read model '" + opts_.model_path + "': " + ov_message(e));
        }
        init_.read_ms = sw.ms();
    }

    // The shapes as the model declares them, before the reshape (reported with each input).
    std::map<std::string, std::string> declared;
    for (const auto& in : model_->inputs())
        declared[in.get_any_name()] = in.get_partial_shape().to_string();

    // reshape
    {
        Stopwatch sw(source_);
        std::map<std::string, ov::PartialShape> new_shapes;
        bool changed = false;
        std::set<std::string> used;
        for (const auto& in : model_->inputs()) {
            std::string name = in.get_any_name();
            ov::PartialShape ps = in.get_partial_shape();
            auto it = opts_.shapes.end();
            for (const auto& n : in.get_names()) {
                auto f = opts_.shapes.find(n);
                if (f != opts_.shapes.end()) it = f;
            }
            if (it != opts_.shapes.end()) {
                used.insert(it->first);
                std::vector<ov::Dimension> dims(it->second.begin(), it->second.end());
                if (ps.rank().is_static() &&
                    static_cast<size_t>(ps.rank().get_length()) != dims.size())
                    throw ModelError("shapes['" + it->first + "'] has " +
                                     std::to_string(dims.size()) + " dims but input '" + name +
                                     "' has rank " + std::to_string(ps.rank().get_length()) +
                                     " (" + ps.to_string() + ")");
                new_shapes[name] = ov::PartialShape(dims);
                changed = true;
                continue;
            }
            if (ps.rank().is_dynamic())
                throw ModelError("input '" + name +
                                 "' has a dynamic rank; give its full shape with shapes={'" +
                                 name + "': [...]}");
            // Batch dimension: from the layout when the model has one, else the first dim of
            // an input of rank >= 2. Rank 0/1 inputs have no batch dimension.
            int64_t bidx = -1;
            const auto layout = ov::layout::get_layout(in);
            if (!layout.empty() && ov::layout::has_batch(layout))
                bidx = ov::layout::batch_idx(layout);
            else if (ps.rank().get_length() >= 2)
                bidx = 0;
            if (bidx < 0) {
                if (batch_ != 1)
                    throw ModelError("input '" + name + "' (" + ps.to_string() +
                                     ") has no batch dimension, so only batch_size=1 is "
                                     "possible; got batch_size=" + std::to_string(batch_));
            } else {
                if (bidx < 0) bidx += ps.rank().get_length();
                auto& d = ps[bidx];
                if (d.is_static() && d.get_length() != batch_) {
                    ps[bidx] = batch_;
                    changed = true;
                } else if (d.is_dynamic()) {
                    ps[bidx] = batch_;
                    changed = true;
                }
            }
            for (int64_t i = 0; i < ps.rank().get_length(); ++i) {
                if (ps[i].is_dynamic())
                    throw ModelError("input '" + name + "' has a dynamic dimension " +
                                     std::to_string(i) + " (shape " +
                                     in.get_partial_shape().to_string() +
                                     ") besides the batch; give its shape with shapes={'" + name +
                                     "': [...]} (like benchmark_app -shape)");
            }
            new_shapes[name] = ps;
        }
        for (const auto& kv : opts_.shapes)
            if (!used.count(kv.first)) {
                std::vector<std::string> names;
                for (const auto& in : model_->inputs()) names.push_back(in.get_any_name());
                throw ModelError("shapes names an input '" + kv.first +
                                 "' the model does not have; inputs: " + join(names));
            }
        if (changed) {
            try {
                model_->reshape(new_shapes);
            } catch (const std::exception& e) {
                throw ModelError("could not reshape the model to batch " + std::to_string(batch_) +
                                 ": " + ov_message(e));
            }
        }
        init_.reshape_ms = sw.ms();
    }

    for (const auto& in : model_->inputs()) {
        PortInfo p;
        p.name = in.get_any_name();
        p.element_type = in.get_element_type().get_type_name();
        p.partial_shape = declared.count(p.name) ? declared[p.name] : in.get_partial_shape().to_string();
        for (auto d : in.get_shape()) p.shape.push_back(static_cast<int64_t>(d));
        inputs_.push_back(p);
    }
    for (const auto& out : model_->outputs()) {
        PortInfo p;
        p.name = out.get_names().empty() ? out.get_node()->get_friendly_name() : out.get_any_name();
        p.element_type = out.get_element_type().get_type_name();
        p.partial_shape = out.get_partial_shape().to_string();
        if (out.get_partial_shape().is_static())
            for (auto d : out.get_shape()) p.shape.push_back(static_cast<int64_t>(d));
        outputs_.push_back(p);
    }

    // compile
    {
        ov::AnyMap config;
        for (const auto& kv : opts_.properties) config[kv.first] = kv.second;
        if (!opts_.cache_dir.empty()) config[ov::cache_dir.name()] = opts_.cache_dir;
        Stopwatch sw(source_);
        try {
            compiled_ = c.compile_model(model_, opts_.device, config);
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
                throw ConfigError("device '" + opts_.device + "' rejected the configuration {" +
                                  props + " }: " + msg);
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

    // requests: sync mode rotates input sets over one request per set; async uses N.
    int n = opts_.requests;
    if (n == 0) {
        try {
            n = static_cast<int>(compiled_.get_property(ov::optimal_number_of_infer_requests));
        } catch (const std::exception&) {
            n = 1;
        }
    }
    n = std::max({n, 1});
    const int nreq = std::max(n, opts_.input_sets);
    try {
        for (int i = 0; i < nreq; ++i) requests_.push_back(compiled_.create_infer_request());
    } catch (const std::exception& e) {
        throw DeviceError("could not create infer requests on '" + opts_.device + "': " +
                          ov_message(e));
    }
    async_requests_ = n;
    prepare_inputs();
    init_.first_infer_ms = first_inference();
}

Engine::~Engine() {
    try {
        if (async_running_) async_stop();
    } catch (...) {
    }
}

void Engine::prepare_inputs() {
    std::mt19937_64 rng(opts_.seed);
    sets_.assign(opts_.input_sets, {});
    for (int s = 0; s < opts_.input_sets; ++s) {
        for (const auto& in : compiled_.inputs()) {
            ov::Tensor t(in.get_element_type(), in.get_shape());
            const size_t count = t.get_size();
            const auto et = in.get_element_type();
            // Values in a range each type can hold and a model can digest: [0,1) for floats,
            // the full range of u8/i8 (image-like), small non-negative ints for i32/i64 (ids).
            if (et == ov::element::f32) {
                std::uniform_real_distribution<float> d(0.f, 1.f);
                auto* p = t.data<float>();
                for (size_t i = 0; i < count; ++i) p[i] = d(rng);
            } else if (et == ov::element::f16) {
                std::uniform_real_distribution<float> d(0.f, 1.f);
                auto* p = t.data<ov::float16>();
                for (size_t i = 0; i < count; ++i) p[i] = ov::float16(d(rng));
            } else if (et == ov::element::bf16) {
                std::uniform_real_distribution<float> d(0.f, 1.f);
                auto* p = t.data<ov::bfloat16>();
                for (size_t i = 0; i < count; ++i) p[i] = ov::bfloat16(d(rng));
            } else if (et == ov::element::f64) {
                std::uniform_real_distribution<double> d(0., 1.);
                auto* p = t.data<double>();
                for (size_t i = 0; i < count; ++i) p[i] = d(rng);
            } else if (et == ov::element::u8) {
                std::uniform_int_distribution<int> d(0, 255);
                auto* p = t.data<uint8_t>();
                for (size_t i = 0; i < count; ++i) p[i] = static_cast<uint8_t>(d(rng));
            } else if (et == ov::element::i8) {
                std::uniform_int_distribution<int> d(-128, 127);
                auto* p = t.data<int8_t>();
                for (size_t i = 0; i < count; ++i) p[i] = static_cast<int8_t>(d(rng));
            } else if (et == ov::element::i32) {
                std::uniform_int_distribution<int32_t> d(0, 9);
                auto* p = t.data<int32_t>();
                for (size_t i = 0; i < count; ++i) p[i] = d(rng);
            } else if (et == ov::element::i64) {
                std::uniform_int_distribution<int64_t> d(0, 9);
                auto* p = t.data<int64_t>();
                for (size_t i = 0; i < count; ++i) p[i] = d(rng);
            } else if (et == ov::element::boolean) {
                std::uniform_int_distribution<int> d(0, 1);
                auto* p = static_cast<uint8_t*>(t.data());
                for (size_t i = 0; i < count; ++i) p[i] = static_cast<uint8_t>(d(rng));
            } else {
                std::memset(t.data(), 0, t.get_byte_size());
            }
            sets_[s].push_back(t);
        }
    }
    // Request r always reads input set r % sets: binding once keeps set_tensor out of loops.
    for (size_t r = 0; r < requests_.size(); ++r) {
        const auto& set = sets_[r % sets_.size()];
        for (size_t i = 0; i < set.size(); ++i)
            requests_[r].set_tensor(compiled_.inputs()[i], set[i]);
    }
}

void Engine::set_input(int set, const std::string& name, const std::string& element_type,
                       const std::vector<int64_t>& shape, const void* data, size_t nbytes) {
    if (set < 0 || set >= static_cast<int>(sets_.size()))
        throw ConfigError("input set " + std::to_string(set) + " out of range (0.." +
                          std::to_string(sets_.size() - 1) + ")");
    for (size_t i = 0; i < inputs_.size(); ++i) {
        if (inputs_[i].name != name) continue;
        const auto& want = inputs_[i];
        if (element_type != want.element_type)
            throw ModelError("input '" + name + "' takes " + want.element_type + ", got " +
                             element_type);
        if (shape != want.shape) {
            auto fmt = [](const std::vector<int64_t>& s) {
                std::string o = "[";
                for (size_t k = 0; k < s.size(); ++k) o += (k ? "," : "") + std::to_string(s[k]);
                return o + "]";
            };
            throw ModelError("input '" + name + "' takes shape " + fmt(want.shape) + ", got " +
                             fmt(shape));
        }
        auto& t = sets_[set][i];
        if (nbytes != t.get_byte_size())
            throw ModelError("input '" + name + "': " + std::to_string(nbytes) +
                             " bytes given, " + std::to_string(t.get_byte_size()) + " expected");
        std::memcpy(t.data(), data, nbytes);
        return;
    }
    std::vector<std::string> names;
    for (const auto& p : inputs_) names.push_back(p.name);
    throw ModelError("the model has no input '" + name + "'; inputs: " + join(names));
}

const ov::Tensor& Engine::input_tensor(int set, const std::string& name) const {
    if (set < 0 || set >= static_cast<int>(sets_.size()))
        throw ConfigError("input set " + std::to_string(set) + " out of range (0.." +
                          std::to_string(sets_.size() - 1) + ")");
    for (size_t i = 0; i < inputs_.size(); ++i)
        if (inputs_[i].name == name) return sets_[set][i];
    std::vector<std::string> names;
    for (const auto& p : inputs_) names.push_back(p.name);
    throw ModelError("the model has no input '" + name + "'; inputs: " + join(names));
}

double Engine::first_inference() {
    const uint64_t t0 = now_ticks(source_);
    try {
        requests_[0].infer();
    } catch (const std::exception& e) {
        throw DeviceError("first inference failed on '" + opts_.device + "': " + ov_message(e));
    }
    return ticks_to_ms(read_stop(source_) - t0);
}

namespace {
template <bool kRaw>
int64_t sync_loop(std::vector<ov::InferRequest>& reqs, size_t sets, int64_t* out, int64_t n,
                  const std::atomic<bool>& stop) {
    // The timed loop: pick the request bound to this iteration's input set, read the clock,
    // infer, read the clock, store. Nothing else (STYLE.md item 4).
    int64_t i = 0;
    size_t k = 0;
    for (; i < n; ++i) {
        if (stop.load(std::memory_order_relaxed) || interrupt::pending()) break;
        ov::InferRequest& r = reqs[k];
        k = (k + 1 == sets) ? 0 : k + 1;
        const uint64_t t0 = kRaw ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                 : cycleclock::start();
        r.infer();
        const uint64_t t1 = kRaw ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                 : cycleclock::stop();
        out[i] = static_cast<int64_t>(t1 - t0);
    }
    return i;
}
}  // namespace

int64_t Engine::run_sync(int64_t* out, int64_t n) {
    if (async_running_) throw ConfigError("run_sync while the async loop runs");
    try {
        return source_ == ClockSource::monotonic_raw
                   ? sync_loop<true>(requests_, sets_.size(), out, n, stop_)
                   : sync_loop<false>(requests_, sets_.size(), out, n, stop_);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw DeviceError("inference failed on '" + opts_.device + "': " + ov_message(e));
    }
}

void Engine::on_complete(size_t r, std::exception_ptr ex) {
    // Runs on OpenVINO's threads: store a tick, restart, never touch Python.
    const uint64_t end = read_stop(source_);
    if (ex) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!async_error_) async_error_ = ex;
        stop_.store(true, std::memory_order_relaxed);
    } else if (!logs_[r]->push(started_[r], end)) {
        stop_.store(true, std::memory_order_relaxed);
    }
    const uint64_t done = completed_.fetch_add(1, std::memory_order_acq_rel) + 1;
    const bool again = !stop_.load(std::memory_order_relaxed) && !interrupt::pending() && !ex;
    if (again) {
        started_[r] = now_ticks(source_);
        try {
            requests_[r].start_async();
        } catch (...) {
            std::lock_guard<std::mutex> lk(mu_);
            if (!async_error_) async_error_ = std::current_exception();
            stop_.store(true, std::memory_order_relaxed);
            in_flight_.fetch_sub(1);
            cv_.notify_all();
            return;
        }
    } else {
        in_flight_.fetch_sub(1);
    }
    if (done >= target_.load(std::memory_order_relaxed) || !again) {
        std::lock_guard<std::mutex> lk(mu_);
        cv_.notify_all();
    }
}

void Engine::async_start() {
    if (async_running_) throw ConfigError("async loop already running");
    const size_t n = static_cast<size_t>(async_requests_);
    logs_.clear();
    for (size_t r = 0; r < n; ++r) logs_.push_back(std::make_unique<Log>());
    started_.assign(n, 0);
    completed_.store(0);
    target_.store(UINT64_MAX);
    async_error_ = nullptr;
    for (size_t r = 0; r < n; ++r)
        requests_[r].set_callback([this, r](std::exception_ptr ex) { on_complete(r, ex); });
    async_running_ = true;
    in_flight_.store(static_cast<int>(n));
    async_start_tick_ = now_ticks(source_);
    for (size_t r = 0; r < n; ++r) {
        started_[r] = now_ticks(source_);
        try {
            requests_[r].start_async();
        } catch (const std::exception& e) {
            stop_.store(true);
            in_flight_.fetch_sub(static_cast<int>(n - r));
            async_stop();
            throw DeviceError("could not start async inference on '" + opts_.device +
                              "': " + ov_message(e));
        }
    }
}

AsyncBatch Engine::async_collect(uint64_t n, double timeout_s) {
    uint64_t have = 0;
    for (const auto& l : logs_) have += l->count.load(std::memory_order_acquire) - l->consumed;
    {
        std::unique_lock<std::mutex> lk(mu_);
        const uint64_t base = completed_.load();
        // Completions already stored but not yet collected count toward n.
        target_.store(base + (n > have ? n - have : 0));
        // Wake every 20 ms: a signal handler cannot notify a condition variable.
        using clock = std::chrono::steady_clock;
        const auto deadline =
            clock::now() + std::chrono::duration_cast<clock::duration>(
                               std::chrono::duration<double>(timeout_s));
        while (!(completed_.load() >= target_.load() || stop_.load() || interrupt::pending() ||
                 in_flight_.load() == 0)) {
            const auto now = clock::now();
            if (now >= deadline) break;
            const clock::duration slice = std::chrono::milliseconds(20);
            cv_.wait_for(lk, std::min<clock::duration>(deadline - now, slice));
        }
        target_.store(UINT64_MAX);
    }
    if (async_error_) {
        std::exception_ptr ex = async_error_;
        try {
            std::rethrow_exception(ex);
        } catch (const std::exception& e) {
            throw DeviceError("async inference failed on '" + opts_.device + "': " + ov_message(e));
        }
    }
    AsyncBatch out;
    std::vector<std::pair<uint64_t, uint64_t>> all;  // (end, start)
    for (auto& l : logs_) {
        const uint64_t cnt = l->count.load(std::memory_order_acquire);
        for (uint64_t i = l->consumed; i < cnt; ++i) {
            const auto& e = l->blocks[i / Log::kBlock].load(std::memory_order_acquire)[i % Log::kBlock];
            all.emplace_back(e.end, e.start);
        }
        l->consumed = cnt;
        // Make the next block ahead of the callback so it rarely allocates.
        l->ensure(cnt / Log::kBlock + 1);
    }
    std::sort(all.begin(), all.end());
    out.latency_ticks.reserve(all.size());
    out.end_ticks.reserve(all.size());
    for (const auto& [end, start] : all) {
        out.latency_ticks.push_back(static_cast<int64_t>(end - start));
        out.end_ticks.push_back(end);
    }
    return out;
}

void Engine::async_stop() {
    if (!async_running_) return;
    stop_.store(true);
    for (int r = 0; r < async_requests_; ++r) {
        try {
            requests_[r].wait();
        } catch (...) {
        }
    }
    {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait_for(lk, std::chrono::seconds(30), [&] { return in_flight_.load() <= 0; });
    }
    for (int r = 0; r < async_requests_; ++r) {
        try {
            requests_[r].set_callback([](std::exception_ptr) {});
        } catch (...) {
        }
    }
    async_running_ = false;
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
