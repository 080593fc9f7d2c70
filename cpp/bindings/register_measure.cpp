// The loop behind ic.measure(): calls a Python callable with one timestamp pair per call.
// It needs the GIL (it calls Python), so it lives here, the only place that knows Python.
#include "pybind11.hpp"
#include "inferclock/clock.hpp"
#include "inferclock/phases.hpp"

#include <optional>

namespace inferclock::bindings {

namespace {

struct CounterReads {
    // rdtscp waits for fn to finish before reading. No lfence after it: that would keep the
    // next call from starting a few cycles early, but costs 20 ns a call on these VMs (measured),
    // most of a bare Python call.
    static uint64_t stop(uint32_t& aux) { return cycleclock::stop(aux); }
};
#if defined(__x86_64__)
struct BoundaryReads {
    // Where the CPU has rdpid: an unordered rdtsc at the boundary between two contiguous
    // spans (see cycleclock::boundary) and the CPU number from rdpid. On the Xeon VM of
    // benchmarks/RESULTS.md this costs 17 ns a call against rdtscp's 30.
    static uint64_t stop(uint32_t& aux) {
        aux = cycleclock::rdpid();
        return cycleclock::boundary();
    }
};
#else
using BoundaryReads = CounterReads;
#endif
struct RawReads {
    static uint64_t stop(uint32_t& aux) {
        aux = 0;
        return static_cast<uint64_t>(cycleclock::monotonic_raw_ns());
    }
};

// What the loop does with a phase log. record: the log is this thread's active log, learns
// each call's number and end, and the loop stops after a call that left it needing a drain.
// watch: the log is active and learns the batch's first tick, nothing per call: the loop of a
// callable that has not used phases yet is the plain loop, and the log shows when it does.
enum class LogMode { none, watch, record };

// Returns (calls completed, CPU changes seen, exception or None). On an exception the
// exception object itself comes back, traceback attached, so Python re-raises it unchanged.
template <class Reads, LogMode kMode>
py::tuple time_calls_impl(PyObject* fn, int64_t* out, int64_t count, PhaseLog* log) {
    // Spans are contiguous: the read that ends call i starts call i+1, so each call costs one
    // counter read instead of two (the goal is < 1.5x a bare Python loop). The few instructions
    // of bookkeeping between calls (store, decref, counter) fall into the next span; they are
    // part of overhead_ns-sized noise, not of fn.
    int64_t done = 0;
    int64_t migrations = 0;
    uint32_t aux = 0;
    uint32_t prev_aux = 0;
    constexpr bool kRecord = kMode == LogMode::record;
    std::optional<ActivePhaseLog> active;
    if constexpr (kMode != LogMode::none) active.emplace(log);
    uint64_t t0 = Reads::stop(prev_aux);
    if constexpr (kMode != LogMode::none) log->start_batch(t0);
    for (; done < count; ++done) {
        if constexpr (kRecord) log->begin_call(static_cast<uint32_t>(done));
        PyObject* r = PyObject_CallNoArgs(fn);
        const uint64_t t1 = Reads::stop(aux);
        bool drain = false;
        if constexpr (kRecord) drain = log->end_call(t1);
        if (r == nullptr) break;
        out[done] = static_cast<int64_t>(t1 - t0);
        t0 = t1;
        Py_DECREF(r);
        migrations += aux != prev_aux;
        prev_aux = aux;
        if (drain) {  // always false unless recording: compiled away
            ++done;
            break;
        }
        // Every 64 calls (a check costs a few ns): lets Ctrl-C stop a run of fast calls.
        if ((done & 63) == 63 && PyErr_CheckSignals() != 0) {
            ++done;
            break;
        }
    }
    active.reset();
    py::object exc = py::none();
    if (PyErr_Occurred()) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb != nullptr) PyException_SetTraceback(value, tb);
        exc = py::reinterpret_steal<py::object>(value);
        Py_XDECREF(type);
        Py_XDECREF(tb);
    }
    return py::make_tuple(done, migrations, exc);
}

template <class Reads>
py::tuple time_calls_with(PyObject* fn, int64_t* out, int64_t count, PhaseLog* log, bool watch) {
    if (log == nullptr) return time_calls_impl<Reads, LogMode::none>(fn, out, count, nullptr);
    return watch ? time_calls_impl<Reads, LogMode::watch>(fn, out, count, log)
                 : time_calls_impl<Reads, LogMode::record>(fn, out, count, log);
}

}  // namespace

void register_measure(py::module_& m) {
    m.def(
        "time_calls",
        [](py::object fn, py::array_t<int64_t, py::array::c_style> out, int64_t offset,
           int64_t count, PhaseLog* log, bool watch) {
            if (!PyCallable_Check(fn.ptr())) throw py::type_error("fn must be callable");
            if (offset < 0 || count < 0 || offset + count > out.size())
                throw py::value_error("time_calls: offset/count outside the buffer");
            if (log && count > int64_t{UINT32_MAX})
                throw py::value_error("time_calls: count over 2**32 - 1 with a phase log");
            int64_t* dst = out.mutable_data() + offset;
            if (process_clock().source == ClockSource::monotonic_raw)
                return time_calls_with<RawReads>(fn.ptr(), dst, count, log, watch);
            return cpu_has_rdpid()
                       ? time_calls_with<BoundaryReads>(fn.ptr(), dst, count, log, watch)
                       : time_calls_with<CounterReads>(fn.ptr(), dst, count, log, watch);
        },
        py::arg("fn"), py::arg("out"), py::arg("offset"), py::arg("count"),
        py::arg("log") = nullptr, py::arg("watch") = false,
        "Call fn() count times, storing each call's ticks in out[offset:offset+count].\n"
        "Returns (calls completed, CPU changes seen, exception raised by fn or None).\n"
        "Holds the GIL (fn is Python); checks for signals between calls, outside the span.\n"
        "log: a PhaseLog that ic.phase/ic.mark inside fn record into, calls numbered from 0;\n"
        "the loop returns early (done < count, no exception) when it needs a drain.\n"
        "watch: the log is active but the loop is the plain one (no per-call work): its\n"
        "first_tick says whether, and when, fn used a phase; batch_start where calls began.");
}

}  // namespace inferclock::bindings
