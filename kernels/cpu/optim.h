// Fused parameter updates over n contiguous elements (torch semantics).
//   sgd : g' = g + wd*p ; buf = momentum*buf + g' (buf = g' on the first step) ; p -= lr*buf
//         (momentum 0: p -= lr*g')
//   adam: m = b1 m + (1-b1) g' ; v = b2 v + (1-b2) g'^2 ;
//         p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), bc_i = 1 - b_i^t
// A null g means "no gradient this step" (treated as zero).
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

template <class T>
void sgd_update(T* p, const T* g, T* buf, int64_t n, T lr, T momentum, T weight_decay, bool first_step) {
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T gi = (g ? g[i] : T(0)) + weight_decay * p[i];
      if (buf) {
        buf[i] = first_step ? gi : momentum * buf[i] + gi;
        gi = buf[i];
      }
      p[i] -= lr * gi;
    }
  });
}

template <class T>
void adam_update(T* p, const T* g, T* m, T* v, int64_t n, T lr, T beta1, T beta2, T eps, T weight_decay,
                 int64_t step) {
  const T bc1 = T(1) - std::pow(beta1, T(step)), bc2 = T(1) - std::pow(beta2, T(step));
  const T step_size = lr / bc1, sqrt_bc2 = std::sqrt(bc2);
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T gi = (g ? g[i] : T(0)) + weight_decay * p[i];
      m[i] = beta1 * m[i] + (T(1) - beta1) * gi;
      v[i] = beta2 * v[i] + (T(1) - beta2) * gi * gi;
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
    }
  });
}

// SGD step from a factored gradient g = sum_k u[k]^T v[k] (u (n, rows), v (n, cols)),
// without momentum: p -= lr * (g + weight_decay * p). Rows split across threads; each
// element's arithmetic is the same for any thread count. (Fast float version in optim.cpp.)
void sgd_factored_update(float* p, int rows, int cols, const float* u, const float* v, int n, float lr, float weight_decay);

// The same, plainly: the reference the fast version is tested against.
template <class T>
void sgd_factored_update_reference(T* p, int rows, int cols, const T* u, const T* v, int n, T lr, T weight_decay) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      T g = weight_decay * p[static_cast<int64_t>(r) * cols + c];
      for (int k = 0; k < n; ++k) g += u[static_cast<int64_t>(k) * rows + r] * v[static_cast<int64_t>(k) * cols + c];
      p[static_cast<int64_t>(r) * cols + c] -= lr * g;
    }
}

// Sum of squares in double (sequential: thread-count independent).
template <class T>
double sum_squares(const T* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
  return s;
}

template <class T>
void scale_inplace(T* g, int64_t n, T factor) {
  for (int64_t i = 0; i < n; ++i) g[i] *= factor;
}

}  // namespace dc::cpu
