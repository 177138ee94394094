#include "models/classifier_head.h"

#include <cmath>

#include "engine/ops.h"

namespace dc {

Tensor two_class_nll(const Tensor& logp, const Tensor& labels) { return nll_loss(logp, labels); }

namespace {
// The output's values on the host: the tensor's own data on the CPU, else one copy.
const float* host_values(const Tensor& t, std::vector<float>& copy) {
  if (t.device() == Device::CPU) return t.data();
  copy = t.to_vector();
  return copy.data();
}
}  // namespace

std::vector<float> two_class_prob_high(const Tensor& logp) {
  std::vector<float> copy;
  const float* v = host_values(logp, copy);
  std::vector<float> p(static_cast<size_t>(logp.size(0)));
  for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp(v[i * 2 + 1]);
  return p;
}

Tensor logit_bce(const Tensor& logit, const Tensor& labels, bool double_sigmoid) {
  return bce_with_logits(double_sigmoid ? sigmoid(logit) : logit, labels);
}

std::vector<float> logit_prob_high(const Tensor& logit) {
  std::vector<float> copy;
  const float* v = host_values(logit, copy);
  std::vector<float> p(static_cast<size_t>(logit.size(0)));
  for (size_t i = 0; i < p.size(); ++i) {
    const float z = v[i];
    p[i] = z >= 0 ? 1.0f / (1.0f + std::exp(-z)) : std::exp(z) / (1.0f + std::exp(z));
  }
  return p;
}

}  // namespace dc
