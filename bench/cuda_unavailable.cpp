// The CUDA comparisons of a build without the CUDA backend: there are none, and asking for
// them says why (CMake compiles this file instead of bench/cuda_*.cu).
#include <string>

#include "bench/cuda_bench.h"
#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace dc::bench {

std::vector<BenchRecord> cuda_vendor_benchmarks(bool) {
  std::string why;
  kernels::cuda::available(&why);
  throw InputError("bench: the CUDA comparisons need the CUDA backend: " + why);
}

}  // namespace dc::bench
