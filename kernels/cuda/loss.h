// CUDA twins of kernels/cpu/loss.h: log-softmax over the last axis, NLL and BCE-with-logits.
// The losses stay on the device: `loss` (forward output) and `dloss` (the loss gradient the
// backward reads) are one-float DEVICE scalars, so a training step never waits for the host.
// Loss sums are single-block fixed-order reductions (in double): deterministic run to run.
#pragma once

#include "kernels/cpu/loss.h"

namespace dc::kernels::cuda {

// y (R, C) = x - logsumexp(x) per row (max-shifted). One warp per row.
void log_softmax_forward(float* y, const float* x, int R, int C);
// dx (=|+=) dy - exp(y) * sum_c dy, per row.
void log_softmax_backward(float* dx, GradMode dx_mode, const float* dy, const float* y, int R, int C);

// loss[0] = mean_r -logp[r, target[r]] (targets are floats holding class indices; an index
// outside [0, C) makes the loss NaN instead of reading out of bounds).
void nll_loss_forward(float* loss, const float* logp, const float* target, int R, int C);
// dlogp (=|+=) -dloss[0] / R at each row's target, 0 elsewhere.
void nll_loss_backward(float* dlogp, GradMode mode, const float* dloss, const float* target, int R, int C);

// loss[0] = mean_r [max(z,0) - z t + log(1 + exp(-|z|))].
void bce_with_logits_forward(float* loss, const float* z, const float* t, int R);
// dz (=|+=) (sigmoid(z) - t) * dloss[0] / R.
void bce_with_logits_backward(float* dz, GradMode mode, const float* dloss, const float* z, const float* t, int R);

}  // namespace dc::kernels::cuda
