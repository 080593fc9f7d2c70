// One always-inline counter read per architecture. start() and stop() bracket a span:
// start() waits for earlier instructions to finish before reading, stop() waits for the timed
// work to finish before reading, so neither read drifts into the span.
#pragma once

#include <cstdint>
#include <ctime>

#if defined(__x86_64__) || defined(_M_X64)
#include <x86intrin.h>
#endif

namespace inferclock::cycleclock {

// CLOCK_MONOTONIC_RAW in ns: the reference and the fallback. vDSO on Linux (about 23 ns here).
inline __attribute__((always_inline)) int64_t monotonic_raw_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

#if defined(__x86_64__) || defined(_M_X64)
// lfence; rdtsc: lfence keeps rdtsc from executing before earlier instructions complete.
inline __attribute__((always_inline)) uint64_t start() {
    _mm_lfence();
    return __rdtsc();
}
// rdtscp waits for all earlier instructions; aux is IA32_TSC_AUX (Linux: the CPU number in the
// low 12 bits), so a caller can see that the thread migrated during the span.
inline __attribute__((always_inline)) uint64_t stop(uint32_t& aux) { return __rdtscp(&aux); }
inline __attribute__((always_inline)) uint64_t stop() {
    uint32_t aux;
    return __rdtscp(&aux);
}
// Keeps later instructions from starting before a preceding stop() read.
inline __attribute__((always_inline)) void fence() { _mm_lfence(); }
// rdtsc alone, not ordered with the instructions around it (Google Benchmark's cycleclock).
// Only for a boundary between two contiguous spans: a read that slips by a few cycles moves
// them from one span to the next, it never loses them; it costs 8-10 ns less than rdtscp on
// the VMs we measure on, a third of an empty Python call.
inline __attribute__((always_inline)) uint64_t boundary() { return __rdtsc(); }
// The CPU number (IA32_TSC_AUX, as rdtscp's aux) where cpu_has_rdpid() says the CPU has it.
inline __attribute__((always_inline)) uint32_t rdpid() {
    uint64_t v;
    asm volatile("rdpid %0" : "=r"(v));
    return static_cast<uint32_t>(v);
}
constexpr const char* kCounter = "tsc";
#elif defined(__aarch64__)
// isb keeps the read of the virtual counter from being speculated ahead of earlier work.
inline __attribute__((always_inline)) uint64_t read_cntvct() {
    uint64_t v;
    asm volatile("isb; mrs %0, cntvct_el0" : "=r"(v)::"memory");
    return v;
}
inline __attribute__((always_inline)) uint64_t start() { return read_cntvct(); }
inline __attribute__((always_inline)) uint64_t stop(uint32_t& aux) {
    aux = 0;
    return read_cntvct();
}
inline __attribute__((always_inline)) uint64_t stop() { return read_cntvct(); }
inline __attribute__((always_inline)) void fence() { asm volatile("isb" ::: "memory"); }
inline uint64_t cntfrq() {
    uint64_t f;
    asm volatile("mrs %0, cntfrq_el0" : "=r"(f));
    return f;
}
constexpr const char* kCounter = "cntvct";
#elif defined(__linux__)
// No cycle counter we trust on this architecture: the raw monotonic clock in ns is the counter.
inline uint64_t start() { return static_cast<uint64_t>(monotonic_raw_ns()); }
inline uint64_t stop(uint32_t& aux) {
    aux = 0;
    return static_cast<uint64_t>(monotonic_raw_ns());
}
inline uint64_t stop() { return static_cast<uint64_t>(monotonic_raw_ns()); }
inline void fence() {}
constexpr const char* kCounter = "monotonic_raw";
#else
#error "inferclock: unsupported platform (needs x86-64, arm64 or Linux clock_gettime)"
#endif

}  // namespace inferclock::cycleclock
