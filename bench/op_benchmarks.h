// The op table's benchmarks (engine/op_table.h): every model-size case of every row, forward
// and backward through the engine on the CPU or on CUDA, each validated before it is timed
// (CPU: against the double reference; CUDA: against the engine on the CPU, under the row's
// tolerances). On the CPU the row's float reference (plain loops) is timed beside it as the
// baseline (its backward recomputes the forward state it needs, as references do).
#pragma once

#include <string>
#include <vector>

#include "bench/record.h"
#include "engine/tensor.h"

namespace dc::bench {

struct OpBenchOptions {
  Device device = Device::CPU;
  double sample_s = 0.05;           // a timing sample lasts at least this long
  bool quick = false;               // the baselines timed once
  double peak_gflops = 0, peak_gbs = 0;
  std::vector<std::string> ops;     // only these rows (empty: all)
  bool skip_bench_only = false;     // leave out the bench-only sizes (batch 256; a --quick run)
};

std::vector<BenchRecord> op_benchmarks(const OpBenchOptions& o);

}  // namespace dc::bench
