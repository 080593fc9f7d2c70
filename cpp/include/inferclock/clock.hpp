// The process-wide calibrated clock: which counter we read, its frequency and how well we know
// it, what one read costs. Timed loops read ticks with Clock::start()/stop() and convert later.
#pragma once

#include <cstdint>
#include <string>

#include "inferclock/cycleclock.hpp"

namespace inferclock {

enum class ClockSource { tsc, cntvct, monotonic_raw };

const char* to_string(ClockSource s);

struct Calibration {
    ClockSource source = ClockSource::monotonic_raw;
    std::string source_reason;       // why this source was chosen (or why the counter was not)
    std::string kernel_clocksource;  // /sys/.../current_clocksource, "" if unreadable
    double frequency_hz = 1e9;
    double frequency_error_ppm = 0;  // half-width bound from the calibration brackets
    bool invariant = false;          // counter rate independent of P/C-states
    double overhead_ns = 0;          // median cost of a back-to-back start()/stop() pair
    double resolution_ns = 0;        // smallest step one can observe between two reads
    double calibration_ms = 0;       // length of the calibration window
};

// Calibrate against CLOCK_MONOTONIC_RAW over `window_s` seconds (narrowest of many bracketed
// reads at each end). Chooses the source; `sysfs_root` is where the clocksource file is read.
Calibration calibrate(double window_s = 0.1, const std::string& sysfs_root = "/");

// The calibration made once per process, lazily and thread-safely.
const Calibration& process_clock();

// Ticks of the chosen source. The hot loops are templated on the source instead of calling
// these, so that no branch lives inside them.
inline uint64_t now_ticks(ClockSource s) {
    return s == ClockSource::monotonic_raw ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                           : cycleclock::start();
}

// The read that ends a span: waits for the timed work to finish (rdtscp), see cycleclock.hpp.
inline uint64_t stop_ticks(ClockSource s) {
    return s == ClockSource::monotonic_raw ? static_cast<uint64_t>(cycleclock::monotonic_raw_ns())
                                           : cycleclock::stop();
}

// Spin on CLOCK_MONOTONIC_RAW for `ns` nanoseconds (a reference workload for tests).
void busy_wait_ns(int64_t ns);

// CPUID 0x80000007 EDX bit 8 on x86-64; true on arm64 (the generic timer is architecturally
// constant-rate). Executes CPUID: never call it on a timed path.
bool counter_is_invariant();

// CPUID leaf 7 ECX bit 22: the CPU has rdpid (its number in a few ns, where rdtscp's aux costs
// a serializing read). False off x86-64. Executes CPUID once, then answers from a cache.
bool cpu_has_rdpid();

}  // namespace inferclock
