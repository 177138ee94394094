// The two-class head shared by DeepChrome and the seed code's baselines:
// logits (B, 2) -> LogSoftmax; loss = mean NLL; P(high) = exp(logp[:, 1]).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace dc {

Tensor two_class_nll(const Tensor& logp, const Tensor& labels);
std::vector<float> two_class_prob_high(const Tensor& logp);

}  // namespace dc
