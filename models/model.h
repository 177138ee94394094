// A model is a graph of engine ops plus its named parameters. Models see tensors only:
// data loading and file formats live in io/.
//
// Inputs are x (B, 5 marks, 100 bins) and labels (B) holding 0 (low) / 1 (high).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/optim.h"
#include "engine/tensor.h"

namespace dc {

inline constexpr int kInputMarks = 5;
inline constexpr int kInputBins = 100;

class Model {
 public:
  virtual ~Model() = default;
  const std::string& name() const { return name_; }
  // The model's hyperparameters, every key resolved (as written to config.json).
  const nlohmann::json& config() const { return config_; }
  std::vector<Parameter>& parameters() { return params_; }
  const std::vector<Parameter>& parameters() const { return params_; }
  int64_t parameter_count() const;

  // Moves every parameter to `device` in place (Tensor::move_to): the layers hold handles
  // to the same tensors, so forward() then runs there and expects its inputs there too.
  // Gradients are dropped; make optimizers after moving (or they move their state at the
  // next step). Models are always created on the CPU (the initialisation is the same on
  // every device) and moved afterwards.
  void to(Device device);
  Device device() const;  // the parameters' device (CPU for a model without parameters)

  // Raw output for the loss. `step` seeds the dropout masks of a training step.
  virtual Tensor forward(const Tensor& x, bool training, uint64_t step) = 0;
  virtual Tensor loss(const Tensor& output, const Tensor& labels) const = 0;
  // P(high) per example from a forward output.
  virtual std::vector<float> prob_high(const Tensor& output) const = 0;

  // Attention weights of the last forward() call, for models that have them:
  // bins (B, 5, 100) — per mark, over the bins (or (B, 1, 100) for one attention over
  // all marks) — and marks (B, 5). Undefined tensors for models without attention.
  struct AttentionMaps {
    Tensor bins, marks;
  };
  virtual AttentionMaps last_attention() const { return {}; }

 protected:
  Model(std::string name, nlohmann::json config) : name_(std::move(name)), config_(std::move(config)) {}
  // Registers a parameter of `shape` initialised U(lo, hi) from (seed, name).
  Tensor add_parameter(const std::string& name, const Shape& shape, float lo, float hi, uint64_t seed);
  // torch's default for Linear / Conv1d weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  Tensor add_fan_in_parameter(const std::string& name, const Shape& shape, int fan_in, uint64_t seed);

 private:
  std::string name_;
  nlohmann::json config_;
  std::vector<Parameter> params_;
};

// The names `create_model` knows, e.g. {"deepchrome", "linear", "mlp"}.
std::vector<std::string> model_names();
// Every hyperparameter of model `name` with its default value, including "name".
// Throws dc::InputError naming the known models when `name` is unknown.
nlohmann::json model_defaults(const std::string& name);
// Builds a model from a complete config (model_defaults merged with the user's keys;
// io/ validates user keys against model_defaults before calling this).
std::unique_ptr<Model> create_model(const nlohmann::json& config, uint64_t seed);

}  // namespace dc
