// CUDA max-pooling along the last axis with the contract of kernels/cpu/pool.h (no padding,
// floor mode; argmax int32 = the winning input position, first maximum on ties, a NaN wins
// once, as torch and the CPU kernels). Device pointers; launches on the process stream.
//   forward : one thread per output element scans its window.
//   backward: one thread per input element gathers dy from the windows that cover it and
//             chose it (no atomics, race-free for overlapping windows), adding in window
//             order onto 0 (Overwrite) or the old value (Accumulate): bit-identical to the CPU.
#pragma once

#include <cstdint>

#include "kernels/cpu/pool.h"

namespace dc::kernels::cuda {

void maxpool1d_forward(float* y, int32_t* argmax, const float* x, cpu::Pool1dShape s);
void maxpool1d_backward(float* dx, GradMode dx_mode, const float* dy, const int32_t* argmax, cpu::Pool1dShape s);

}  // namespace dc::kernels::cuda
