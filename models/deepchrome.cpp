#include "models/deepchrome.h"

#include "kernels/base/error.h"
#include "engine/ops.h"

namespace dc {

nlohmann::json DeepChrome::defaults() {
  return {{"name", "deepchrome"}, {"conv_channels", 50}, {"conv_kernel", 10}, {"pool", 5},
          {"hidden", {625, 125}},  {"dropout", 0.5}};
}

DeepChrome::DeepChrome(const nlohmann::json& config, uint64_t seed)
    : Model("deepchrome", config, {Head::TwoClass}), seed_(seed) {
  const int channels = config.at("conv_channels").get<int>(), kernel = config.at("conv_kernel").get<int>();
  pool_ = config.at("pool").get<int>();
  dropout_ = config.at("dropout").get<float>();
  if (channels < 1 || kernel < 1 || kernel > kInputBins || pool_ < 1 || kInputBins - kernel + 1 < pool_)
    throw InputError("model 'deepchrome': conv_channels, conv_kernel and pool must be >= 1 with conv_kernel + pool - 1 <= " +
                     std::to_string(kInputBins));
  if (dropout_ < 0 || dropout_ >= 1) throw InputError("model.dropout must be in [0, 1), got " + std::to_string(dropout_));
  conv_w_ = add_fan_in_parameter("conv.weight", {channels, kInputMarks, kernel}, kInputMarks * kernel, seed);
  conv_b_ = add_fan_in_parameter("conv.bias", {channels}, kInputMarks * kernel, seed);
  const int pooled = (kInputBins - kernel + 1 - pool_) / pool_ + 1;
  int in = channels * pooled;
  std::vector<int> sizes = config.at("hidden").get<std::vector<int>>();
  for (int h : sizes)
    if (h < 1) throw InputError("model.hidden: every layer size must be >= 1");
  sizes.push_back(2);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string layer = i + 1 == sizes.size() ? "out" : "fc" + std::to_string(i + 1);
    fc_w_.push_back(add_fan_in_parameter(layer + ".weight", {sizes[i], in}, in, seed));
    fc_b_.push_back(add_fan_in_parameter(layer + ".bias", {sizes[i]}, in, seed));
    in = sizes[i];
  }
}

ModelOutput DeepChrome::forward(const Tensor& x, bool training, uint64_t step) {
  Tensor h = max_pool1d(relu(conv1d(x, conv_w_, conv_b_)), pool_, pool_);
  h = dropout(flatten(h), dropout_, training, {seed_, step});
  for (size_t i = 0; i < fc_w_.size(); ++i) {
    h = linear(h, fc_w_[i], fc_b_[i]);
    if (i + 1 < fc_w_.size()) h = relu(h);
  }
  return ModelOutput(log_softmax(h));
}

}  // namespace dc
