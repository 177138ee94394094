// The two-class head shared by DeepChrome and the seed code's baselines:
// logits (B, 2) -> LogSoftmax; loss = mean NLL; P(high) = exp(logp[:, 1]).
#pragma once

#include <vector>

#include "engine/tensor.h"

namespace dc {

Tensor two_class_nll(const Tensor& logp, const Tensor& labels);
std::vector<float> two_class_prob_high(const Tensor& logp);

// The one-logit head of AttentiveChrome and its baselines: logit (B, 1);
// loss = mean binary cross-entropy on the logit; P(high) = sigmoid(logit).
// `double_sigmoid` reproduces the official code's loss (BCE-with-logits applied to
// sigmoid(logit)), offered only as an explicit compatibility option.
Tensor logit_bce(const Tensor& logit, const Tensor& labels, bool double_sigmoid);
std::vector<float> logit_prob_high(const Tensor& logit);

}  // namespace dc
