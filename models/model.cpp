#include "models/model.h"

#include <cmath>
#include <map>

#include "engine/init.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "kernels/base/error.h"

namespace dc {

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& p : params_) n += p.tensor.numel();
  return n;
}

void Model::to(Device device) {
  for (auto& p : params_) p.tensor.move_to(device);
}

Device Model::device() const { return params_.empty() ? Device::CPU : params_.front().tensor.device(); }

Tensor Model::add_parameter(const std::string& name, const Shape& shape, float lo, float hi, uint64_t seed) {
  Tensor t = Tensor::empty(shape);
  init_uniform(t, lo, hi, seed, stream_id(name.c_str()));
  t.set_requires_grad(true);
  params_.push_back({name, t});
  return t;
}

Tensor Model::add_fan_in_parameter(const std::string& name, const Shape& shape, int fan_in, uint64_t seed) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  return add_parameter(name, shape, -bound, bound, seed);
}

// ---- the head -------------------------------------------------------------------------------

Tensor Model::loss(const Tensor& output, const Tensor& labels) const {
  if (head_.kind == Head::TwoClass) return nll_loss(output, labels);
  return bce_with_logits(head_.double_sigmoid ? sigmoid(output) : output, labels);
}

Tensor Model::nll(const Tensor& output, const Tensor& labels) const {
  return head_.kind == Head::TwoClass ? nll_loss(output, labels) : bce_with_logits(output, labels);
}

namespace {
// The output's values on the host: the tensor's own data on the CPU, else one copy.
const float* host_values(const Tensor& t, std::vector<float>& copy) {
  if (t.device() == Device::CPU) return t.data();
  copy = t.to_vector();
  return copy.data();
}

Tensor negate(const Tensor& x) { return mul(x, Tensor::full(x.shape(), -1.0f, x.device())); }
}  // namespace

std::vector<float> Model::prob_high(const Tensor& output) const {
  std::vector<float> copy;
  const float* v = host_values(output, copy);
  std::vector<float> p(static_cast<size_t>(output.size(0)));
  for (size_t i = 0; i < p.size(); ++i) {
    if (head_.kind == Head::TwoClass) {
      p[i] = std::exp(v[i * 2 + 1]);
    } else {
      const float z = v[i];
      p[i] = z >= 0 ? 1.0f / (1.0f + std::exp(-z)) : std::exp(z) / (1.0f + std::exp(z));
    }
  }
  return p;
}

Tensor Model::class_probability(const Tensor& output, int cls) const {
  if (cls != 0 && cls != 1) throw Error("class_probability: class must be 0 (low) or 1 (high), got " + std::to_string(cls));
  const int64_t B = output.size(0);
  if (head_.kind == Head::Logit) {  // P(high) = sigmoid(z), P(low) = sigmoid(-z)
    const Tensor z = reshape(output, {B});
    return sigmoid(cls == 1 ? z : negate(z));
  }
  // Two classes: P(c) = exp(logp_c) = sigmoid(logp_c - logp_other), which stays accurate
  // where exp(logp_c) is near 1.
  const Tensor mine = reshape(slice(output, 1, cls, cls + 1), {B});
  const Tensor other = reshape(slice(output, 1, 1 - cls, 2 - cls), {B});
  return sigmoid(add(mine, negate(other)));
}

std::string describe_tensor_mismatch(const std::vector<Parameter>& expected, const std::vector<Parameter>& found,
                                     size_t max_items) {
  std::map<std::string, const Tensor*> in_found, in_expected;
  for (const auto& f : found) in_found[f.name] = &f.tensor;
  for (const auto& e : expected) in_expected[e.name] = &e.tensor;
  std::vector<std::string> items;
  for (const auto& e : expected) {
    auto it = in_found.find(e.name);
    if (it == in_found.end())
      items.push_back("missing " + e.name + " " + shape_str(e.tensor.shape()));
    else if (it->second->shape() != e.tensor.shape())
      items.push_back(e.name + " has shape " + shape_str(it->second->shape()) + " in the checkpoint, " +
                      shape_str(e.tensor.shape()) + " in the model");
  }
  for (const auto& f : found)
    if (!in_expected.count(f.name)) items.push_back("unexpected " + f.name + " " + shape_str(f.tensor.shape()));
  std::string out;
  for (size_t i = 0; i < items.size() && i < max_items; ++i) out += (i ? "; " : "") + items[i];
  if (items.size() > max_items) out += "; and " + std::to_string(items.size() - max_items) + " more";
  return out;
}

}  // namespace dc
