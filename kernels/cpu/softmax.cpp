// CPU kernels of the `softmax` family (kernels/contract/softmax.h): the reference's
// arithmetic (each exp computed once and kept in y until the row sum is known), rows split
// across the threads. A row's sums run over its columns in order: the same bits for any
// thread count.
#include "kernels/contract/softmax.h"

#include <cmath>

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

// exp costs some 10 ns: a few thousand rows' worth of work pays for a parallel region.
constexpr int64_t kThreadsFrom = 16384;

void forward_rows(float* y, const float* x, int C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float m = xr[0];
    for (int c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
    float s = 0.0f;
    for (int c = 0; c < C; ++c) {
      yr[c] = std::exp(xr[c] - m);
      s += yr[c];
    }
    for (int c = 0; c < C; ++c) yr[c] = yr[c] / s;
  }
}

void backward_rows(GradOut<float> dx, const float* dy, const float* y, int C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    float s = 0.0f;
    for (int c = 0; c < C; ++c) s += dy[o + c] * y[o + c];
    if (dx.accumulate())
      for (int c = 0; c < C; ++c) dx.data[o + c] += y[o + c] * (dy[o + c] - s);
    else
      for (int c = 0; c < C; ++c) dx.data[o + c] = y[o + c] * (dy[o + c] - s);
  }
}

}  // namespace

void softmax_forward(float* y, const float* x, int64_t R, int C) {
  if (R <= 0 || C <= 0) return;
  parallel_for_if(R * C > kThreadsFrom, R, [&](int64_t r0, int64_t r1) { forward_rows(y, x, C, r0, r1); });
}

void softmax_backward(GradOut<float> dx, const float* dy, const float* y, int64_t R, int C) {
  if (!dx || R <= 0 || C <= 0) return;
  parallel_for_if(R * C > kThreadsFrom, R, [&](int64_t r0, int64_t r1) { backward_rows(dx, dy, y, C, r0, r1); });
}

}  // namespace dc::kernels::cpu
