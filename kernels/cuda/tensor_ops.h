// Device kernels for the data movement the engine does itself rather than through an op
// family's kernels: gradient copies / accumulation, swapping two axes (transpose), scalar
// updates (seeding backward, mean's scale, the trainer's running loss). Plain C++ header;
// all pointers are device pointers; everything is queued on the process stream.
#pragma once

#include <cstdint>

#include "engine/tensor.h"  // GradMode

namespace dc::kernels::cuda {

// dst[i] (=|+=) src[i] for i < n (Overwrite is a device-to-device copy).
void put(float* dst, GradMode mode, const float* src, int64_t n);

// A contiguous tensor viewed as (outer, n0, mid, n1, inner) around the two axes being
// swapped (outer: the dims before the first, mid: between them, inner: after the second).
struct SwapAxesShape {
  int64_t outer, n0, mid, n1, inner;
  int64_t numel() const { return outer * n0 * mid * n1 * inner; }
};
// y (outer, n1, mid, n0, inner) (=|+=) x (outer, n0, mid, n1, inner) with the two axes
// swapped: y[o, j, m, i, c] = x[o, i, m, j, c]. The backward of a swap is the same call on
// the output's view (n0 and n1 exchanged).
void swap_axes(float* y, GradMode mode, const float* x, SwapAxesShape s);

// p[0] (=|+=) value.
void put_scalar(float* p, GradMode mode, float value);

// p[i] *= factor for i < n.
void scale(float* p, int64_t n, float factor);

// acc[0] += double(x[0]) * weight (a running sum kept on the device, read back rarely).
void accumulate_scaled(double* acc, const float* x, double weight);

// Clears the runtime's last-error state after a failure that was handled (e.g. a failed
// allocation that the caching allocator retried), so the next launch check does not
// report it again.
void clear_last_error();

}  // namespace dc::kernels::cuda
