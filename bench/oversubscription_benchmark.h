// `deepchrome bench --only oversubscription`: what sharing the machine does to a training
// run. It launches k copies of a training epoch benchmark at once (k = 1, 2, 3 by default,
// each with --threads T) and one copy beside a CPU-bound process per core, under each wait
// policy of the kernels' thread team (kernels/cpu/thread_pool.h: adaptive, the default;
// spin, like OMP_WAIT_POLICY=active; block, like passive), and reports each copy's epoch
// time next to the solo time of the same policy measured in the same run: the bound is
// k x solo (the copies share the cores), and the target is 1.15 x that. It also
// measures the machine's cache and memory read bandwidth and the batch-1 DeepChrome epoch's
// weight-traffic floor. Not part of the default `deepchrome bench`.
#pragma once

#include <string>
#include <vector>

namespace dc::bench {

// Parses the options after `--only oversubscription` (see its --help) and runs; returns the
// exit code.
int run_oversubscription_benchmark(const std::vector<std::string>& args);

}  // namespace dc::bench
