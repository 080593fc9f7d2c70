// Typed errors of the core. The bindings register each once, so they reach Python as
// inferclock.<Name> under InferclockError; messages name the bad value and the valid choices.
#pragma once

#include <stdexcept>
#include <string>

namespace inferclock {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// Bad pinning request: unknown socket/node/CPU, empty set, CPU outside the allowed set.
struct PinningError : Error {
    using Error::Error;
};
// Model cannot be read, reshaped or fed (missing/corrupt file, no batch dimension, bad input).
struct ModelError : Error {
    using Error::Error;
};
// Device not present, plugin missing, compile failed on the device.
struct DeviceError : Error {
    using Error::Error;
};
// Bad run configuration: requests, streams, threads, properties.
struct ConfigError : Error {
    using Error::Error;
};
// The device ran another precision than the one requested.
struct PrecisionError : Error {
    using Error::Error;
};

}  // namespace inferclock
