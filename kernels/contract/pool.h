// Op family `max_pool1d`: max-pooling along the last axis (torch.nn.MaxPool1d, no padding,
// floor mode).
//   forward : x (R, L) -> y (R, LOUT), LOUT = (L - K) / stride + 1; argmax (R, LOUT) records
//             the winning position in each window (the first maximum on ties, and a NaN wins,
//             as torch); R is every leading axis flattened (N * C).
//   backward: dx (R, L) gets dy at the recorded positions, zero elsewhere.
#pragma once

#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

struct Pool1dShape {
  int R, L, K, stride;
  int LOUT() const { return (L - K) / stride + 1; }
};

template <class T>
void maxpool1d_forward_reference(T* y, int32_t* argmax, const T* x, Pool1dShape s) {
  const int LOUT = s.LOUT();
  for (int64_t r = 0; r < s.R; ++r)
    for (int l = 0; l < LOUT; ++l) {
      const T* win = x + r * s.L + l * s.stride;
      int best = 0;
      for (int k = 1; k < s.K; ++k)
        if (win[k] > win[best] || (win[k] != win[k] && win[best] == win[best])) best = k;
      y[r * LOUT + l] = win[best];
      argmax[r * LOUT + l] = l * s.stride + best;
    }
}

template <class T>
void maxpool1d_backward_reference(GradOut<T> dx, const T* dy, const int32_t* argmax, Pool1dShape s) {
  const int LOUT = s.LOUT();
  for (int64_t r = 0; r < s.R; ++r) {
    T* row = dx.data + r * s.L;
    if (!dx.accumulate())
      for (int p = 0; p < s.L; ++p) row[p] = T(0);
    for (int l = 0; l < LOUT; ++l) row[argmax[r * LOUT + l]] += dy[r * LOUT + l];
  }
}

namespace cpu {
void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s);
void maxpool1d_backward(GradOut<float> dx, const float* dy, const int32_t* argmax, Pool1dShape s);
}  // namespace cpu

namespace cuda {
void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s);
void maxpool1d_backward(GradOut<float> dx, const float* dy, const int32_t* argmax, Pool1dShape s);
}  // namespace cuda

}  // namespace dc::kernels
