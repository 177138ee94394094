// Attention pooling and the slicing / joining ops the hierarchical models need.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace dc {

// Attention pooling over time with one learned context vector per group:
//   h (G, B, T, F), context: G tensors of shape (F)
//   score[g,b,t] = h[g,b,t,:] . context[g]      alpha = softmax over t
//   pooled[g,b,:] = sum_t alpha[g,b,t] h[g,b,t,:]
// Returns pooled (G, B, F), differentiable in h and the contexts, and alpha (G, B, T) as
// plain data (no gradient flows through it; it is returned for export).
struct AttentionResult {
  Tensor pooled;
  Tensor weights;
};
AttentionResult attention_pool(const Tensor& h, const std::vector<Tensor>& context);

// x[..., start:end, ...] along `dim` (a copy), differentiable.
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end);
// Joins tensors of equal shape except along `dim`, differentiable in each.
Tensor concat(const std::vector<Tensor>& xs, int dim);

}  // namespace dc
