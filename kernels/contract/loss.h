// Op families `log_softmax`, `nll_loss` and `bce_with_logits`.
//   log_softmax    : x (R, C) -> y (R, C), over the last axis (max-shifted for stability);
//                    backward dx = dy - softmax * sum(dy), softmax = exp(y)
//   nll_loss       : logp (R, C), target (R) class index -> mean_r -logp[r, target[r]]
//   bce_with_logits: z (R), t (R) in [0,1] -> mean_r [max(z,0) - z t + log(1 + exp(-|z|))];
//                    backward dz = (sigmoid(z) - t) / R * dloss
// Targets are stored as floats holding class indices (exactly representable). The float
// kernels write the loss to a one-element buffer and read its gradient from one, on the
// kernel's device, so a training step on a GPU never waits for a scalar.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

template <class T>
void log_softmax_forward_reference(T* y, const T* x, int R, int C) {
  for (int r = 0; r < R; ++r) {
    const T* xr = x + static_cast<int64_t>(r) * C;
    T* yr = y + static_cast<int64_t>(r) * C;
    T m = xr[0];
    for (int c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
    T s = 0;
    for (int c = 0; c < C; ++c) s += std::exp(xr[c] - m);
    const T lse = m + std::log(s);
    for (int c = 0; c < C; ++c) yr[c] = xr[c] - lse;
  }
}

template <class T>
void log_softmax_backward_reference(GradOut<T> dx, const T* dy, const T* y, int R, int C) {
  for (int r = 0; r < R; ++r) {
    const int64_t o = static_cast<int64_t>(r) * C;
    T s = 0;
    for (int c = 0; c < C; ++c) s += dy[o + c];
    for (int c = 0; c < C; ++c) dx.put(o + c, dy[o + c] - std::exp(y[o + c]) * s);
  }
}

template <class T>
void nll_loss_forward_reference(T* loss, const T* logp, const T* target, int R, int C) {
  T s = 0;
  for (int r = 0; r < R; ++r) s -= logp[static_cast<int64_t>(r) * C + static_cast<int>(target[r])];
  *loss = s / T(R);
}

template <class T>
void nll_loss_backward_reference(GradOut<T> dlogp, const T* dloss, const T* target, int R, int C) {
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      dlogp.put(static_cast<int64_t>(r) * C + c, c == static_cast<int>(target[r]) ? -*dloss / T(R) : T(0));
}

template <class T>
void bce_with_logits_forward_reference(T* loss, const T* z, const T* t, int R) {
  T s = 0;
  for (int r = 0; r < R; ++r) s += (z[r] > T(0) ? z[r] : T(0)) - z[r] * t[r] + std::log1p(std::exp(-std::fabs(z[r])));
  *loss = s / T(R);
}

template <class T>
void bce_with_logits_backward_reference(GradOut<T> dz, const T* dloss, const T* z, const T* t, int R) {
  for (int r = 0; r < R; ++r) {
    const T sig = z[r] >= T(0) ? T(1) / (T(1) + std::exp(-z[r])) : std::exp(z[r]) / (T(1) + std::exp(z[r]));
    dz.put(r, (sig - t[r]) * *dloss / T(R));
  }
}

namespace cpu {
void log_softmax_forward(float* y, const float* x, int R, int C);
void log_softmax_backward(GradOut<float> dx, const float* dy, const float* y, int R, int C);
void nll_loss_forward(float* loss, const float* logp, const float* target, int R, int C);
void nll_loss_backward(GradOut<float> dlogp, const float* dloss, const float* target, int R, int C);
void bce_with_logits_forward(float* loss, const float* z, const float* t, int R);
void bce_with_logits_backward(GradOut<float> dz, const float* dloss, const float* z, const float* t, int R);
}  // namespace cpu

namespace cuda {
void log_softmax_forward(float* y, const float* x, int R, int C);
void log_softmax_backward(GradOut<float> dx, const float* dy, const float* y, int R, int C);
void nll_loss_forward(float* loss, const float* logp, const float* target, int R, int C);
void nll_loss_backward(GradOut<float> dlogp, const float* dloss, const float* target, int R, int C);
void bce_with_logits_forward(float* loss, const float* z, const float* t, int R);
void bce_with_logits_backward(GradOut<float> dz, const float* dloss, const float* z, const float* t, int R);
}  // namespace cuda

}  // namespace dc::kernels
