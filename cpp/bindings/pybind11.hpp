// Included first by every binding file: one place for pybind11 headers and shared helpers.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <exception>
#include <initializer_list>
#include <utility>

namespace py = pybind11;

namespace inferclock::bindings {

void register_errors(py::module_& m);
void register_clock(py::module_& m);
void register_phases(py::module_& m);
void register_measure(py::module_& m);
void register_topology(py::module_& m);
void register_engine(py::module_& m);
void register_loadgen(py::module_& m);

// Raise `error` as the Python class registered for it (register_errors.cpp), with extra
// attributes set on the exception object (e.g. what a loop measured before it failed).
[[noreturn]] void raise_with(std::exception_ptr error,
                             std::initializer_list<std::pair<const char*, py::object>> attrs);

// Move a vector into a numpy array without copying: a capsule owns the vector.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
    auto* owned = new std::vector<T>(std::move(v));
    py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
    return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, {sizeof(T)}, owned->data(),
                          owner);
}

}  // namespace inferclock::bindings
