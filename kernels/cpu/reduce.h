// Full reductions to a scalar: sum and mean. Summed sequentially in double so the result
// does not depend on the thread count.
#pragma once

#include <cstdint>

#include "kernels/cpu/common.h"

namespace dc::cpu {

template <class T>
T sum_forward(const T* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  return static_cast<T>(s);
}

// dx = dy * scale for every element (scale = 1 for sum, 1/n for mean).
template <class T>
void fill_backward(T* dx, GradMode mode, T value, int64_t n) {
  for (int64_t i = 0; i < n; ++i) put(dx, i, value, mode);
}

}  // namespace dc::cpu
