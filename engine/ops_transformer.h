// The ops a self-attention model adds to the engine: batched matrix products and layer
// normalization. (Softmax over the last axis, broadcasting add / mul, gelu and exp are in
// engine/ops.h with the other softmax and elementwise ops.)
#pragma once

#include "engine/tensor.h"

namespace dc {

// a (B, M, K) or, with trans_a, (B, K, M); b (B, K, N) or, with trans_b, (B, N, K)
//   -> (B, M, N) = op(a) op(b) for each batch entry. Attention scores are
//   bmm(q, k, false, true); the weighted values bmm(weights, v).
Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// torch.nn.LayerNorm over the last axis: x (..., C), weight (C), bias (C) ->
// (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance of each row.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps = 1e-5f);

}  // namespace dc
