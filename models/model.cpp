#include "models/model.h"

#include <cmath>

#include "kernels/base/error.h"
#include "engine/init.h"
#include "models/attentivechrome.h"
#include "models/baselines.h"
#include "models/deepchrome.h"

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

std::vector<std::string> model_names() { return {"deepchrome", "linear", "mlp", "attentivechrome", "lstm", "lstm-attn"}; }

nlohmann::json model_defaults(const std::string& name) {
  if (name == "deepchrome") return DeepChrome::defaults();
  if (name == "linear") return LinearBaseline::defaults();
  if (name == "mlp") return MlpBaseline::defaults();
  if (name == "attentivechrome") return AttentiveChrome::defaults();
  if (name == "lstm") return LstmBaseline::defaults(false);
  if (name == "lstm-attn") return LstmBaseline::defaults(true);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("unknown model '" + name + "' (known models: " + known + ")");
}

std::unique_ptr<Model> create_model(const nlohmann::json& config, uint64_t seed) {
  const std::string name = config.at("name").get<std::string>();
  if (name == "deepchrome") return std::make_unique<DeepChrome>(config, seed);
  if (name == "linear") return std::make_unique<LinearBaseline>(config, seed);
  if (name == "mlp") return std::make_unique<MlpBaseline>(config, seed);
  if (name == "attentivechrome") return std::make_unique<AttentiveChrome>(config, seed);
  if (name == "lstm") return std::make_unique<LstmBaseline>(config, seed, false);
  if (name == "lstm-attn") return std::make_unique<LstmBaseline>(config, seed, true);
  model_defaults(name);  // throws the "unknown model" error
  return nullptr;
}

}  // namespace dc
