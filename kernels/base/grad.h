// How a kernel writes a gradient: one type for every gradient output of every kernel.
//
// Parameter gradients may be the sum of several contributions (a weight used twice, a
// gradient accumulated over calls), so each gradient buffer comes with a mode: the engine
// passes Overwrite for the first contribution to a buffer after zero_grad() or creation and
// Accumulate for later ones, so no gradient buffer ever needs a memset. A null `data` means
// "this gradient is not needed": the kernel skips that work.
#pragma once

#include <cstdint>

#include "kernels/base/portable.h"

namespace dc {

enum class GradMode { Overwrite, Accumulate };

template <class T>
struct GradOut {
  T* data = nullptr;
  GradMode mode = GradMode::Overwrite;

  DC_HOST_DEVICE explicit operator bool() const { return data != nullptr; }
  DC_HOST_DEVICE bool accumulate() const { return mode == GradMode::Accumulate; }
  // data[i] = v (Overwrite) or data[i] += v (Accumulate).
  DC_HOST_DEVICE void put(int64_t i, T v) const {
    if (mode == GradMode::Overwrite) data[i] = v;
    else data[i] += v;
  }
};

}  // namespace dc
