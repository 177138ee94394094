// CUDA LSTM: the same batched single-layer LSTM as kernels/contract/lstm.h (G groups with their
// own weights, D directions, torch.nn.LSTM gates (i, f, g, o), zero initial states), with
// the same host signatures. Every pointer is a device pointer, including the ones inside
// LstmParams / LstmParamGrads (the vectors themselves live on the host).
//
// Workspace: lstm_workspace_size(s) floats, as on the CPU, but with this backend's own
// layout (only ever passed from this forward to this backward). Rows r = b*T + t (the
// layout of x within a group), pair p = g*D + d, BT = B*T:
//   [0,          P*BT*4H)  gates  [p][r][4H]  post-activation (i, f, g, o)
//   [P*BT*4H,    P*BT*5H)  c      [p][r][H]   c_t
//   [P*BT*5H,    P*BT*6H)  h_prev [p][r][H]   the state the step at (b, t) started from
//                                             (0 for the direction's first step)
// tanh(c_t) is recomputed by the backward pass (the same tanhf: the same value).
// Forward may be given a null workspace (inference).
//
// Forward: one persistent kernel for the whole sequence, one thread block per (pair,
// batch tile), the input projection folded into the recurrence ([x_t, h_prev] times the
// packed [W_ih | W_hh]^T, staged in shared memory, as is the block's whole input sequence
// when it is small), c and h on chip, one barrier per step.
// Backward: one persistent kernel running t backwards (W_hh in shared memory, dh / dc on
// chip) that writes the pre-activation gradients da of every step to device scratch, then
// dW_ih, dW_hh and the biases' gradient as one split-K reduction over the B*T rows
// (sum_r da_r^T [x_r, h_prev_r, 1]) and dx = sum_d da W_ih. Deterministic: no atomics.
//
// Launches on the process stream, never synchronises. Device scratch slots 2 (packed
// weights), 3 (da of every step) and 4 (the reduction's partial sums). Hidden sizes up to
// 1024 (an error beyond).
#pragma once

#include "kernels/contract/lstm.h"

namespace dc::kernels::cuda {

// For tests: force the recurrent kernels' configuration instead of the automatic choice
// (which depends on the batch and the GPU's SM count): nb sequences per thread (1, 2 or 4;
// 0 = automatic), ks lanes per hidden unit (1, 2, 4 or 8), and whether the weights (and
// the forward's inputs) are read from global memory instead of being staged in shared
// memory. Sizes that do not allow the
// forced values (too many threads per block) fall back as the automatic choice would.
// Not thread-safe: set it between calls. Returns the previous setting.
struct LstmTuning {
  int nb = 0, ks = 1;
  bool global_weights = false;
};
LstmTuning lstm_set_tuning(LstmTuning t);

}  // namespace dc::kernels::cuda
