#include "kernels/contract/optim.h"

#include "kernels/cpu/common.h"

#include <cmath>

namespace dc::kernels::cpu {

// One compiled loop for every caller (the SGD step and linear's update in the backward pass),
// so that the compiler's choice of fused multiply-adds, and with it the bits, is the same.
DC_CPU_CLONES void sgd_rank1_row(float* row, const float* v, float a, int cols, float lr, float weight_decay) {
#pragma omp simd
  for (int c = 0; c < cols; ++c) row[c] -= lr * (weight_decay * row[c] + a * v[c]);
}

namespace {

DC_CPU_CLONES void factored_rows(float* p, int rows, int cols, const float* u, const float* v, int n,
                                                         float lr, float weight_decay, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    float* row = p + r * cols;
    if (n == 1) {
      const float a0 = u[r];
      // A zero factor (ReLU zeroes about half of a layer's output gradient) without weight
      // decay leaves the row as it is: skip it rather than sweep it for nothing.
      if (a0 == 0.0f && weight_decay == 0.0f) continue;
      sgd_rank1_row(row, v, a0, cols, lr, weight_decay);
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

void sgd_factored_update(float* p, int rows, int cols, const float* u, const float* v, int n, float lr, float weight_decay) {
  if (use_threads(1LL * rows * cols, 100000)) {
    run_team([&] {
      const Range r = thread_range(rows);
      factored_rows(p, rows, cols, u, v, n, lr, weight_decay, r.begin, r.end);
    });
  } else {
    factored_rows(p, rows, cols, u, v, n, lr, weight_decay, 0, rows);
  }
}

void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first_step) {
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float gi = (g ? g[i] : 0.0f) + weight_decay * p[i];
      if (buf) {
        buf[i] = first_step ? gi : momentum * buf[i] + gi;
        gi = buf[i];
      }
      p[i] -= lr * gi;
    }
  });
}

namespace {

// The Adam step over [b, e), one compiled loop (its square roots and divisions in vectors:
// the kernels are built without errno from sqrt, so the loop vectorises).
DC_CPU_CLONES void adam_rows(float* p, const float* g, float* m, float* v, int64_t b, int64_t e, float beta1,
                             float beta2, float eps, float weight_decay, float step_size, float sqrt_bc2) {
#pragma omp simd
  for (int64_t i = b; i < e; ++i) {
    const float gi = (g ? g[i] : 0.0f) + weight_decay * p[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
  }
}

}  // namespace

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int64_t step) {
  const float bc1 = 1.0f - std::pow(beta1, static_cast<float>(step)), bc2 = 1.0f - std::pow(beta2, static_cast<float>(step));
  const float step_size = lr / bc1, sqrt_bc2 = std::sqrt(bc2);
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    adam_rows(p, g, m, v, b, e, beta1, beta2, eps, weight_decay, step_size, sqrt_bc2);
  });
}

void rmsprop_update(float* p, const float* g, float* m, int64_t n, float lr, float alpha, float eps) {
  parallel_for(n, 100000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float gi = g ? g[i] : 0.0f;
      m[i] = alpha * m[i] + (1.0f - alpha) * gi * gi;
      p[i] -= lr * gi / (std::sqrt(m[i]) + eps);
    }
  });
}

// Sequential in double: the same bits for any thread count.
void sum_squares_accumulate(double* total, const float* g, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(g[i]) * g[i];
  *total += s;
}

void clip_scale(float* g, int64_t n, const double* total, double max_norm) {
  const double factor = max_norm / (std::sqrt(*total) + 1e-6);
  if (!(factor < 1.0)) return;
  const float f = static_cast<float>(factor);
  for (int64_t i = 0; i < n; ++i) g[i] *= f;
}

}  // namespace dc::kernels::cpu
