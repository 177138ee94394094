#include "kernels/cpu/optim.h"

namespace dc::cpu {

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
void sgd_factored_update(float* p, int rows, int cols, const float* u, const float* v, int n, float lr, float weight_decay) {
#pragma omp parallel for schedule(static) if (1LL * rows * cols > 100000)
  for (int r = 0; r < rows; ++r) {
    float* row = p + static_cast<int64_t>(r) * cols;
    float a[8];
    for (int k = 0; k < n && k < 8; ++k) a[k] = u[static_cast<int64_t>(k) * rows + r];
    if (n == 1) {
      const float a0 = a[0];
#pragma omp simd
      for (int c = 0; c < cols; ++c) row[c] -= lr * (weight_decay * row[c] + a0 * v[c]);
    } else {
      for (int c = 0; c < cols; ++c) {
        float g = weight_decay * row[c];
        for (int k = 0; k < n; ++k) g += (k < 8 ? a[k] : u[static_cast<int64_t>(k) * rows + r]) * v[static_cast<int64_t>(k) * cols + c];
        row[c] -= lr * g;
      }
    }
  }
}

}  // namespace dc::cpu
