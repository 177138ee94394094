// Max-pooling along the last axis (torch.nn.MaxPool1d, no padding, floor mode).
//   forward : x (R, L) -> y (R, LOUT), LOUT = (L - K) / stride + 1, argmax (R, LOUT) records
//             the winning position in each window (first maximum on ties, as torch);
//             R is every leading axis flattened (N * C).
//   backward: dx (R, L) gets dy at the recorded positions, zero elsewhere.
#pragma once

#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

struct Pool1dShape {
  int R, L, K, stride;
  int LOUT() const { return (L - K) / stride + 1; }
};

template <class T>
void maxpool1d_forward(T* y, int32_t* argmax, const T* x, Pool1dShape s) {
  const int LOUT = s.LOUT();
  parallel_for(s.R, 50000 / (s.L > 0 ? s.L : 1), [&](int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int l = 0; l < LOUT; ++l) {
      const T* win = x + static_cast<int64_t>(r) * s.L + l * s.stride;
      int best = 0;
      for (int k = 1; k < s.K; ++k)
        if (win[k] > win[best] || (win[k] != win[k] && win[best] == win[best])) best = k;  // NaN wins, as torch
      y[static_cast<int64_t>(r) * LOUT + l] = win[best];
      argmax[static_cast<int64_t>(r) * LOUT + l] = l * s.stride + best;
    }
  });
}

template <class T>
void maxpool1d_backward(T* dx, GradMode dx_mode, const T* dy, const int32_t* argmax, Pool1dShape s) {
  const int LOUT = s.LOUT();
  parallel_for(s.R, 50000 / (s.L > 0 ? s.L : 1), [&](int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    T* row = dx + static_cast<int64_t>(r) * s.L;
    if (dx_mode == GradMode::Overwrite)
      for (int p = 0; p < s.L; ++p) row[p] = T(0);
    for (int l = 0; l < LOUT; ++l) row[argmax[static_cast<int64_t>(r) * LOUT + l]] += dy[static_cast<int64_t>(r) * LOUT + l];
  }
  });
}

// Fast float forward: branch-free window maximum (same results and argmax as above).
void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s);

}  // namespace dc::cpu
