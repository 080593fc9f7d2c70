#include "pybind11.hpp"

namespace icb = inferclock::bindings;

PYBIND11_MODULE(_core, m) {
    m.doc() = "inferclock's C++ core (private: import names from inferclock instead)";
    icb::register_errors(m);
    icb::register_clock(m);
    icb::register_phases(m);  // before measure: time_calls takes a PhaseLog
    icb::register_measure(m);
    icb::register_engine(m);
    icb::register_topology(m);
    icb::register_loadgen(m);
}
