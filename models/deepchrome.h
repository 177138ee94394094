// DeepChrome (Singh et al. 2016), exactly as SPEC.md:
//   x (B, 5, 100) -> conv Conv1d(5 -> 50, k 10) -> ReLU -> MaxPool1d(5, 5) -> (B, 50, 18)
//   -> Flatten (B, 900) -> Dropout(0.5) -> fc1 Linear(900 -> 625) -> ReLU
//   -> fc2 Linear(625 -> 125) -> ReLU -> out Linear(125 -> 2) -> LogSoftmax
// Sizes are config keys with the paper's values as defaults.
#pragma once

#include "models/model.h"

namespace dc {

class DeepChrome : public Model {
 public:
  static nlohmann::json defaults();
  DeepChrome(const nlohmann::json& config, uint64_t seed);
  ModelOutput forward(const Tensor& x, bool training, uint64_t step) override;

 private:
  int pool_;
  float dropout_;
  uint64_t seed_;
  Tensor conv_w_, conv_b_;
  std::vector<Tensor> fc_w_, fc_b_;  // hidden layers then the output layer
};

}  // namespace dc
