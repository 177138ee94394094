// CUDA twins of kernels/cpu/optim.h: fused SGD / Adam updates (the same formulas, evaluated
// in the same order without fused multiply-adds, so they match the CPU bit for bit where
// the CPU does not fuse either) and gradient-norm clipping that never leaves the device.
// A null g means "no gradient this step" (zero); a null buf is SGD without momentum.
#pragma once

#include <cstdint>

#include "kernels/cpu/optim.h"

namespace dc::kernels::cuda {

void sgd_update(float* p, const float* g, float* buf, int64_t n, float lr, float momentum, float weight_decay,
                bool first_step);

void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2, float eps,
                 float weight_decay, int64_t step);

// total[0] += sum_i double(g[i])^2 (device double). Deterministic (fixed-shape two-pass
// reduction; device scratch slot 6).
void sum_squares_accumulate(double* total, const float* g, int64_t n);

// factor = max_norm / (sqrt(total[0]) + 1e-6), in double (engine/optim.cpp clip_grad_norm);
// when factor < 1, g[i] *= float(factor), else g is left untouched.
void clip_scale(float* g, int64_t n, const double* total, double max_norm);

}  // namespace dc::kernels::cuda
