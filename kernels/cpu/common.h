// Shared helpers for the CPU kernels. Every kernel is a free function templated on the
// scalar type T: the engine runs them in float, the gradient tests in double.
#pragma once

#include <cstdint>

#include "engine/tensor.h"  // GradMode

namespace dc::cpu {

// Writes or accumulates one gradient element according to the buffer's GradMode.
template <class T>
inline void put(T* d, int64_t i, T v, GradMode mode) {
  if (mode == GradMode::Overwrite) d[i] = v;
  else d[i] += v;
}

}  // namespace dc::cpu
