// CUDA twins of kernels/cpu/slice.h: slicing and joining along one axis of a contiguous
// tensor viewed as (outer, len, inner). `xs`, `dxs`, `lens` and `modes` are HOST arrays;
// the pointers in xs / dxs are device pointers. A null dxs[i] is skipped; inputs are
// written in order, so one buffer listed twice sums both bands when the later entry says
// Accumulate (as on the CPU).
#pragma once

#include <cstdint>

#include "kernels/cpu/slice.h"

namespace dc::kernels::cuda {

void slice_forward(float* y, const float* x, cpu::AxisView v, int64_t start, int64_t end);
void slice_backward(float* dx, GradMode mode, const float* dy, cpu::AxisView v, int64_t start, int64_t end);

void concat_forward(float* y, const float* const* xs, const int64_t* lens, int n, int64_t outer, int64_t inner);
void concat_backward(float* const* dxs, const GradMode* modes, const float* dy, const int64_t* lens, int n, int64_t outer,
                     int64_t inner);

}  // namespace dc::kernels::cuda
