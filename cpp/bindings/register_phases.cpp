// ic.phase / ic.mark: a mark is one call into C++. Written against the CPython API, not
// pybind11, whose dispatcher costs ~100 ns a call (measured here) where a METH_O function costs
// ~35. A `with` looks __enter__ and __exit__ up on the type and binds them, which for a method
// would allocate a bound method each time: the type's two slots are descriptors handing out
// callables made once per Phase object instead. Phase objects are cached per name for the
// process (their ids index the name list), so no call allocates. Also the PhaseLog class the
// measure loop records into (pybind11: it is used between batches, not per mark).
#include "pybind11.hpp"
#include "inferclock/phases.hpp"

#include <structmember.h>

#include <cstring>

namespace inferclock::bindings {

namespace {

struct PhaseObject {
    PyObject_HEAD
    uint32_t id;
    PyObject* name;   // exact str
    PyObject* enter;  // builtin methods bound to this object, made once
    PyObject* exit;
};

struct SlotObject {  // Phase.__enter__ / Phase.__exit__
    PyObject_HEAD
    int is_exit;
};

PyTypeObject* g_phase_type = nullptr;  // heap types, made once by ready_types()
PyTypeObject* g_slot_type = nullptr;
PyObject* g_cache = nullptr;  // name -> Phase, for the process
PyObject* g_names = nullptr;  // id -> name

PyObject* phase_enter_fn(PyObject* self, PyObject*) {
    phase_enter(reinterpret_cast<PhaseObject*>(self)->id);
    Py_INCREF(self);
    return self;
}

PyObject* phase_exit_fn(PyObject* self, PyObject* const*, Py_ssize_t) {
    phase_exit(reinterpret_cast<PhaseObject*>(self)->id);
    Py_RETURN_FALSE;  // an exception inside the block goes on as itself
}

PyMethodDef g_enter_def{"__enter__", phase_enter_fn, METH_NOARGS, "Begin the phase."};
// METH_FASTCALL functions go in as PyCFunction, through void(*)() (the CPython idiom).
PyMethodDef g_exit_def{"__exit__",
                       reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(phase_exit_fn)),
                       METH_FASTCALL, "End the phase (and what is still open inside it)."};

PyObject* slot_get(PyObject* slot, PyObject* obj, PyObject*) {
    if (obj == nullptr || obj == Py_None) {
        Py_INCREF(slot);
        return slot;
    }
    if (!Py_IS_TYPE(obj, g_phase_type)) {
        PyErr_SetString(PyExc_TypeError, "a Phase slot binds to Phase objects only");
        return nullptr;
    }
    auto* p = reinterpret_cast<PhaseObject*>(obj);
    PyObject* f = reinterpret_cast<SlotObject*>(slot)->is_exit ? p->exit : p->enter;
    Py_INCREF(f);
    return f;
}

PyObject* phase_repr(PyObject* self) {
    return PyUnicode_FromFormat("inferclock.phase(%R)", reinterpret_cast<PhaseObject*>(self)->name);
}

void phase_dealloc(PyObject* self) {  // Phase objects live in the cache: only at exit
    auto* p = reinterpret_cast<PhaseObject*>(self);
    PyTypeObject* type = Py_TYPE(self);
    Py_XDECREF(p->name);
    Py_XDECREF(p->enter);
    Py_XDECREF(p->exit);
    type->tp_free(self);
    Py_DECREF(type);  // instances of a heap type hold a reference to it
}

void slot_dealloc(PyObject* self) {
    PyTypeObject* type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyMemberDef g_phase_members[] = {
    {"name", T_OBJECT_EX, offsetof(PhaseObject, name), READONLY, "The phase's name."},
    {"id", T_UINT, offsetof(PhaseObject, id), READONLY, "Its index in phase_names()."},
    {nullptr, 0, 0, 0, nullptr}};

// ConfigError / ConfigTypeError (inferclock._common.errors), looked up on the error path only.
PyObject* config_error(const char* cls, const char* fn, const char* what, PyObject* name) {
    PyObject* errors = PyImport_ImportModule("inferclock._common.errors");
    PyObject* type = errors ? PyObject_GetAttrString(errors, cls) : nullptr;
    Py_XDECREF(errors);
    if (type == nullptr) return nullptr;
    PyObject* msg = PyUnicode_FromFormat("%s: name must be %s, got %.80s %.200R", fn, what,
                                         Py_TYPE(name)->tp_name, name);
    if (msg != nullptr) PyErr_SetObject(type, msg);
    Py_XDECREF(msg);
    Py_DECREF(type);
    return nullptr;
}

// A new Phase for `name` (checked), registered and cached; new reference.
PyObject* new_phase(PyObject* name, const char* fn) {
    if (!PyUnicode_Check(name))
        return config_error("ConfigTypeError", fn, "a non-empty str", name);
    if (PyUnicode_GetLength(name) == 0)
        return config_error("ConfigError", fn, "a non-empty str", name);
    if (PyUnicode_CompareWithASCIIString(name, "(other)") == 0)
        return config_error("ConfigError", fn, "other than '(other)', which is reserved for "
                            "the time outside every phase", name);
    PyObject* key = PyUnicode_FromObject(name);  // an exact str, for a str subclass too
    if (key == nullptr) return nullptr;
    if (PyObject* cached = PyDict_GetItemWithError(g_cache, key)) {
        Py_DECREF(key);
        Py_INCREF(cached);
        return cached;
    }
    auto* p = PyObject_New(PhaseObject, g_phase_type);
    if (p == nullptr) {
        Py_DECREF(key);
        return nullptr;
    }
    p->id = static_cast<uint32_t>(PyList_GET_SIZE(g_names));
    p->name = key;
    // The bound methods hold the Phase and the Phase holds them: a cycle, like the cache's.
    p->enter = PyCFunction_New(&g_enter_def, reinterpret_cast<PyObject*>(p));
    p->exit = PyCFunction_New(&g_exit_def, reinterpret_cast<PyObject*>(p));
    auto* obj = reinterpret_cast<PyObject*>(p);
    if (p->enter == nullptr || p->exit == nullptr || PyList_Append(g_names, key) != 0 ||
        PyDict_SetItem(g_cache, key, obj) != 0) {
        Py_DECREF(obj);
        return nullptr;
    }
    return obj;
}

// The cached Phase of `name`: borrowed on the fast path (an exact str seen before), else new.
PyObject* lookup(PyObject* name, const char* fn, bool& owned) {
    owned = false;
    if (PyUnicode_CheckExact(name)) {
        if (PyObject* p = PyDict_GetItemWithError(g_cache, name)) return p;
        if (PyErr_Occurred()) return nullptr;
    }
    owned = true;
    return new_phase(name, fn);
}

PyObject* py_phase(PyObject*, PyObject* name) {
    bool owned;
    PyObject* p = lookup(name, "phase", owned);
    if (p != nullptr && !owned) Py_INCREF(p);
    return p;
}

PyObject* py_mark(PyObject*, PyObject* name) {
    bool owned;
    PyObject* p = lookup(name, "mark", owned);
    if (p == nullptr) return nullptr;
    phase_mark(reinterpret_cast<PhaseObject*>(p)->id);
    if (owned) Py_DECREF(p);
    Py_RETURN_NONE;
}

PyObject* py_phase_names(PyObject*, PyObject*) {
    return PyList_GetSlice(g_names, 0, PyList_GET_SIZE(g_names));
}

PyMethodDef g_functions[] = {
    {"phase", py_phase, METH_O,
     "phase(name) -> Phase: a context manager timing its block as phase `name` of the call\n"
     "that ic.measure is timing on this thread. Nested phases are spans inside their parent\n"
     "(a phase's time includes the phases inside it). Outside ic.measure (or on another\n"
     "thread) it does nothing but cost one C++ call, so the same code runs untimed. The\n"
     "object is made once per name and cached: `with ic.phase('forward'):` allocates nothing;\n"
     "hoisting FORWARD = ic.phase('forward') saves the name lookup. name: a non-empty str\n"
     "(not '(other)'): ConfigTypeError / ConfigError otherwise."},
    {"mark", py_mark, METH_O,
     "mark(name) -> None: a boundary inside the call ic.measure is timing on this thread:\n"
     "the time from here to the next mark at the same level, the end of the phase around it\n"
     "or the end of the call goes to phase `name`. Phases entered after it nest inside it.\n"
     "Outside ic.measure (or on another thread) it does nothing but cost one C++ call.\n"
     "name: a non-empty str (not '(other)'): ConfigTypeError / ConfigError otherwise."},
    {"phase_names", py_phase_names, METH_NOARGS,
     "Names of the phases made so far in this process; a span's phase id indexes it."},
    {nullptr, nullptr, 0, nullptr}};

PyType_Slot g_slot_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(slot_dealloc)},
    {Py_tp_descr_get, reinterpret_cast<void*>(slot_get)},
    {Py_tp_doc, const_cast<char*>("Hands out a Phase's __enter__ or __exit__, made once.")},
    {0, nullptr}};
PyType_Spec g_slot_spec{"inferclock._core._PhaseSlot", sizeof(SlotObject), 0, Py_TPFLAGS_DEFAULT,
                        g_slot_slots};

PyType_Slot g_phase_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void*>(phase_dealloc)},
    {Py_tp_repr, reinterpret_cast<void*>(phase_repr)},
    {Py_tp_members, g_phase_members},
    {Py_tp_doc, const_cast<char*>("A named phase: `with ic.phase(name):` (see inferclock.phase).")},
    {0, nullptr}};
// Not a base type: slot_get relies on the exact type.
PyType_Spec g_phase_spec{"inferclock._core.Phase", sizeof(PhaseObject), 0, Py_TPFLAGS_DEFAULT,
                         g_phase_slots};

void ready_types() {
    g_slot_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&g_slot_spec));
    if (g_slot_type == nullptr) throw py::error_already_set();
    g_phase_type = reinterpret_cast<PyTypeObject*>(PyType_FromSpec(&g_phase_spec));
    if (g_phase_type == nullptr) throw py::error_already_set();
    for (int is_exit : {0, 1}) {
        auto* slot = PyObject_New(SlotObject, g_slot_type);
        if (slot == nullptr) throw py::error_already_set();
        slot->is_exit = is_exit;
        const int rc = PyObject_SetAttrString(reinterpret_cast<PyObject*>(g_phase_type),
                                              is_exit ? "__exit__" : "__enter__",
                                              reinterpret_cast<PyObject*>(slot));
        Py_DECREF(slot);
        if (rc != 0) throw py::error_already_set();
    }
}

}  // namespace

void register_phases(py::module_& m) {
    ready_types();
    g_cache = PyDict_New();
    g_names = PyList_New(0);
    if (g_cache == nullptr || g_names == nullptr) throw py::error_already_set();
    m.add_object("Phase", reinterpret_cast<PyObject*>(g_phase_type));
    if (PyModule_AddFunctions(m.ptr(), g_functions) != 0) throw py::error_already_set();

    PYBIND11_NUMPY_DTYPE(PhaseSpan, begin, end, call, phase, parent, depth, flags);
    py::class_<PhaseLog> log(m, "PhaseLog",
                             "Spans recorded by ic.phase/ic.mark while time_calls runs with it "
                             "(see cpp/include/inferclock/phases.hpp).");
    log.def(py::init([](size_t capacity) {
                if (capacity < 2) throw py::value_error("PhaseLog: capacity must be >= 2");
                return std::make_unique<PhaseLog>(capacity, process_clock().source);
            }),
            py::arg("capacity"))
        .def_property_readonly("size", &PhaseLog::size)
        .def_property_readonly("capacity", &PhaseLog::capacity)
        .def_property_readonly("lost", &PhaseLog::lost)
        .def_property_readonly("lost_call", &PhaseLog::lost_call)
        .def_property_readonly("too_deep", &PhaseLog::too_deep)
        .def_property_readonly("unmatched", &PhaseLog::unmatched)
        .def_property_readonly("first_tick", &PhaseLog::first_tick)
        .def_property_readonly("batch_start", &PhaseLog::batch_start)
        .def_property_readonly("depth", &PhaseLog::depth)
        .def(
            "spans",
            [](const PhaseLog& l) {
                py::array_t<PhaseSpan> a(static_cast<py::ssize_t>(l.size()));
                if (l.size()) std::memcpy(a.mutable_data(), l.data(), l.size() * sizeof(PhaseSpan));
                return a;
            },
            "A copy of the spans recorded since clear(), in the order they ended.")
        .def("clear", &PhaseLog::clear, "Forget the spans and the counts.")
        .def("reset", &PhaseLog::reset, "clear(), and forget the open phases too.")
        .def("reserve", &PhaseLog::reserve, py::arg("capacity"), "Grow, keeping the spans.");
    log.attr("MARK") = int{kPhaseMark};
    log.attr("REPEAT") = int{kPhaseRepeat};
    log.attr("CUT") = int{kPhaseCut};
    log.attr("NO_PARENT") = PhaseSpan::kNoParent;
    log.attr("MAX_DEPTH") = PhaseLog::kMaxDepth;
    log.attr("NO_TICK") = PhaseLog::kNoTick;
}

}  // namespace inferclock::bindings
