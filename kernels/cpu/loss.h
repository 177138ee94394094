// Softmax-family ops and losses.
//   log_softmax : x (R, C) -> y (R, C), over the last axis (max-shifted for stability)
//   nll_loss    : logp (R, C), target (R) class index -> mean_r -logp[r, target[r]]
//   bce_with_logits: z (R), t (R) in [0,1] -> mean_r [max(z,0) - z t + log(1 + exp(-|z|))]
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

template <class T>
void log_softmax_forward(T* y, const T* x, int R, int C) {
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

// dx = dy - softmax * sum(dy), softmax = exp(y).
template <class T>
void log_softmax_backward(T* dx, GradMode dx_mode, const T* dy, const T* y, int R, int C) {
  for (int r = 0; r < R; ++r) {
    const int64_t o = static_cast<int64_t>(r) * C;
    T s = 0;
    for (int c = 0; c < C; ++c) s += dy[o + c];
    for (int c = 0; c < C; ++c) put(dx, o + c, dy[o + c] - std::exp(y[o + c]) * s, dx_mode);
  }
}

// Targets are stored as floats holding class indices (exactly representable).
template <class T>
T nll_loss_forward(const T* logp, const T* target, int R, int C) {
  T s = 0;
  for (int r = 0; r < R; ++r) s -= logp[static_cast<int64_t>(r) * C + static_cast<int>(target[r])];
  return s / T(R);
}

template <class T>
void nll_loss_backward(T* dlogp, GradMode mode, T dloss, const T* target, int R, int C) {
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      put(dlogp, static_cast<int64_t>(r) * C + c, c == static_cast<int>(target[r]) ? -dloss / T(R) : T(0), mode);
}

template <class T>
T bce_with_logits_forward(const T* z, const T* t, int R) {
  T s = 0;
  for (int r = 0; r < R; ++r) s += (z[r] > T(0) ? z[r] : T(0)) - z[r] * t[r] + std::log1p(std::exp(-std::fabs(z[r])));
  return s / T(R);
}

// dz = (sigmoid(z) - t) / R * dloss
template <class T>
void bce_with_logits_backward(T* dz, GradMode mode, T dloss, const T* z, const T* t, int R) {
  for (int r = 0; r < R; ++r) {
    const T sig = z[r] >= T(0) ? T(1) / (T(1) + std::exp(-z[r])) : std::exp(z[r]) / (T(1) + std::exp(z[r]));
    put(dz, r, (sig - t[r]) * dloss / T(R), mode);
  }
}

}  // namespace dc::cpu
