#include "pybind11.hpp"
#include "inferclock/clock.hpp"

namespace inferclock::bindings {

void register_clock(py::module_& m) {
    py::class_<Calibration>(m, "Calibration", "How the process clock was chosen and calibrated.")
        .def_property_readonly("source", [](const Calibration& c) { return to_string(c.source); })
        .def_readonly("source_reason", &Calibration::source_reason)
        .def_readonly("kernel_clocksource", &Calibration::kernel_clocksource)
        .def_readonly("frequency_hz", &Calibration::frequency_hz)
        .def_readonly("frequency_error_ppm", &Calibration::frequency_error_ppm)
        .def_readonly("invariant", &Calibration::invariant)
        .def_readonly("overhead_ns", &Calibration::overhead_ns)
        .def_readonly("resolution_ns", &Calibration::resolution_ns)
        .def_readonly("calibration_ms", &Calibration::calibration_ms);

    m.def("calibration", &process_clock, py::return_value_policy::reference,
          "The process-wide calibration (made on first use, about 0.1 s).");
    m.def(
        "calibrate",
        [](double window_s, const std::string& sysfs_root) {
            py::gil_scoped_release nogil;
            return calibrate(window_s, sysfs_root);
        },
        py::arg("window_s") = 0.1, py::arg("sysfs_root") = "/",
        "A fresh calibration over window_s seconds (does not change the process clock).");

    // Reads of the process clock's source. start()/stop() bracket a span the way the core does.
    m.def("now", [] { return now_ticks(process_clock().source); }, "Current ticks.");
    m.def("span_start", [] { return now_ticks(process_clock().source); });
    m.def("span_stop", [] {
        return process_clock().source == ClockSource::monotonic_raw
                   ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                   : cycleclock::stop();
    });
    m.def("monotonic_raw_ns", &cycleclock::monotonic_raw_ns, "CLOCK_MONOTONIC_RAW in ns.");
    m.def(
        "busy_wait_ns",
        [](int64_t ns, bool release_gil) {
            if (!release_gil) return busy_wait_ns(ns);
            py::gil_scoped_release nogil;
            busy_wait_ns(ns);
        },
        py::arg("ns"), py::arg("release_gil") = true,
        "Spin on CLOCK_MONOTONIC_RAW for ns nanoseconds, the GIL released unless release_gil "
        "is False (a reference for tests of whether other code releases it).");
    m.def(
        "busy_wait_timed",
        [](int64_t ns) {
            // The reference workload timed inside C++ with the process clock: no Python in the
            // span, so tests can compare the clock with CLOCK_MONOTONIC_RAW to the ns.
            const ClockSource s = process_clock().source;
            py::gil_scoped_release nogil;
            const uint64_t a = now_ticks(s);
            busy_wait_ns(ns);
            const uint64_t b = s == ClockSource::monotonic_raw
                                   ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                   : cycleclock::stop();
            return b - a;
        },
        py::arg("ns"), "Ticks taken by busy_wait_ns(ns), read with the process clock.");
    m.def(
        "read_cost_loop",
        [](int64_t n, const std::string& which) {
            // n back-to-back reads of the process clock in C++: total ticks / n is one read.
            const ClockSource s = process_clock().source;
            if (which != "start" && which != "stop")
                throw py::value_error("which must be 'start' or 'stop', got '" + which + "'");
            py::gil_scoped_release nogil;
            uint64_t sink = 0;
            const uint64_t a = now_ticks(s);
            if (s == ClockSource::monotonic_raw) {
                for (int64_t i = 0; i < n; ++i) sink += cycleclock::monotonic_raw_ns();
            } else if (which == "start") {
                for (int64_t i = 0; i < n; ++i) sink += cycleclock::start();
            } else {
                for (int64_t i = 0; i < n; ++i) sink += cycleclock::stop();
            }
            const uint64_t b = now_ticks(s);
            asm volatile("" ::"r"(sink));
            return b - a;
        },
        py::arg("n"), py::arg("which") = "stop",
        "Ticks for n back-to-back start() or stop() reads of the process clock.");
    m.def("counter_is_invariant", &counter_is_invariant);
}

}  // namespace inferclock::bindings
