// Recurrent ops: a batched LSTM that runs many independent sequences in one call.
//
// G groups (e.g. the 5 histone marks, each with its own weights), each a batch of B
// sequences of length T with I features; uni- or bi-directional. Gates are in PyTorch's
// (i, f, g, o) order and the weights of group g, direction d (0 forward, 1 reverse) have
// torch.nn.LSTM's shapes, so they map 1:1 to `weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
// `bias_hh_l0` (and the `_reverse` ones):
//   w_ih (4H, I), w_hh (4H, H), b_ih (4H), b_hh (4H)
// Initial hidden and cell states are zero.
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace dc {

struct LstmWeights {
  // Each holds G * D tensors, index g * D + d (D = 2 when bidirectional, else 1).
  std::vector<Tensor> w_ih, w_hh, b_ih, b_hh;
};

// x (G, B, T, I) -> h (G, B, T, D*H): the hidden state of every step; for D = 2 the last
// axis is [forward h_t, reverse h_t] (torch's layout). Differentiable in x and all weights
// (backpropagation through time).
Tensor lstm(const Tensor& x, const LstmWeights& weights, int hidden, bool bidirectional);

}  // namespace dc
