// Outside scheduling of the engine's async requests (engine.hpp, RequestDriver): a driver such
// as the LoadGen SUT (loadgen_sut.cpp) decides when each request starts, and hears each
// completion from the engine's own callback. The engine stays held (its busy flag) from
// drive_begin to drive_end, so no other loop can run meanwhile.
#include "detail.hpp"
#include "inferclock/engine.hpp"
#include "inferclock/errors.hpp"

namespace inferclock {

void Engine::drive_begin(RequestDriver* driver) {
    if (driver == nullptr) throw ConfigError("Engine.drive_begin: no driver");
    check_not_forked();
    bool expected = false;
    if (!busy_.compare_exchange_strong(expected, true, std::memory_order_acquire))
        throw ConfigError(
            "Engine.drive_begin: the engine is in use by another thread (one call at a time)");
    if (async_running_) {
        busy_.store(false, std::memory_order_release);
        throw ConfigError("Engine.drive_begin: the async loop is running");
    }
    try {
        ensure_callbacks();
    } catch (...) {
        busy_.store(false, std::memory_order_release);
        throw;
    }
    driver_.store(driver, std::memory_order_release);  // publishes the set-up to callbacks
}

void Engine::drive_start(size_t r) {
    if (driver_.load(std::memory_order_acquire) == nullptr)
        throw ConfigError("Engine.drive_start: no driver attached (drive_begin first)");
    if (r >= static_cast<size_t>(async_requests_))
        throw ConfigError("Engine.drive_start: request " + std::to_string(r) + " out of range");
    try {
        requests_[r].wait();  // OpenVINO's tail after the last callback
    } catch (...) {           // that run's error reached its callback already
    }
    try {
        requests_[r].start_async();
    } catch (...) {
        std::rethrow_exception(detail::as_device_error(
            std::current_exception(), "could not start inference on '" + opts_.device + "'"));
    }
}

void Engine::drive_end() {
    if (driver_.load(std::memory_order_acquire) == nullptr) return;
    for (size_t r = 0; r < static_cast<size_t>(async_requests_); ++r) {
        try {
            requests_[r].wait();
        } catch (...) {
        }
    }
    quiesce_callbacks();
    driver_.store(nullptr, std::memory_order_release);
    busy_.store(false, std::memory_order_release);
}

}  // namespace inferclock
