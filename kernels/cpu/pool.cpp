#include "kernels/cpu/pool.h"

namespace dc::cpu {

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s) {
  const int LOUT = s.LOUT();
#pragma omp parallel for schedule(static) if (1LL * s.R * s.L > 200000)
  for (int r = 0; r < s.R; ++r) {
    const float* row = x + static_cast<int64_t>(r) * s.L;
    float* yr = y + static_cast<int64_t>(r) * LOUT;
    int32_t* ar = argmax + static_cast<int64_t>(r) * LOUT;
    for (int l = 0; l < LOUT; ++l) {
      const float* win = row + l * s.stride;
      float best = win[0];
      int idx = 0;
      for (int k = 1; k < s.K; ++k) {
        const float v = win[k];
        // torch: a larger value wins, the first of equal values stays, NaN wins once.
        const bool take = (v > best) | ((v != v) & (best == best));
        best = take ? v : best;
        idx = take ? k : idx;
      }
      yr[l] = best;
      ar[l] = l * s.stride + idx;
    }
  }
}

}  // namespace dc::cpu
