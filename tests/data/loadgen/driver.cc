// LoadGen's early-stopping arithmetic answering questions on stdin, one a line:
//   mp T P        -> LoadGen's Server check: a fresh MinPassingQueriesFinder's answer for t = T
//   est N P       -> the early-stopping estimate's t for N queries (-1: too few), by the loop
//                    of PerformanceSummary::EarlyStopping (loadgen/results.cc), as written
//   range A B P   -> est for every N in [A, B], one answer a line
// P is the percentile as LoadGen reads it from its settings: strtod(text) * 0.01.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "early_stopping.h"

using mlperf::loadgen::MinPassingQueriesFinder;

// The SingleStream / MultiStream branch of PerformanceSummary::EarlyStopping, with
// target_latency_percentile.percentile as p; returns t (the estimate is
// sorted[queries_issued - t]), or -1 where LoadGen says it needs more queries.
static int64_t estimate_t(int64_t queries_issued, double p) {
  MinPassingQueriesFinder find_min_passing;
  double confidence = 0.99;
  double tolerance = 0.0;
  int64_t t = 1;
  int64_t h_min = find_min_passing(1, p, tolerance, confidence);
  int64_t h = h_min;
  if (queries_issued < h_min + 1) {
    return -1;
  } else {
    for (int64_t i = 2; i < queries_issued + 1; ++i) {
      h = find_min_passing(i, p, tolerance, confidence);
      if (queries_issued < h + i) {
        t = i - 1;
        break;
      }
    }
  }
  return t;
}

int main() {
  std::string cmd;
  while (std::cin >> cmd) {
    if (cmd == "mp") {
      int64_t t;
      std::string pct;
      std::cin >> t >> pct;
      MinPassingQueriesFinder find_min_passing;
      std::cout << find_min_passing(t, std::strtod(pct.c_str(), nullptr) * 0.01, 0.0, 0.99)
                << "\n";
    } else if (cmd == "est") {
      int64_t n;
      std::string pct;
      std::cin >> n >> pct;
      std::cout << estimate_t(n, std::strtod(pct.c_str(), nullptr) * 0.01) << "\n";
    } else if (cmd == "range") {
      int64_t a, b;
      std::string pct;
      std::cin >> a >> b >> pct;
      double p = std::strtod(pct.c_str(), nullptr) * 0.01;
      for (int64_t n = a; n <= b; ++n) std::cout << estimate_t(n, p) << "\n";
    }
    std::cout << std::flush;
  }
  return 0;
}
