// The loop behind ic.measure(): calls a Python callable with one timestamp pair per call.
// It needs the GIL (it calls Python), so it lives here, the only place that knows Python.
#include "pybind11.hpp"
#include "inferclock/clock.hpp"

namespace inferclock::bindings {

namespace {

struct CounterReads {
    static uint64_t start() { return cycleclock::start(); }
    static uint64_t stop(uint32_t& aux) { return cycleclock::stop(aux); }
};
struct RawReads {
    static uint64_t start() { return static_cast<uint64_t>(cycleclock::monotonic_raw_ns()); }
    static uint64_t stop(uint32_t& aux) {
        aux = 0;
        return static_cast<uint64_t>(cycleclock::monotonic_raw_ns());
    }
};

// Returns (calls completed, CPU changes seen, exception or None). On an exception the
// exception object itself comes back, traceback attached, so Python re-raises it unchanged.
template <class Reads>
py::tuple time_calls_impl(PyObject* fn, int64_t* out, int64_t count) {
    int64_t done = 0;
    int64_t migrations = 0;
    uint32_t aux = 0;
    uint32_t prev_aux = 0;
    Reads::stop(prev_aux);
    for (; done < count; ++done) {
        const uint64_t t0 = Reads::start();
        PyObject* r = PyObject_CallNoArgs(fn);
        const uint64_t t1 = Reads::stop(aux);
        if (r == nullptr) break;
        Py_DECREF(r);
        out[done] = static_cast<int64_t>(t1 - t0);
        migrations += aux != prev_aux;
        prev_aux = aux;
        // Outside the span: lets Ctrl-C stop a long run of fast calls promptly.
        if (PyErr_CheckSignals() != 0) {
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
            return process_clock().source == ClockSource::monotonic_raw
                       ? time_calls_impl<RawReads>(fn.ptr(), dst, count)
                       : time_calls_impl<CounterReads>(fn.ptr(), dst, count);
        },
        py::arg("fn"), py::arg("out"), py::arg("offset"), py::arg("count"),
        "Call fn() count times, storing each call's ticks in out[offset:offset+count].\n"
        "Returns (calls completed, CPU changes seen, exception raised by fn or None).\n"
        "Holds the GIL (fn is Python); checks for signals between calls, outside the span.");
}

}  // namespace inferclock::bindings
