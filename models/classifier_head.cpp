#include "models/classifier_head.h"

#include <cmath>

#include "engine/ops.h"

namespace dc {

Tensor two_class_nll(const Tensor& logp, const Tensor& labels) { return nll_loss(logp, labels); }

std::vector<float> two_class_prob_high(const Tensor& logp) {
  std::vector<float> p(static_cast<size_t>(logp.size(0)));
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp(logp.data()[i * 2 + 1]);
  return p;
}

}  // namespace dc
