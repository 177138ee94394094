#include "models/registry.h"

#include "kernels/base/error.h"
#include "models/attentivechrome.h"
#include "models/baselines.h"
#include "models/deepchrome.h"

namespace dc {
namespace {

template <class M>
std::unique_ptr<Model> make(const nlohmann::json& config, uint64_t seed) {
  return std::make_unique<M>(config, seed);
}

std::vector<ModelInfo> build_registry() {
  return {
      {"deepchrome", "the DeepChrome CNN (Singh et al., Bioinformatics 2016): conv, max-pool, two hidden layers",
       &DeepChrome::defaults, &make<DeepChrome>},
      {"linear", "the DeepChrome seed code's baseline: the 500 inputs -> 2 classes", &LinearBaseline::defaults,
       &make<LinearBaseline>},
      {"mlp", "the DeepChrome seed code's baseline: 500 -> hidden (tanh) -> 2 classes", &MlpBaseline::defaults,
       &make<MlpBaseline>},
      {"attentivechrome",
       "AttentiveChrome (Singh et al., NeurIPS 2017): per-mark bin-level bi-LSTMs with attention, a mark-level bi-LSTM "
       "with attention",
       &AttentiveChrome::defaults, &make<AttentiveChrome>},
      {"lstm", "AttentiveChrome paper's baseline: one bi-LSTM over the bins, the 5 marks as features, final states",
       &LstmBaseline::defaults, &make<LstmBaseline>},
      {"lstm-attn", "AttentiveChrome paper's baseline: the same bi-LSTM with one attention over the bins",
       &LstmAttnBaseline::defaults, &make<LstmAttnBaseline>},
  };
}

}  // namespace

const std::vector<ModelInfo>& model_registry() {
  static const std::vector<ModelInfo> registry = build_registry();
  return registry;
}

const ModelInfo& model_info(const std::string& name) {
  std::string known;
  for (const ModelInfo& m : model_registry()) {
    if (m.name == name) return m;
    known += (known.empty() ? "" : ", ") + m.name;
  }
  throw InputError("unknown model '" + name + "' (known models: " + known + ")");
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const ModelInfo& m : model_registry()) names.push_back(m.name);
  return names;
}

nlohmann::json model_defaults(const std::string& name) { return model_info(name).defaults(); }

std::unique_ptr<Model> create_model(const nlohmann::json& config, uint64_t seed) {
  return model_info(config.at("name").get<std::string>()).create(config, seed);
}

}  // namespace dc
