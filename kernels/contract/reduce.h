// Op family `sum` (sum and mean of a whole tensor), and the running sum the trainer keeps
// on the tensors' device.
//   sum_forward  : y[0] = float(sum_i x[i]) * scale    (scale 1 for sum, 1/n for mean)
//   fill_backward: dx[i] (=|+=) float(dy[0] * scale) for every element
//   accumulate_scaled: acc[0] += double(x[0]) * weight (the trainer's running loss)
// Sums run in double in a fixed order (on CUDA: per-block partials added in a fixed order),
// so the same input always gives the same bits, whatever the thread count. Scalars (y, dy,
// acc) live on the kernel's device.
#pragma once

#include <cstdint>

#include "kernels/base/grad.h"

namespace dc::kernels {

template <class T>
void sum_forward_reference(T* y, const T* x, int64_t n, T scale) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  *y = static_cast<T>(s) * scale;
}

template <class T>
void fill_backward_reference(GradOut<T> dx, const T* dy, T scale, int64_t n) {
  const T v = *dy * scale;
  for (int64_t i = 0; i < n; ++i) dx.put(i, v);
}

namespace cpu {
void sum_forward(float* y, const float* x, int64_t n, float scale);
void fill_backward(GradOut<float> dx, const float* dy, float scale, int64_t n);
void accumulate_scaled(double* acc, const float* x, double weight);
}  // namespace cpu

namespace cuda {
void sum_forward(float* y, const float* x, int64_t n, float scale);
void fill_backward(GradOut<float> dx, const float* dy, float scale, int64_t n);
void accumulate_scaled(double* acc, const float* x, double weight);
}  // namespace cuda

}  // namespace dc::kernels
