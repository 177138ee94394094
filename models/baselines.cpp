#include "models/baselines.h"

#include "kernels/base/error.h"
#include "engine/ops.h"

namespace dc {

namespace {
constexpr int kFeatures = kInputMarks * kInputBins;
}

nlohmann::json LinearBaseline::defaults() { return {{"name", "linear"}}; }

LinearBaseline::LinearBaseline(const nlohmann::json& config, uint64_t seed) : Model("linear", config, {Head::TwoClass}) {
  w_ = add_fan_in_parameter("fc.weight", {2, kFeatures}, kFeatures, seed);
  b_ = add_fan_in_parameter("fc.bias", {2}, kFeatures, seed);
}

ModelOutput LinearBaseline::forward(const Tensor& x, bool, uint64_t) { return ModelOutput(log_softmax(linear(flatten(x), w_, b_))); }

nlohmann::json MlpBaseline::defaults() { return {{"name", "mlp"}, {"hidden", {250}}}; }

MlpBaseline::MlpBaseline(const nlohmann::json& config, uint64_t seed) : Model("mlp", config, {Head::TwoClass}) {
  std::vector<int> sizes = config.at("hidden").get<std::vector<int>>();
  for (int h : sizes)
    if (h < 1) throw InputError("model.hidden: every layer size must be >= 1");
  sizes.push_back(2);
  int in = kFeatures;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string layer = i + 1 == sizes.size() ? "out" : "fc" + std::to_string(i + 1);
    w_.push_back(add_fan_in_parameter(layer + ".weight", {sizes[i], in}, in, seed));
    b_.push_back(add_fan_in_parameter(layer + ".bias", {sizes[i]}, in, seed));
    in = sizes[i];
  }
}

ModelOutput MlpBaseline::forward(const Tensor& x, bool, uint64_t) {
  Tensor h = flatten(x);
  for (size_t i = 0; i < w_.size(); ++i) {
    h = linear(h, w_[i], b_[i]);
    if (i + 1 < w_.size()) h = tanh(h);
  }
  return ModelOutput(log_softmax(h));
}

}  // namespace dc
