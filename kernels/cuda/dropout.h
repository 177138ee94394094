// CUDA inverted dropout with the contract of kernels/cpu/dropout.h: keep element i iff
// uniform01(seed, stream, i) >= p (engine/rng.h, the same Philox4x32-10 on both backends,
// so the masks are bit-identical to the CPU's), kept values scaled by 1 / (1 - p) computed
// in float exactly as the CPU does. Backward recomputes the mask. One thread per element
// (grid-stride, 64-bit indices). Device pointers; launches on the process stream.
#pragma once

#include <cstdint>

#include "kernels/cpu/dropout.h"

namespace dc::kernels::cuda {

void dropout_forward(float* y, const float* x, int64_t n, float p, cpu::DropoutKey key);
void dropout_backward(float* dx, GradMode dx_mode, const float* dy, int64_t n, float p, cpu::DropoutKey key);

}  // namespace dc::kernels::cuda
