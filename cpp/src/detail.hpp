// Helpers private to the core's engine files: OpenVINO messages on one line, list and shape
// text, a stopwatch on the process clock for the start-up phases, and wrapping a caught
// exception into a typed error.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "inferclock/clock.hpp"
#include "inferclock/errors.hpp"

namespace inferclock::detail {

// OpenVINO messages repeat a long "Check ... failed at src/..." preamble; keep them whole
// (they name the real cause) but on one line.
inline std::string ov_message(const std::exception& e) {
    std::string s = e.what();
    std::replace(s.begin(), s.end(), '\n', ' ');
    if (s.size() > 1500) s = s.substr(0, 1500) + "...";
    return s;
}

inline std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
    return out;
}

inline std::string shape_text(const std::vector<int64_t>& s) {
    std::string o = "[";
    for (size_t k = 0; k < s.size(); ++k) o += (k ? "," : "") + std::to_string(s[k]);
    return o + "]";
}

// The serving loops' request states (engine_serve.cpp, engine_multistream.cpp): a request's
// serve_query_ slot holds its query (>= 0), kIdle, or kWarm (the untimed first run).
constexpr int64_t kIdle = -1;
constexpr int64_t kWarm = -2;
// Longest single sleep of an issuer: it looks at Ctrl-C and request_stop() this often.
constexpr double kSliceNs = 20e6;

inline double ticks_to_ms(uint64_t ticks) {
    return static_cast<double>(ticks) * 1e3 / process_clock().frequency_hz;
}

// The two ways the loops read the process clock, chosen once so the loops hold no branch on it.
struct CounterClock {
    static uint64_t start() { return cycleclock::start(); }
    static uint64_t stop() { return cycleclock::stop(); }
};
struct RawClock {
    static uint64_t start() { return static_cast<uint64_t>(cycleclock::monotonic_raw_ns()); }
    static uint64_t stop() { return static_cast<uint64_t>(cycleclock::monotonic_raw_ns()); }
};

struct Stopwatch {
    ClockSource s;
    uint64_t t0;
    explicit Stopwatch(ClockSource src) : s(src), t0(now_ticks(src)) {}
    double ms() const { return ticks_to_ms(stop_ticks(s) - t0); }
};

// Our typed errors pass through; anything else (OpenVINO's) becomes a DeviceError with `what`
// in front of its message.
inline std::exception_ptr as_device_error(std::exception_ptr e, const std::string& what) {
    try {
        std::rethrow_exception(e);
    } catch (const Error&) {
        return std::current_exception();
    } catch (const std::exception& x) {
        return std::make_exception_ptr(DeviceError(what + ": " + ov_message(x)));
    } catch (...) {
        return std::make_exception_ptr(DeviceError(what + ": unknown exception"));
    }
}

}  // namespace inferclock::detail
