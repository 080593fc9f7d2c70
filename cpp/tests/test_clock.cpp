// The calibrated clock: a sane calibration, reads that never go backwards, and ticks that
// convert to the time CLOCK_MONOTONIC_RAW saw.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include "check.hpp"
#include "inferclock/clock.hpp"

using namespace inferclock;

TEST(clock_calibration_is_sane) {
    const Calibration c = calibrate(0.05);
    CHECK(c.frequency_hz > 1e6 && c.frequency_hz < 1e11);
    CHECK(c.frequency_error_ppm >= 0 && c.frequency_error_ppm < 1e4);
    CHECK(c.overhead_ns > 0 && c.overhead_ns < 1e5);
    CHECK(c.resolution_ns > 0 && c.resolution_ns < 1e5);
    CHECK(!c.source_reason.empty());
    if (c.source != ClockSource::monotonic_raw) CHECK(c.calibration_ms >= 45);
    // The process clock is calibrated once and stays the same object.
    CHECK(&process_clock() == &process_clock());
    CHECK(std::string(to_string(process_clock().source)) != "?");
}

TEST(clock_reads_are_monotonic) {
    const ClockSource s = process_clock().source;
    uint64_t prev = now_ticks(s);
    int backwards = 0;
    for (int i = 0; i < 200000; ++i) {
        const uint64_t t = (i & 1) ? stop_ticks(s) : now_ticks(s);
        backwards += t < prev;
        prev = t;
    }
    CHECK_EQ(backwards, 0);
}

TEST(clock_ticks_convert_to_monotonic_raw_time) {
    const Calibration& c = process_clock();
    const int64_t raw0 = cycleclock::monotonic_raw_ns();
    const uint64_t t0 = now_ticks(c.source);
    busy_wait_ns(30000000);
    const uint64_t t1 = stop_ticks(c.source);
    const int64_t raw1 = cycleclock::monotonic_raw_ns();
    const double ticks_ns = static_cast<double>(t1 - t0) * 1e9 / c.frequency_hz;
    const double raw_ns = static_cast<double>(raw1 - raw0);
    CHECK(std::fabs(ticks_ns / raw_ns - 1.0) < 0.01);
}

// Without a TSC the kernel does not trust, the calibration says why and falls back.
TEST(clock_falls_back_when_the_kernel_distrusts_the_tsc) {
    char tmpl[] = "/tmp/inferclock-sysfs-XXXXXX";
    const std::string root = ::mkdtemp(tmpl);
    std::string dir = root;
    for (const char* part : {"/sys", "/devices", "/system", "/clocksource", "/clocksource0"}) {
        dir += part;
        ::mkdir(dir.c_str(), 0755);
    }
    std::ofstream(dir + "/current_clocksource") << "hpet\n";
    const Calibration c = calibrate(0.01, root);
    CHECK_EQ(c.kernel_clocksource, std::string("hpet"));
#if defined(__x86_64__)
    CHECK(c.source == ClockSource::monotonic_raw);
    CHECK(c.source_reason.find("hpet") != std::string::npos ||
          c.source_reason.find("not invariant") != std::string::npos);
    CHECK_EQ(c.frequency_hz, 1e9);
#endif
    std::remove((dir + "/current_clocksource").c_str());
}
