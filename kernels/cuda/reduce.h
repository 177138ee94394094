// CUDA twins of kernels/cpu/reduce.h: a full sum to a device scalar and its backward fill.
// Sums run in double in a fixed shape (per-block partials in device scratch, then one block
// adds them in a fixed order), so the same input always gives the same bits.
#pragma once

#include <cstdint>

#include "kernels/cpu/reduce.h"

namespace dc::kernels::cuda {

// out[0] = float(sum_i x[i]) (device scalar). n = 0 gives 0. Uses device scratch slot 5.
void sum_forward(float* out, const float* x, int64_t n);

// dx (=|+=) value[0] * scale for every element (value: device scalar; scale: 1 for sum,
// 1/n for mean). value[0] * scale is rounded to float first, as on the CPU.
void fill_backward(float* dx, GradMode mode, const float* value, float scale, int64_t n);

namespace detail {
// The deterministic reduction behind sum_forward and sum_squares_accumulate (optim.h):
// s = sum_i x[i] (squares: x[i]^2) in double; then out_float[0] = float(s) when out_float is
// given, else out_double[0] += s. Per-block partials live in device scratch `scratch_slot`.
void reduce_sum(const float* x, int64_t n, bool squares, float* out_float, double* out_double, int scratch_slot);
}  // namespace detail

}  // namespace dc::kernels::cuda
