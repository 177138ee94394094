// Op family `softmax`: softmax over the last axis of any tensor, viewed as R rows of C.
//   forward : y[r, c] = exp(x[r, c] - m_r) / sum_c' exp(x[r, c'] - m_r),  m_r = max_c x[r, c]
//             (the max shift keeps exp finite for any input)
//   backward: dx[r, c] = y[r, c] * (dy[r, c] - sum_c' dy[r, c'] y[r, c'])   (from the saved y)
// Every row's sums run over c in order on the CPU; rows are independent, so the result does
// not depend on the thread count.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

template <class T>
void softmax_forward_reference(T* y, const T* x, int64_t R, int C) {
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    T m = xr[0];
    for (int c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
    T s = 0;
    for (int c = 0; c < C; ++c) s += std::exp(xr[c] - m);
    for (int c = 0; c < C; ++c) yr[c] = std::exp(xr[c] - m) / s;
  }
}

template <class T>
void softmax_backward_reference(GradOut<T> dx, const T* dy, const T* y, int64_t R, int C) {
  for (int64_t r = 0; r < R; ++r) {
    const int64_t o = r * C;
    T s = 0;
    for (int c = 0; c < C; ++c) s += dy[o + c] * y[o + c];
    for (int c = 0; c < C; ++c) dx.put(o + c, y[o + c] * (dy[o + c] - s));
  }
}

namespace cpu {
void softmax_forward(float* y, const float* x, int64_t R, int C);
void softmax_backward(GradOut<float> dx, const float* dy, const float* y, int64_t R, int C);
}  // namespace cpu

namespace cuda {
void softmax_forward(float* y, const float* x, int64_t R, int C);
void softmax_backward(GradOut<float> dx, const float* dy, const float* y, int64_t R, int C);
}  // namespace cuda

}  // namespace dc::kernels
