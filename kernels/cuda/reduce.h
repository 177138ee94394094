// The deterministic device reduction behind cuda::sum_forward (kernels/contract/reduce.h)
// and cuda::sum_squares_accumulate (kernels/contract/optim.h): sums in double in a fixed
// shape (per-block partials in device scratch, then one block adds them in a fixed order),
// so the same input always gives the same bits.
#pragma once

#include <cstdint>

namespace dc::kernels::cuda::detail {

// s = sum_i x[i] (squares: x[i]^2) in double; then out_float[0] = float(s) when out_float is
// given, else out_double[0] += s. Per-block partials live in device scratch `scratch_slot`.
void reduce_sum(const float* x, int64_t n, bool squares, float* out_float, double* out_double, int scratch_slot);

}  // namespace dc::kernels::cuda::detail
