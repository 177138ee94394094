#include "kernels/cpu/optim.h"

namespace dc::cpu {
namespace {

__attribute__((always_inline)) inline void factored_rows(float* p, int rows, int cols, const float* u, const float* v, int n,
                                                         float lr, float weight_decay, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    float* row = p + r * cols;
    if (n == 1) {
      const float a0 = u[r];
#pragma omp simd
      for (int c = 0; c < cols; ++c) row[c] -= lr * (weight_decay * row[c] + a0 * v[c]);
    } else {
      for (int c = 0; c < cols; ++c) {
        float g = weight_decay * row[c];
        for (int k = 0; k < n; ++k) g += u[static_cast<int64_t>(k) * rows + r] * v[static_cast<int64_t>(k) * cols + c];
        row[c] -= lr * g;
      }
    }
  }
}

}  // namespace

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sgd_factored_update(float* p, int rows, int cols, const float* u, const float* v, int n, float lr, float weight_decay) {
  if (use_threads(1LL * rows * cols, 100000)) {
#pragma omp parallel
    {
      const Range r = thread_range(rows);
      factored_rows(p, rows, cols, u, v, n, lr, weight_decay, r.begin, r.end);
    }
  } else {
    factored_rows(p, rows, cols, u, v, n, lr, weight_decay, 0, rows);
  }
}

}  // namespace dc::cpu
