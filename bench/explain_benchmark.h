// `deepchrome bench --only explain`: the explain methods (models/explain.h) timed on
// DeepChrome and AttentiveChrome at the registry's default sizes, on a simulated test split
// (6600 genes by default): the class maps of both classes (5 restarts x 1000 iterations),
// gradient x input and integrated gradients (32 steps) over every gene for its own label.
// Each is validated first (finite differences, completeness, the class-map recipe), then
// timed next to a reference timed in the same run (plain forward + backward training passes
// over the same inputs), with the target for a reader to see the margin. Not part of
// the default `deepchrome bench`.
#pragma once

#include <string>
#include <vector>

namespace dc::bench {

// Parses the options after `--only explain` (see its --help) and runs; returns the exit code.
int run_explain_benchmark(const std::vector<std::string>& args);

}  // namespace dc::bench
