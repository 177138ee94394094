// CUDA attention pooling over time with one context vector per group: the same contract
// and host signatures as kernels/cpu/attention.h. h, alpha, pooled, dpooled and dh are
// device pointers; `ctx` and `dctx` are HOST arrays (G entries) of device pointers, and
// `dctx_mode` is a host array.
//
// Forward: one block per (g, b) row: scores h_t . ctx (a warp per time step), a max-shifted
// softmax (block reductions), then pooled = sum_t alpha_t h_t (threads over features, the
// time steps split in fixed parts added in order). Backward: one block per row for dscore
// and dh, and the row's share of dctx into device scratch slot 2; then one pass adds the
// rows of each group in a fixed order and writes dctx[g] with its GradMode, groups in
// order g = 0..G-1 (so a buffer shared by two groups sees Overwrite, then Accumulate).
// No atomics: deterministic. Launches on the process stream, never synchronises.
#pragma once

#include "kernels/cpu/attention.h"

namespace dc::kernels::cuda {

void attention_forward(float* pooled, float* alpha, const float* h, const float* const* ctx, cpu::AttentionShape s);
void attention_backward(float* dh, GradMode dh_mode, float* const* dctx, const GradMode* dctx_mode, const float* dpooled,
                        const float* h, const float* alpha, const float* const* ctx, cpu::AttentionShape s);

}  // namespace dc::kernels::cuda
