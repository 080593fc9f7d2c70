#include "inferclock/clock.hpp"

#include <algorithm>
#include <fstream>
#include <mutex>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace inferclock {

const char* to_string(ClockSource s) {
    switch (s) {
        case ClockSource::tsc:
            return "tsc";
        case ClockSource::cntvct:
            return "cntvct";
        case ClockSource::monotonic_raw:
            return "monotonic_raw";
    }
    return "?";
}

bool counter_is_invariant() {
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid_max(0x80000000, nullptr) < 0x80000007) return false;
    __cpuid(0x80000007, a, b, c, d);
    return (d >> 8) & 1u;
#elif defined(__aarch64__)
    return true;
#else
    return false;
#endif
}

bool cpu_has_rdpid() {
#if defined(__x86_64__)
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (__get_cpuid_max(0, nullptr) < 7) return false;
        __cpuid_count(7, 0, a, b, c, d);
        return ((c >> 22) & 1u) != 0;
    }();
    return has;
#else
    return false;
#endif
}

void busy_wait_ns(int64_t ns) {
    const int64_t end = cycleclock::monotonic_raw_ns() + ns;
    while (cycleclock::monotonic_raw_ns() < end) {
    }
}

namespace {

std::string read_first_line(const std::string& path) {
    std::ifstream f(path);
    std::string line;
    if (f) std::getline(f, line);
    return line;
}

// One reference point: the counter read between two raw-clock reads. The narrowest bracket of
// many bounds how far the counter read can be from the midpoint of the two raw reads.
struct Bracket {
    uint64_t ticks = 0;
    double mid_ns = 0;
    int64_t width_ns = INT64_MAX;
};

template <class Read>
Bracket narrowest_bracket(Read read, int tries) {
    Bracket best;
    for (int i = 0; i < tries; ++i) {
        const int64_t a = cycleclock::monotonic_raw_ns();
        const uint64_t t = read();
        const int64_t b = cycleclock::monotonic_raw_ns();
        if (b - a < best.width_ns) {
            best.width_ns = b - a;
            best.ticks = t;
            best.mid_ns = 0.5 * static_cast<double>(a) + 0.5 * static_cast<double>(b);
        }
    }
    return best;
}

template <class Start, class Stop>
void measure_read_cost(Calibration& cal, Start start, Stop stop) {
    constexpr int kPairs = 20001;
    std::vector<uint64_t> d(kPairs);
    for (int i = 0; i < kPairs; ++i) {
        const uint64_t a = start();
        const uint64_t b = stop();
        d[i] = b - a;
    }
    std::nth_element(d.begin(), d.begin() + kPairs / 2, d.end());
    const double ns_per_tick = 1e9 / cal.frequency_hz;
    cal.overhead_ns = static_cast<double>(d[kPairs / 2]) * ns_per_tick;
    // Resolution: the smallest non-zero step seen between consecutive reads, never below one tick.
    uint64_t min_step = UINT64_MAX;
    uint64_t prev = start();
    for (int i = 0; i < kPairs; ++i) {
        const uint64_t now = start();
        if (now != prev) min_step = std::min(min_step, now - prev);
        prev = now;
    }
    cal.resolution_ns = std::max(ns_per_tick, static_cast<double>(min_step) * ns_per_tick);
}

}  // namespace

Calibration calibrate(double window_s, const std::string& sysfs_root) {
    Calibration cal;
    cal.invariant = counter_is_invariant();
    std::string root = sysfs_root.empty() ? "/" : sysfs_root;
    if (root.back() != '/') root += '/';
    cal.kernel_clocksource =
        read_first_line(root + "sys/devices/system/clocksource/clocksource0/current_clocksource");

#if defined(__x86_64__)
    if (!cal.invariant) {
        cal.source_reason =
            "the TSC is not invariant (CPUID 0x80000007 EDX bit 8 clear): its rate may change "
            "with power states";
    } else if (cal.kernel_clocksource != "tsc") {
        cal.source_reason =
            "the kernel does not trust the TSC (its clocksource is '" +
            (cal.kernel_clocksource.empty() ? std::string("unknown") : cal.kernel_clocksource) +
            "', not 'tsc')";
    } else {
        cal.source = ClockSource::tsc;
        cal.source_reason =
            "invariant TSC, and the kernel uses it as its clocksource; read with lfence;rdtsc "
            "to start and rdtscp to stop";
    }
#elif defined(__aarch64__)
    cal.source = ClockSource::cntvct;
    cal.source_reason = "arm64 generic timer (cntvct_el0 after isb), frequency from cntfrq_el0";
#else
    cal.source_reason = "no trusted cycle counter on this architecture";
#endif

    if (cal.source == ClockSource::monotonic_raw) {
        cal.frequency_hz = 1e9;
        cal.frequency_error_ppm = 0;
        cal.calibration_ms = 0;
        measure_read_cost(
            cal, [] { return static_cast<uint64_t>(cycleclock::monotonic_raw_ns()); },
            [] { return static_cast<uint64_t>(cycleclock::monotonic_raw_ns()); });
        return cal;
    }

    auto read = [] { return cycleclock::start(); };
    // Warm the code paths and the vDSO page before the first bracket.
    narrowest_bracket(read, 200);
    const Bracket b0 = narrowest_bracket(read, 2000);
    const int64_t until = static_cast<int64_t>(b0.mid_ns + window_s * 1e9);
    // Sleep most of the window (the counter is invariant), spin the rest to land on time.
    while (cycleclock::monotonic_raw_ns() < until - 2000000) {
        timespec req{0, 1000000};
        nanosleep(&req, nullptr);
    }
    while (cycleclock::monotonic_raw_ns() < until) {
    }
    const Bracket b1 = narrowest_bracket(read, 2000);
    const double elapsed_ns = b1.mid_ns - b0.mid_ns;
    const double ticks = static_cast<double>(b1.ticks - b0.ticks);
    cal.frequency_hz = ticks * 1e9 / elapsed_ns;
    // Each reference point is known to within half its bracket.
    cal.frequency_error_ppm =
        0.5 * static_cast<double>(b0.width_ns + b1.width_ns) / elapsed_ns * 1e6;
    cal.calibration_ms = elapsed_ns / 1e6;
#if defined(__aarch64__)
    // The architecture publishes the nominal rate; keep the measured one when they disagree
    // by more than the measurement's own error, and say so.
    const double nominal = static_cast<double>(cycleclock::cntfrq());
    if (nominal > 0 &&
        std::abs(nominal - cal.frequency_hz) / nominal * 1e6 <= cal.frequency_error_ppm) {
        cal.frequency_hz = nominal;
    }
#endif
    measure_read_cost(cal, [] { return cycleclock::start(); }, [] { return cycleclock::stop(); });
    return cal;
}

const Calibration& process_clock() {
    static std::once_flag once;
    static Calibration cal;
    std::call_once(once, [] { cal = calibrate(); });
    return cal;
}

}  // namespace inferclock
