// Main of the CUDA suite: runs the doctest cases when a CUDA device is usable; otherwise
// says why and exits 77, which ctest reports as "Skipped" (never a silent pass).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "kernels/cuda/runtime.h"

int main(int argc, char** argv) {
  std::string why;
  if (!dc::kernels::cuda::available(&why)) {
    std::printf("cuda suite SKIPPED: no usable CUDA device (%s)\n", why.c_str());
    return 77;
  }
  const auto info = dc::kernels::cuda::device_info();
  std::printf("cuda suite on %s (sm_%d%d, %d SMs)\n", info.name.c_str(), info.cc_major, info.cc_minor, info.sm_count);
  doctest::Context context(argc, argv);
  return context.run();
}
