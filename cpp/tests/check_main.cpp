// Runs the registered tests: those whose name starts with an argument, or all of them.
#include <cstring>
#include <exception>

#include "check.hpp"

int main(int argc, char** argv) {
    int ran = 0;
    for (const auto& t : ictest::registry()) {
        bool wanted = argc < 2;
        for (int i = 1; i < argc; ++i)
            wanted = wanted || std::strncmp(t.name, argv[i], std::strlen(argv[i])) == 0;
        if (!wanted) continue;
        ++ran;
        const int before = ictest::failures();
        std::fprintf(stderr, "[ RUN  ] %s\n", t.name);
        try {
            t.body();
        } catch (const std::exception& e) {
            ictest::fail(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
        } catch (...) {
            ictest::fail(__FILE__, __LINE__, "uncaught non-standard exception");
        }
        std::fprintf(stderr, "[ %s ] %s\n", ictest::failures() == before ? " OK " : "FAIL", t.name);
    }
    if (ran == 0) {
        std::fprintf(stderr, "no test matched\n");
        return 2;
    }
    std::fprintf(stderr, "%d test(s), %d failed check(s)\n", ran, ictest::failures().load());
    return ictest::failures() == 0 ? 0 : 1;
}
