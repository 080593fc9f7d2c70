#include "pybind11.hpp"
#include "inferclock/errors.hpp"

namespace inferclock::bindings {

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
    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const PinningError& e) {
            py::set_error(pinning, e.what());
        } catch (const ModelError& e) {
            py::set_error(model, e.what());
        } catch (const DeviceError& e) {
            py::set_error(device, e.what());
        } catch (const ConfigError& e) {
            py::set_error(config, e.what());
        } catch (const PrecisionError& e) {
            py::set_error(precision, e.what());
        } catch (const Error& e) {
            py::set_error(base, e.what());
        }
    });
}

}  // namespace inferclock::bindings
