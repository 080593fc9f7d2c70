// A dependency-free test harness: TEST(name) registers a test, CHECK(cond) and CHECK_EQ(a, b)
// report a failure with file:line and go on. The runner (check_main.cpp) runs every test whose
// name starts with one of its arguments (all without any) and fails if any check failed.
#pragma once

#include <atomic>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace ictest {

struct Test {
    const char* name;
    std::function<void()> body;
};

inline std::vector<Test>& registry() {
    static std::vector<Test> tests;
    return tests;
}
inline std::atomic<int>& failures() {  // checks may fail on several threads
    static std::atomic<int> n{0};
    return n;
}

struct Register {
    Register(const char* name, std::function<void()> body) {
        registry().push_back({name, std::move(body)});
    }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
}

template <class A, class B>
void check_eq(const A& a, const B& b, const char* as, const char* bs, const char* file, int line) {
    if (a == b) return;
    std::ostringstream o;
    o << as << " == " << bs << " (" << a << " vs " << b << ")";
    fail(file, line, o.str());
}

}  // namespace ictest

#define IC_CAT2(a, b) a##b
#define IC_CAT(a, b) IC_CAT2(a, b)
#define TEST(name)                                                                   \
    static void IC_CAT(test_, name)();                                               \
    static const ::ictest::Register IC_CAT(reg_, name)(#name, &IC_CAT(test_, name)); \
    static void IC_CAT(test_, name)()
#define CHECK(cond) ((cond) ? (void)0 : ::ictest::fail(__FILE__, __LINE__, "CHECK(" #cond ")"))
#define CHECK_EQ(a, b) ::ictest::check_eq((a), (b), #a, #b, __FILE__, __LINE__)
// Expect `expr` to throw `type`.
#define CHECK_THROWS(type, expr)                                                         \
    do {                                                                                 \
        bool thrown_ = false;                                                            \
        try {                                                                            \
            (void)(expr);                                                                \
        } catch (const type&) {                                                          \
            thrown_ = true;                                                              \
        }                                                                                \
        if (!thrown_) ::ictest::fail(__FILE__, __LINE__, #expr " did not throw " #type); \
    } while (0)
