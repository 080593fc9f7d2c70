// Ctrl-C for loops that run without the GIL: while a Watch is alive, SIGINT raises a flag that
// the loops check between iterations. Only SIGINT is touched; other signals reach their
// handlers as always.
#pragma once

namespace inferclock::interrupt {

bool pending();  // a SIGINT arrived since the last clear()/take()
void clear();
bool take();  // pending(), and clear it

class Watch {
   public:
    // chain: also call the handler that was there before (Python's, which then runs the
    // Python-level handler when the interpreter regains control). Without it SIGINT only
    // raises the flag. The first of nested Watches decides.
    explicit Watch(bool chain = true);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
};

}  // namespace inferclock::interrupt
