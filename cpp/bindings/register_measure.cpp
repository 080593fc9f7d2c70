// The loop behind ic.measure(): calls a Python callable with one timestamp pair per call.
// It needs the GIL (it calls Python), so it lives here, the only place that knows Python.
#include "pybind11.hpp"
#include "inferclock/clock.hpp"

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

// Returns (calls completed, CPU changes seen, exception or None). On an exception the
// exception object itself comes back, traceback attached, so Python re-raises it unchanged.
template <class Reads>
py::tuple time_calls_impl(PyObject* fn, int64_t* out, int64_t count) {
    // Spans are contiguous: the read that ends call i starts call i+1, so each call costs one
    // counter read instead of two (the goal is < 1.5x a bare Python loop). The few instructions
    // of bookkeeping between calls (store, decref, counter) fall into the next span; they are
    // part of overhead_ns-sized noise, not of fn.
    int64_t done = 0;
    int64_t migrations = 0;
    uint32_t aux = 0;
    uint32_t prev_aux = 0;
    uint64_t t0 = Reads::stop(prev_aux);
    for (; done < count; ++done) {
        PyObject* r = PyObject_CallNoArgs(fn);
        const uint64_t t1 = Reads::stop(aux);
        if (r == nullptr) break;
        out[done] = static_cast<int64_t>(t1 - t0);
        t0 = t1;
        Py_DECREF(r);
        migrations += aux != prev_aux;
        prev_aux = aux;
        // Every 64 calls (a check costs a few ns): lets Ctrl-C stop a run of fast calls.
        if ((done & 63) == 63 && PyErr_CheckSignals() != 0) {
            ++done;
            break;
        }
    }
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

}  // namespace

void register_measure(py::module_& m) {
    m.def(
        "time_calls",
        [](py::object fn, py::array_t<int64_t, py::array::c_style> out, int64_t offset,
           int64_t count) {
            if (!PyCallable_Check(fn.ptr())) throw py::type_error("fn must be callable");
            if (offset < 0 || count < 0 || offset + count > out.size())
                throw py::value_error("time_calls: offset/count outside the buffer");
            int64_t* dst = out.mutable_data() + offset;
            if (process_clock().source == ClockSource::monotonic_raw)
                return time_calls_impl<RawReads>(fn.ptr(), dst, count);
            return cpu_has_rdpid() ? time_calls_impl<BoundaryReads>(fn.ptr(), dst, count)
                                   : time_calls_impl<CounterReads>(fn.ptr(), dst, count);
        },
        py::arg("fn"), py::arg("out"), py::arg("offset"), py::arg("count"),
        "Call fn() count times, storing each call's ticks in out[offset:offset+count].\n"
        "Returns (calls completed, CPU changes seen, exception raised by fn or None).\n"
        "Holds the GIL (fn is Python); checks for signals between calls, outside the span.");
}

}  // namespace inferclock::bindings
