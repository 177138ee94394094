// Reusable per-thread scratch buffers for kernels that need temporaries (im2col, GEMM
// staging). Grows on demand and is never shrunk, so steady-state training allocates nothing.
#pragma once

#include <cstddef>
#include <vector>

namespace dc::cpu {

inline float* scratch(int slot, size_t n) {
  static thread_local std::vector<float> buffers[4];
  std::vector<float>& b = buffers[slot];
  if (b.size() < n) b.resize(n);
  return b.data();
}

}  // namespace dc::cpu
