// Ctrl-C for loops that run without the GIL: while a Watch is alive, SIGINT bumps a process-wide
// generation counter that every loop compares with the value it started from, so one Ctrl-C
// stops every running loop in every thread (nothing clears it for the others). Only SIGINT is
// touched; other signals reach their handlers as always.
#pragma once

#include <cstdint>

namespace inferclock::interrupt {

// SIGINTs seen while a Watch was alive, since the process began. A loop that began at
// generation g is interrupted once generation() != g.
uint64_t generation();
bool since(uint64_t g);  // generation() != g

class Watch {
   public:
    // swallow: SIGINT only bumps the generation; without it, it also reaches the handler that
    // was there before (Python's, which then runs the Python-level handler in the main thread:
    // KeyboardInterrupt there with the default one). A Ctrl-C is swallowed while any
    // swallowing Watch is alive (the main thread's loop returns its partial result instead of
    // a KeyboardInterrupt), and chained otherwise, so a loop in another thread never eats the
    // main thread's KeyboardInterrupt.
    explicit Watch(bool swallow = false);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

   private:
    bool swallow_;
};

}  // namespace inferclock::interrupt
