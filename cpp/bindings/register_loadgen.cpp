// LoadgenSut for Python: the SUT handle LoadGen's StartTest takes, and how completions reach
// LoadGen: straight to mlperf::c::QuerySamplesComplete at an address found in the wheel's
// symbol table (no Python, no GIL), or through a Python callable (the GIL per completion).
#include "pybind11.hpp"

#include "inferclock/errors.hpp"
#include "inferclock/loadgen_sut.hpp"

namespace inferclock::bindings {

namespace {
using Direct = void (*)(mlperf_abi::QuerySampleResponse*, size_t);
}

void register_loadgen(py::module_& m) {
    py::class_<LoadgenSut>(m, "LoadgenSut",
                           "inferclock's engine as MLPerf LoadGen's system under test (C++).")
        .def(py::init([](Engine& engine, py::object complete, const std::string& name) {
                 CompleteFn fn;
                 if (py::isinstance<py::int_>(complete)) {
                     const auto address = complete.cast<uintptr_t>();
                     if (address == 0) throw ConfigError("LoadgenSut: complete address is 0");
                     fn = reinterpret_cast<Direct>(address);
                 } else if (PyCallable_Check(complete.ptr())) {
                     // One Python call per completion, from OpenVINO's callback thread.
                     auto held = std::make_shared<py::object>(complete);
                     fn = [held](mlperf_abi::QuerySampleResponse* r, size_t n) {
                         py::gil_scoped_acquire gil;
                         for (size_t k = 0; k < n; ++k) (*held)(r[k].id);
                     };
                 } else {
                     throw py::type_error(
                         "LoadgenSut: complete must be an address (int) or a callable(id)");
                 }
                 return std::make_unique<LoadgenSut>(engine, std::move(fn), name);
             }),
             py::arg("engine"), py::arg("complete"), py::arg("name") = "inferclock",
             py::keep_alive<1, 2>(),
             "complete: the address of mlperf::c::QuerySamplesComplete(responses, count) (an "
             "int) or a Python callable taking one response id.")
        .def_property_readonly("handle", &LoadgenSut::handle,
                               "The integer SUT handle LoadGen's StartTest takes.")
        .def(
            "begin",
            [](LoadgenSut& s) {
                py::gil_scoped_release nogil;
                s.begin();
            },
            "Hold the engine, run each request once (untimed), start the dispatcher.")
        .def(
            "finish",
            [](LoadgenSut& s) {
                py::gil_scoped_release nogil;
                s.finish();
            },
            "After StartTest: wait for every callback, release the engine; raises the first "
            "inference error.")
        .def(
            "issue",
            [](LoadgenSut& s, const std::vector<std::pair<uintptr_t, size_t>>& samples) {
                std::vector<mlperf_abi::QuerySample> q;
                for (const auto& [id, index] : samples) q.push_back({id, index});
                py::gil_scoped_release nogil;
                s.IssueQuery(q);
            },
            py::arg("samples"),
            "IssueQuery with (id, index) pairs, as LoadGen's thread calls it (for tests).")
        .def(
            "ticks",
            [](const LoadgenSut& s) {
                SampleTicks t = s.ticks();
                return py::make_tuple(to_numpy(std::move(t.issued)), to_numpy(std::move(t.started)),
                                      to_numpy(std::move(t.completed)));
            },
            "(issued, started, completed) process-clock ticks per sample, in issue order.")
        .def_property_readonly("issued", &LoadgenSut::issued)
        .def_property_readonly("issue_calls", &LoadgenSut::issue_calls)
        .def_property_readonly("max_queued", &LoadgenSut::max_queued)
        .def_property_readonly("dispatched", &LoadgenSut::dispatched)
        .def_property_readonly("complete_ns_total", &LoadgenSut::complete_ns_total)
        .def_property_readonly("name", &LoadgenSut::Name);
}

}  // namespace inferclock::bindings
