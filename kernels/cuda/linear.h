// CUDA fully connected layer with the contract of kernels/cpu/linear.h:
//   forward : y (N, OUT) = x (N, IN) w^T + b      (b may be null)
//   backward: dx = dy w, dw = dy^T x, db = column sums of dy; GradMode per gradient,
//             a null gradient pointer skips that work.
// The products go through cuBLAS (kernels/cuda/gemm.h sgemm; beta = 0 for Overwrite, 1 for
// Accumulate); the bias is added by a broadcast kernel and its gradient is a fixed-order
// column reduction (deterministic). Device pointers; launches on the process stream.
#pragma once

#include "kernels/cpu/linear.h"

namespace dc::kernels::cuda {

void linear_forward(float* y, const float* x, const float* w, const float* b, cpu::LinearShape s);
void linear_backward(float* dx, GradMode dx_mode, float* dw, GradMode dw_mode, float* db, GradMode db_mode,
                     const float* dy, const float* x, const float* w, cpu::LinearShape s);

}  // namespace dc::kernels::cuda
