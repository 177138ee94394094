// Op family `optim`: fused parameter updates over n contiguous elements (torch semantics) and
// gradient-norm clipping.
//   sgd : g' = g + wd*p ; buf = momentum*buf + g' (buf = g' on the first step) ; p -= lr*buf
//         (momentum 0 / null buf: p -= lr*g')
//   adam: m = b1 m + (1-b1) g' ; v = b2 v + (1-b2) g'^2 ;
//         p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps), bc_i = 1 - b_i^t
//   rmsprop: m = alpha m + (1-alpha) g^2 ; p -= lr g / (sqrt(m) + eps)   (torch7 optim.rmsprop,
//         m starting at 0; the explain module's class-model optimisation)
//   sum_squares_accumulate: total[0] += sum_i double(g[i])^2 (fixed order: deterministic)
//   clip_scale: factor = max_norm / (sqrt(total[0]) + 1e-6) in double; when factor < 1,
//               g[i] *= float(factor), else g is left untouched (torch's clip_grad_norm_)
// A null g means "no gradient this step" (zero). `total` lives on the kernel's device, so
// clipping on a GPU never waits for the host. The CUDA updates evaluate the same formulas in
// the same order without fused multiply-adds, so they match the CPU bit for bit where the
// CPU does not fuse either.
#pragma once

#include <cmath>
#include <cstdint>

namespace dc::kernels {

template <class T>
void sgd_update_reference(T* p, const T* g, T* buf, int64_t n, T lr, T momentum, T weight_decay, bool first_step) {
  for (int64_t i = 0; i < n; ++i) {
    T gi = (g ? g[i] : T(0)) + weight_decay * p[i];
    if (buf) {
      buf[i] = first_step ? gi : momentum * buf[i] + gi;
      gi = buf[i];
    }
    p[i] -= lr * gi;
  }
}

template <class T>
void adam_update_reference(T* p, const T* g, T* m, T* v, int64_t n, T lr, T beta1, T beta2, T eps, T weight_decay,
                           int64_t step) {
  const T bc1 = T(1) - std::pow(beta1, T(step)), bc2 = T(1) - std::pow(beta2, T(step));
  const T step_size = lr / bc1, sqrt_bc2 = std::sqrt(bc2);
  for (int64_t i = 0; i < n; ++i) {
    const T gi = (g ? g[i] : T(0)) + weight_decay * p[i];
    m[i] = beta1 * m[i] + (T(1) - beta1) * gi;
    v[i] = beta2 * v[i] + (T(1) - beta2) * gi * gi;
    p[i] -= step_size * m[i] / (std::sqrt(v[i]) / sqrt_bc2 + eps);
  }
}

template <class T>
void rmsprop_update_reference(T* p, const T* g, T* m, int64_t n, T lr, T alpha, T eps) {
  for (int64_t i = 0; i < n; ++i) {
    const T gi = g ? g[i] : T(0);
    m[i] = alpha * m[i] + (T(1) - alpha) * gi * gi;
    p[i] -= lr * gi / (std::sqrt(m[i]) + eps);
  }
}

// SGD step from a factored gradient g = sum_k u[k]^T v[k] (u (n, rows), v (n, cols)), without
// momentum: p -= lr * (g + weight_decay * p). CPU only: the engine keeps a linear layer's
// weight gradient factored for a batch of one (engine/tensor.h FactoredGrad).
template <class T>
void sgd_factored_update_reference(T* p, int rows, int cols, const T* u, const T* v, int n, T lr, T weight_decay) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      T g = weight_decay * p[static_cast<int64_t>(r) * cols + c];
      for (int k = 0; k < n; ++k) g += u[static_cast<int64_t>(k) * rows + r] * v[static_cast<int64_t>(k) * cols + c];
      p[static_cast<int64_t>(r) * cols + c] -= lr * g;
    }
}

namespace cpu {
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first_step);
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int64_t step);
void rmsprop_update(float* p, const float* g, float* m, int64_t n, float lr, float alpha, float eps);
void sum_squares_accumulate(double* total, const float* g, int64_t n);
void clip_scale(float* g, int64_t n, const double* total, double max_norm);
void sgd_factored_update(float* p, int rows, int cols, const float* u, const float* v, int n, float lr, float weight_decay);
// One row of it for n = 1: row -= lr (weight_decay row + a v) (also linear_rank1_backward_sgd's).
void sgd_rank1_row(float* row, const float* v, float a, int cols, float lr, float weight_decay);
}  // namespace cpu

namespace cuda {
void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first_step);
void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int64_t step);
void rmsprop_update(float* p, const float* g, float* m, int64_t n, float lr, float alpha, float eps);
void sum_squares_accumulate(double* total, const float* g, int64_t n);
void clip_scale(float* g, int64_t n, const double* total, double max_norm);
}  // namespace cuda

}  // namespace dc::kernels
