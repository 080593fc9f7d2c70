// Ctrl-C for loops that run without the GIL: while a Watch is alive, SIGINT raises a flag the
// loops check between iterations, then reaches the previous handler (Python's) as before.
#pragma once

namespace inferclock::interrupt {

bool pending();  // a SIGINT arrived since the last clear()
void clear();

class Watch {
public:
    Watch();
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
};

}  // namespace inferclock::interrupt
