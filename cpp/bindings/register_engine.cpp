// Python face of the OpenVINO engine. Arguments are converted first, then the GIL is released
// for everything OpenVINO does (construction, loops, collection).
#include "pybind11.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/interrupt.hpp"

#include <csignal>
#include <cstring>
#include <memory>

namespace inferclock::bindings {

namespace {

std::string element_name(const py::dtype& dt) {
    switch (dt.kind()) {
        case 'f':
            if (dt.itemsize() == 4) return "f32";
            if (dt.itemsize() == 2) return "f16";
            if (dt.itemsize() == 8) return "f64";
            break;
        case 'u':
            return "u" + std::to_string(dt.itemsize() * 8);
        case 'i':
            return "i" + std::to_string(dt.itemsize() * 8);
        case 'b':
            return "boolean";
    }
    return std::string(py::str(dt));
}

py::dict port_dict(const PortInfo& p) {
    py::dict d;
    d["name"] = p.name;
    d["element_type"] = p.element_type;
    d["shape"] = p.shape;
    d["partial_shape"] = p.partial_shape;
    return d;
}

// A run's interrupt scope in this thread (InterruptScope): the generation its loop calls compare
// with, so a Ctrl-C between two of its chunks still stops the next one.
thread_local int t_scope_depth = 0;
thread_local uint64_t t_scope_since = 0;

// Whether a Ctrl-C should only end the loop (the main thread's loop under Python's default
// handler, which would only raise KeyboardInterrupt): the caller gets a partial result marked
// interrupted and no KeyboardInterrupt is left pending. Elsewhere it also reaches the previous
// handler: a user's handler, or Python's, which raises KeyboardInterrupt in the main thread
// while loops in other threads end with their partial results.
bool swallows_sigint() {
    py::module_ signal = py::module_::import("signal");
    py::module_ threading = py::module_::import("threading");
    return threading.attr("current_thread")().is(threading.attr("main_thread")()) &&
           signal.attr("getsignal")(SIGINT).is(signal.attr("default_int_handler"));
}

// SIGINT while a loop runs without the GIL (interrupt.hpp): every loop running then stops, in
// every thread. Other signals are left alone: their handlers run when the call returns, and
// their exceptions propagate.
class SigintWatch {
   public:
    SigintWatch()
        : watch_(swallows_sigint()),
          since_(t_scope_depth > 0 ? t_scope_since : interrupt::generation()) {}
    uint64_t since() const { return since_; }
    // Whether SIGINT arrived since the call (or its run's scope) began.
    bool interrupted() const { return interrupt::since(since_); }

   private:
    interrupt::Watch watch_;
    uint64_t since_;
};

// Python's `with _core.InterruptScope():` around a whole run in one thread: SIGINT is watched
// from its start to its end, chunks included, and every loop call inside compares with the
// generation at its start.
class InterruptScope {
   public:
    void enter() {
        if (t_scope_depth++ == 0) t_scope_since = interrupt::generation();
        since_ = t_scope_since;
        watch_ = std::make_unique<interrupt::Watch>(swallows_sigint());
    }
    void exit() {
        watch_.reset();
        --t_scope_depth;
    }
    bool interrupted() const { return interrupt::since(since_); }

   private:
    std::unique_ptr<interrupt::Watch> watch_;
    uint64_t since_ = 0;
};

}  // namespace

void register_engine(py::module_& m) {
    m.def("available_devices", &available_devices, "Devices OpenVINO lists (ov::Core).");
    m.def("check_device", &check_device, py::arg("device"),
          "Raise DeviceError when a device string names a device that is not present.");
    m.def("register_plugin", &register_plugin, py::arg("library_path"), py::arg("device_name"),
          "Register an external OpenVINO plugin library under a device name.");
    m.def("register_plugins_xml", &register_plugins_xml, py::arg("xml_path"),
          "Register OpenVINO plugins from a plugins XML file.");
    m.def("openvino_version", [] {
        const auto v = ov::get_openvino_version();
        return std::string(v.buildNumber);
    });
    m.def("interrupt_generation", &interrupt::generation,
          "SIGINTs seen while a loop watched for them, since the process began.");
    m.def("check_not_forked", &check_not_forked,
          "ConfigError when this process was forked after OpenVINO was used in its parent.");
    m.def("forked_from", &forked_from,
          "The pid this process was forked from after OpenVINO was used there; 0 if not.");
    py::class_<InterruptScope>(m, "InterruptScope",
                               "with InterruptScope(): a run's loops in this thread stop at "
                               "any Ctrl-C from its start, between their chunks too.")
        .def(py::init<>())
        .def("__enter__",
             [](InterruptScope& s) -> InterruptScope& {
                 s.enter();
                 return s;
             },
             py::return_value_policy::reference)
        .def("__exit__",
             [](InterruptScope& s, const py::object&, const py::object&, const py::object&) {
                 s.exit();
                 return false;
             })
        .def_property_readonly("interrupted", &InterruptScope::interrupted);

    py::class_<Engine>(m, "Engine", "A compiled model with its requests and inputs, ready to time.")
        .def(py::init([](const std::string& model_path, const std::string& device,
                         int64_t batch_size,
                         const std::map<std::string, std::vector<int64_t>>& shapes,
                         const std::map<std::string, std::string>& properties,
                         const std::string& cache_dir, int requests, int input_sets, uint64_t seed,
                         size_t completion_capacity) {
                 EngineOptions o;
                 o.model_path = model_path;
                 o.device = device;
                 o.batch_size = batch_size;
                 o.shapes = shapes;
                 o.properties = properties;
                 o.cache_dir = cache_dir;
                 o.requests = requests;
                 o.input_sets = input_sets;
                 o.seed = seed;
                 o.completion_capacity = completion_capacity;
                 py::gil_scoped_release nogil;
                 return std::make_unique<Engine>(std::move(o));
             }),
             py::arg("model_path"), py::arg("device") = "CPU", py::arg("batch_size") = 1,
             py::arg("shapes") = std::map<std::string, std::vector<int64_t>>{},
             py::arg("properties") = std::map<std::string, std::string>{},
             py::arg("cache_dir") = "", py::arg("requests") = 0, py::arg("input_sets") = 4,
             py::arg("seed") = 0,
             py::arg("completion_capacity") = EngineOptions{}.completion_capacity,
             "Read, reshape, compile (each timed), create requests, fill seeded random inputs "
             "and run the first inference. GIL released throughout.")
        .def_property_readonly("init_times",
                               [](const Engine& e) {
                                   const auto& t = e.init_times();
                                   py::dict d;
                                   d["read_ms"] = t.read_ms;
                                   d["reshape_ms"] = t.reshape_ms;
                                   d["compile_ms"] = t.compile_ms;
                                   d["first_infer_ms"] = t.first_infer_ms;
                                   d["cache"] = t.cache;
                                   return d;
                               })
        .def_property_readonly("inputs",
                               [](const Engine& e) {
                                   py::list l;
                                   for (const auto& p : e.inputs()) l.append(port_dict(p));
                                   return l;
                               })
        .def_property_readonly("outputs",
                               [](const Engine& e) {
                                   py::list l;
                                   for (const auto& p : e.outputs()) l.append(port_dict(p));
                                   return l;
                               })
        .def_property_readonly("num_requests", &Engine::num_requests)
        .def_property_readonly("input_sets", &Engine::input_sets)
        .def_property_readonly("batch_size", &Engine::batch_size)
        .def(
            "set_input",
            [](Engine& e, int set, const std::string& name, const py::array& arr) {
                const std::string et = element_name(arr.dtype());
                std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
                py::array c = py::array::ensure(arr, py::array::c_style);
                if (!c) throw py::value_error("could not make a contiguous copy of the input");
                e.set_input(set, name, et, shape, c.data(), static_cast<size_t>(c.nbytes()));
            },
            py::arg("set"), py::arg("name"), py::arg("array"),
            "Copy a numpy array into input set `set` (shape and dtype checked).")
        .def(
            "input_array",
            [](const Engine& e, int set, const std::string& name) {
                const ov::Tensor& t = e.input_tensor(set, name);
                static const std::map<std::string, const char*> np_types{
                    {"f32", "float32"}, {"f64", "float64"}, {"f16", "float16"},
                    {"u8", "uint8"},    {"i8", "int8"},     {"i32", "int32"},
                    {"i64", "int64"},   {"u16", "uint16"},  {"i16", "int16"},
                    {"u32", "uint32"},  {"u64", "uint64"},  {"boolean", "bool"}};
                const auto it = np_types.find(t.get_element_type().get_type_name());
                if (it == np_types.end())
                    throw py::type_error("no numpy type for element type " +
                                         t.get_element_type().get_type_name());
                std::vector<py::ssize_t> shape(t.get_shape().begin(), t.get_shape().end());
                py::array out(py::dtype(it->second), shape);
                std::memcpy(out.mutable_data(), t.data(), t.get_byte_size());
                return out;
            },
            py::arg("set"), py::arg("name"), "A copy of an input set's tensor (for inspection).")
        .def(
            "first_inference",
            [](Engine& e) {
                py::gil_scoped_release nogil;
                return e.first_inference();
            },
            "Run one inference and return its time in ms.")
        .def(
            "run_sync",
            [](Engine& e, py::array_t<int64_t, py::array::c_style> out, int64_t offset,
               int64_t count) {
                if (offset < 0 || count < 0 || offset + count > out.size())
                    throw py::value_error("run_sync: offset/count outside the buffer");
                int64_t* dst = out.mutable_data() + offset;
                SyncRun run;
                bool interrupted;
                {
                    SigintWatch watch;
                    {
                        py::gil_scoped_release nogil;
                        run = e.run_sync(dst, count, watch.since());
                    }
                    interrupted = watch.interrupted();
                }
                if (run.error) raise_with(run.error, {{"done", py::int_(run.done)}});
                return py::make_tuple(run.done, interrupted);
            },
            py::arg("out"), py::arg("offset"), py::arg("count"),
            "Latency loop: up to count sync inferences, ticks into out[offset:]. GIL released "
            "exactly around the loop. Returns (done, interrupted by Ctrl-C). When an inference "
            "fails, raises the typed error (DeviceError...) with .done: the ticks written to "
            "out[offset:] before it.")
        .def(
            "async_start",
            [](Engine& e) {
                py::gil_scoped_release nogil;
                e.async_start();
            },
            "Start every request; callbacks restart them until async_stop().")
        .def(
            "async_collect",
            [](Engine& e, uint64_t n, double timeout_s) {
                AsyncBatch b;
                bool interrupted;
                {
                    SigintWatch watch;
                    {
                        py::gil_scoped_release nogil;
                        b = e.async_collect(n, timeout_s, watch.since());
                    }
                    interrupted = watch.interrupted();
                }
                py::object lat = to_numpy(std::move(b.latency_ticks));
                py::object end = to_numpy(std::move(b.end_ticks));
                if (b.error) raise_with(b.error, {{"latency_ticks", lat}, {"end_ticks", end}});
                return py::make_tuple(lat, end, interrupted);
            },
            py::arg("n"), py::arg("timeout_s"),
            "Wait for n more completions (or timeout); returns (latency ticks, end ticks, "
            "interrupted) of every completion since the last call, in completion order. When "
            "an inference fails, raises the typed error with .latency_ticks and .end_ticks: "
            "the completions collected before it.")
        .def(
            "async_stop",
            [](Engine& e) {
                py::gil_scoped_release nogil;
                e.async_stop();
            },
            "Stop restarting requests and wait until no callback can touch the engine.")
        .def(
            "serve",
            [](Engine& e, py::array_t<double, py::array::c_style> offsets_ns,
               py::array_t<uint64_t, py::array::c_style> due,
               py::array_t<uint64_t, py::array::c_style> issued,
               py::array_t<uint64_t, py::array::c_style> started,
               py::array_t<uint64_t, py::array::c_style> completed, const std::string& policy,
               int64_t max_outstanding, double spin_ns, int nice) {
                const py::ssize_t n = offsets_ns.size();
                for (const auto* a : {&due, &issued, &started, &completed})
                    if (a->size() != n)
                        throw py::value_error("serve: every tick array needs one slot per query");
                if (policy != "queue" && policy != "skip")
                    throw py::value_error("serve: policy must be 'queue' or 'skip'");
                ServeTicks t;
                t.offsets_ns = offsets_ns.data();
                t.due = due.mutable_data();
                t.issued = issued.mutable_data();
                t.started = started.mutable_data();
                t.completed = completed.mutable_data();
                t.n = n;
                for (uint64_t* a : {t.due, t.issued, t.started, t.completed})
                    std::fill(a, a + n, uint64_t{0});
                ServeOptions o;
                o.policy = policy == "skip" ? ServePolicy::skip : ServePolicy::queue;
                o.max_outstanding = max_outstanding;
                o.spin_ns = spin_ns;
                o.nice = nice;
                ServeRun run;
                bool interrupted;
                {
                    SigintWatch watch;
                    {
                        py::gil_scoped_release nogil;
                        run = e.serve(t, o, watch.since());
                    }
                    interrupted = watch.interrupted();
                }
                py::dict d;
                d["start_tick"] = run.start_tick;
                d["taken"] = run.taken;
                d["skipped"] = run.skipped;
                d["max_outstanding"] = run.max_outstanding;
                d["runaway"] = run.runaway;
                d["stopped"] = run.stopped;
                d["interrupted"] = interrupted;
                d["nice"] = run.nice;
                if (run.error) raise_with(run.error, {{"done", py::int_(run.taken)}});
                return d;
            },
            py::arg("offsets_ns"), py::arg("due"), py::arg("issued"), py::arg("started"),
            py::arg("completed"), py::arg("policy") = "queue", py::arg("max_outstanding") = 0,
            py::arg("spin_ns") = 50e3, py::arg("nice") = 0,
            "Server / MultiStream: an issuer thread takes query i up at offsets_ns[i] after the "
            "start and starts it on an idle request (policy 'queue': FIFO while all are busy; "
            "'skip': skipped). Fills the four tick arrays (0: never reached) and returns a dict: "
            "start_tick, taken, skipped, max_outstanding, runaway (max_outstanding, LoadGen's "
            "max_async_queries, cut the schedule: the first `taken` queries ran), stopped, "
            "interrupted, nice (the issuer thread's nice value, read back; a negative `nice` "
            "asks for that value, 0 leaves it). GIL released; a failed inference raises its "
            "typed error with .done.")
        .def(
            "multistream",
            [](Engine& e, int64_t samples_per_query, int64_t min_queries, double min_duration_ns,
               int64_t max_queries, int nice) {
                MultiStreamOptions o;
                o.samples_per_query = samples_per_query;
                o.min_queries = min_queries;
                o.min_duration_ns = min_duration_ns;
                o.max_queries = max_queries;
                o.nice = nice;
                MultiStreamRun run;
                bool interrupted;
                {
                    SigintWatch watch;
                    {
                        py::gil_scoped_release nogil;
                        run = e.multistream(o, watch.since());
                    }
                    interrupted = watch.interrupted();
                }
                if (run.error)
                    raise_with(run.error, {{"done", py::int_(run.issued.size())}});
                py::dict d;
                d["start_tick"] = run.start_tick;
                d["issued"] = to_numpy(std::move(run.issued));
                d["started"] = to_numpy(std::move(run.started));
                d["completed"] = to_numpy(std::move(run.completed));
                d["stopped"] = run.stopped;
                d["capped"] = run.capped;
                d["interrupted"] = interrupted;
                d["nice"] = run.nice;
                return d;
            },
            py::arg("samples_per_query") = 8, py::arg("min_queries") = 1,
            py::arg("min_duration_ns") = 0.0, py::arg("max_queries") = 1 << 20,
            py::arg("nice") = 0,
            "MultiStream as LoadGen 6.0: each query of samples_per_query samples (one infer "
            "request each) is issued when the previous one completed, until min_queries were "
            "issued and min_duration_ns passed (or max_queries: capped). Returns a dict: "
            "start_tick, issued (per query), started and completed (per sample, query-major), "
            "stopped, capped, interrupted, nice. Only whole queries are kept. GIL released; a "
            "failed inference raises its typed error with .done.")
        .def_property_readonly("async_stalls", &Engine::async_stalls,
                               "Times a request waited on a full completion ring since "
                               "async_start (it is not running meanwhile).")
        .def_property_readonly("async_lost", &Engine::async_lost,
                               "Completions since async_start that OpenVINO finished without "
                               "calling back (untimed; the request was restarted).")
        .def_property_readonly(
            "async_lost_ticks",
            [](const Engine& e) { return to_numpy(std::vector<uint64_t>(e.async_lost_ticks())); },
            "When the collector took each lost completion back (process-clock ticks, "
            "ascending; at or after the completion).")
        .def("_drop_completions", &Engine::drop_completions, py::arg("count"), py::arg("every") = 1,
             "Fault injection, for tests: of the next throughput-loop callbacks, one in every "
             "`every` returns as if never called, `count` times (lost completions, taken back "
             "by the collector). 0 disarms.")
        .def("_busy_starts", &Engine::busy_starts, py::arg("count"),
             "Fault injection, for tests: the throughput loop's next `count` starts are refused "
             "with OpenVINO's own 'Infer Request is busy' (waited out, never an error). 0 "
             "disarms.")
        .def_property_readonly("async_busy_waits", &Engine::async_busy_waits,
                               "Starts OpenVINO refused as busy since async_start (each "
                               "waited for the request's release and started again).")
        .def_property_readonly("async_start_tick", &Engine::async_start_tick)
        .def("request_stop", &Engine::request_stop)
        .def("clear_stop", &Engine::clear_stop)
        .def("config", &Engine::config, "Properties of the compiled model, as strings.")
        .def("runtime_ops", &Engine::runtime_ops,
             "The executed graph: per op its name, type and rt_info strings.");
}

}  // namespace inferclock::bindings
