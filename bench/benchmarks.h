// Kernel and end-to-end benchmarks. Output is one JSON document (stdout or --out FILE);
// every fast kernel is timed next to its plain reference in the same run, and GFLOP/s are
// reported against the machine's measured FMA peak.
#pragma once

#include <string>
#include <vector>

namespace dc::bench {

// Parses the bench options (see --help) and runs; returns the exit code.
int run_benchmarks(const std::vector<std::string>& args);

}  // namespace dc::bench
