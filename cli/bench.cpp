// `deepchrome bench`: runs bench/ (kernel and end-to-end benchmarks, JSON output).
#include "bench/benchmarks.h"
#include "cli/commands.h"

namespace dc::cli {

int cmd_bench(const Args& args) { return bench::run_benchmarks(args); }

}  // namespace dc::cli
