// CUDA twins of kernels/cpu/elementwise.h: activations (relu, tanh, sigmoid) and binary
// add / mul over n contiguous device elements. Same signatures and semantics as the fast
// CPU functions; a null gradient pointer means "not needed". Plain C++ header.
#pragma once

#include <cstdint>

#include "kernels/cpu/elementwise.h"

namespace dc::kernels::cuda {

void activation_forward(float* y, const float* x, int64_t n, cpu::Activation a);
// dx (=|+=) dy * activation'(y), from the saved output y.
void activation_backward(float* dx, GradMode dx_mode, const float* dy, const float* y, int64_t n, cpu::Activation a);

void binary_forward(float* y, const float* a, const float* b, int64_t n, cpu::Binary op);
// da (=|+=) dy (add) or dy * b (mul); db (=|+=) dy (add) or dy * a (mul). Element i of da is
// written before element i of db, so da == db (x + x, x * x) sums both terms as on the CPU.
void binary_backward(float* da, GradMode da_mode, float* db, GradMode db_mode, const float* dy, const float* a,
                     const float* b, int64_t n, cpu::Binary op);

}  // namespace dc::kernels::cuda
