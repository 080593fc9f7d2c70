// Typed errors: one Python class per core error class, registered once (InferclockError and
// its subclasses), and raise_with() for errors that carry what a loop measured before failing.
#include "pybind11.hpp"
#include "inferclock/errors.hpp"

namespace inferclock::bindings {

namespace {

struct Classes {
    PyObject *base, *pinning, *model, *device, *config, *precision;
};
Classes g_classes{};

// The Python class of a core error, and its message.
std::pair<PyObject*, std::string> classify(std::exception_ptr p) {
    try {
        std::rethrow_exception(p);
    } catch (const PinningError& e) {
        return {g_classes.pinning, e.what()};
    } catch (const ModelError& e) {
        return {g_classes.model, e.what()};
    } catch (const DeviceError& e) {
        return {g_classes.device, e.what()};
    } catch (const ConfigError& e) {
        return {g_classes.config, e.what()};
    } catch (const PrecisionError& e) {
        return {g_classes.precision, e.what()};
    } catch (const Error& e) {
        return {g_classes.base, e.what()};
    } catch (const std::exception& e) {
        return {PyExc_RuntimeError, e.what()};
    } catch (...) {
        return {PyExc_RuntimeError, "unknown C++ exception"};
    }
}

}  // namespace

void raise_with(std::exception_ptr error,
                std::initializer_list<std::pair<const char*, py::object>> attrs) {
    const auto [cls, msg] = classify(error);
    py::object exc = py::reinterpret_borrow<py::object>(cls)(msg);
    for (const auto& [name, value] : attrs) exc.attr(name) = value;
    PyErr_SetObject(cls, exc.ptr());
    throw py::error_already_set();
}

void register_errors(py::module_& m) {
    // Registered base first: pybind11 tries the most recently registered translator first, so
    // derived classes (registered after) win over the base.
    static py::exception<Error> base(m, "InferclockError", PyExc_Exception);
    auto both = [&](PyObject* other) {
        return py::make_tuple(py::handle(base.ptr()), py::handle(other));
    };
    static py::exception<PinningError> pinning(m, "PinningError", both(PyExc_ValueError));
    static py::exception<ModelError> model(m, "ModelError", base);
    static py::exception<DeviceError> device(m, "DeviceError", base);
    static py::exception<ConfigError> config(m, "ConfigError", both(PyExc_ValueError));
    static py::exception<PrecisionError> precision(m, "PrecisionError", base);
    g_classes = {base.ptr(),   pinning.ptr(), model.ptr(),
                 device.ptr(), config.ptr(),  precision.ptr()};
    // Set on errors raised by the engine's loops (what they measured before failing); None on
    // every other error, so code can read them without getattr.
    base.attr("done") = py::none();
    base.attr("latency_ticks") = py::none();
    base.attr("end_ticks") = py::none();
    py::register_exception_translator([](std::exception_ptr p) {
        if (!p) return;
        try {
            std::rethrow_exception(p);
        } catch (const Error&) {
            const auto [cls, msg] = classify(p);
            PyErr_SetString(cls, msg.c_str());
        }
    });
}

}  // namespace inferclock::bindings
