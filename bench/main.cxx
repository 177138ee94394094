// `deepchrome-bench`: the same as `deepchrome bench`.
#include <cstdio>
#include <exception>

#include "bench/benchmarks.h"
#include "kernels/base/error.h"

int main(int argc, char** argv) {
  try {
    return dc::bench::run_benchmarks(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const dc::InputError& e) {
    std::fprintf(stderr, "deepchrome-bench: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deepchrome-bench: error: %s\n", e.what());
    return 1;
  }
}
