// The op API. Every op checks its shapes here, once, with the actual shapes in the
// message (dc::ShapeError), runs the kernel of the tensors' device, and records a backward
// node when an input requires a gradient. Models are built from these functions only.
#pragma once

#include <cstdint>

#include "engine/tensor.h"
#include "kernels/contract/dropout.h"

namespace dc {

// ---- layers ------------------------------------------------------------------------
// x (N, IN), w (OUT, IN), b (OUT) or undefined -> (N, OUT)
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// x (N, CIN, L), w (COUT, CIN, K), b (COUT) or undefined -> (N, COUT, (L + 2 pad - K) / stride + 1)
Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, int stride = 1, int padding = 0);
// x (..., L) -> (..., (L - kernel) / stride + 1), max over each window
Tensor max_pool1d(const Tensor& x, int kernel, int stride);

// Inverted dropout with a counter-based mask (kernels/contract/dropout.h). Identity when
// !training or p == 0. The key's `stream` must differ between calls that need independent
// masks (e.g. mix the layer id and the training step).
using DropoutKey = kernels::DropoutKey;
Tensor dropout(const Tensor& x, float p, bool training, DropoutKey key);

// ---- elementwise ----------------------------------------------------------------------
Tensor relu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, torch's default approximate='none'
// Numpy broadcasting: shapes aligned on the right, each dimension equal or 1 in one of them
// (e.g. (16, 100, 64) + (100, 64), (B, T, d) * (d), x * (1) for a scalar). Equal shapes take
// the plain elementwise path.
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);

// ---- shape ----------------------------------------------------------------------------
Tensor reshape(const Tensor& x, const Shape& shape);  // one entry may be -1
Tensor flatten(const Tensor& x, int start_dim = 1);   // (N, ...) -> (N, prod(...))
Tensor transpose(const Tensor& x, int dim0, int dim1);

// ---- softmax, losses, reductions --------------------------------------------------------
Tensor softmax(const Tensor& x);      // over the last axis of any rank >= 1, max-shifted
Tensor log_softmax(const Tensor& x);  // over the last axis of (R, C)
// logp (R, C), target (R) holding class indices 0..C-1 -> scalar mean negative log-likelihood
Tensor nll_loss(const Tensor& logp, const Tensor& target);
// logits (R) or (R, 1), target (R) in [0, 1] -> scalar mean binary cross-entropy
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);
Tensor sum(const Tensor& x);   // -> scalar
Tensor mean(const Tensor& x);  // -> scalar

}  // namespace dc
