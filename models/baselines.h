// The DeepChrome seed code's baselines (flattened input, 5 marks x 100 bins = 500 features,
// mark-major: feature m*100 + b):
//   linear: fc Linear(500 -> 2) -> LogSoftmax
//   mlp   : fc1 Linear(500 -> 250) -> Tanh -> out Linear(250 -> 2) -> LogSoftmax
#pragma once

#include "models/model.h"

namespace dc {

class LinearBaseline : public Model {
 public:
  static nlohmann::json defaults();
  LinearBaseline(const nlohmann::json& config, uint64_t seed);
  ModelOutput forward(const Tensor& x, bool training, uint64_t step) override;

 private:
  Tensor w_, b_;
};

class MlpBaseline : public Model {
 public:
  static nlohmann::json defaults();
  MlpBaseline(const nlohmann::json& config, uint64_t seed);
  ModelOutput forward(const Tensor& x, bool training, uint64_t step) override;

 private:
  std::vector<Tensor> w_, b_;
};

}  // namespace dc
