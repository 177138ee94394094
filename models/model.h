// A model is a graph of engine ops plus its named parameters. Models see tensors only:
// data loading and file formats live in io/. Every model is one file plus one row of the
// registry (models/registry.h).
//
// Inputs are x (B, 5 marks, 100 bins) and labels (B) holding 0 (low) / 1 (high).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/optim.h"
#include "engine/tensor.h"

namespace dc {

inline constexpr int kInputMarks = 5;
inline constexpr int kInputBins = 100;

// What a forward pass returns: the output the loss reads and, for models with attention,
// the attention they paid (plain data: no gradient flows through it).
struct ModelOutput {
  explicit ModelOutput(Tensor out, Tensor bins = Tensor(), Tensor marks = Tensor())
      : output(std::move(out)), bin_attention(std::move(bins)), mark_attention(std::move(marks)) {}
  Tensor output;          // (B, 2) log-probabilities or (B, 1) logit, as the model's head says
  Tensor bin_attention;   // (B, 5, 100): per mark, over the bins; (B, 1, 100): one attention
                          // over all marks; undefined for models without attention
  Tensor mark_attention;  // (B, 5); undefined without mark-level attention
};

// The output layer a model ends in, which fixes its loss and its probabilities.
//   TwoClass: log-probabilities (B, 2) from a LogSoftmax; loss mean NLL; P(c) = exp(logp[:, c])
//   Logit   : one logit (B, 1); loss BCE with logits; P(high) = sigmoid(logit). With
//             `double_sigmoid` the loss is BCE-with-logits of sigmoid(logit), the official
//             AttentiveChrome code's double sigmoid, only ever as an explicit option.
struct Head {
  enum Kind { TwoClass, Logit } kind = TwoClass;
  bool double_sigmoid = false;
};

class Model {
 public:
  virtual ~Model() = default;
  const std::string& name() const { return name_; }
  // The model's hyperparameters, every key resolved (as written to config.json).
  const nlohmann::json& config() const { return config_; }
  const Head& head() const { return head_; }
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

  // x (B, 5, 100) on the model's device. `step` seeds the dropout masks of a training step.
  virtual ModelOutput forward(const Tensor& x, bool training, uint64_t step) = 0;

  // The loss of a forward output against labels (B) of 0 / 1, a scalar on the output's device.
  Tensor loss(const Tensor& output, const Tensor& labels) const;
  // -mean log P(label) over the examples, whatever the head (the double-sigmoid loss option
  // aside): what the class-model visualisation minimises.
  Tensor nll(const Tensor& output, const Tensor& labels) const;
  // P(high) per example (host values).
  std::vector<float> prob_high(const Tensor& output) const;
  // P(class) per example as a differentiable tensor (B) on the output's device: what
  // attribution methods differentiate. class 1 = high, 0 = low.
  Tensor class_probability(const Tensor& output, int cls) const;

 protected:
  Model(std::string name, nlohmann::json config, Head head)
      : name_(std::move(name)), config_(std::move(config)), head_(head) {}
  // Registers a parameter of `shape` initialised U(lo, hi) from (seed, name).
  Tensor add_parameter(const std::string& name, const Shape& shape, float lo, float hi, uint64_t seed);
  // torch's default for Linear / Conv1d weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
  Tensor add_fan_in_parameter(const std::string& name, const Shape& shape, int fan_in, uint64_t seed);

 private:
  std::string name_;
  nlohmann::json config_;
  Head head_;
  std::vector<Parameter> params_;
};

// How a set of named tensors (a checkpoint's) differs from the tensors `expected` (a
// model's parameters, an optimizer's state), one clause per difference, "; "-separated:
// "fc1.weight has shape (625, 900) in the checkpoint, (300, 900) in the model",
// "missing conv.bias (50)", "unexpected out.weight (1, 32)". Empty when names and shapes
// agree. At most `max_items` clauses, then "and N more".
std::string describe_tensor_mismatch(const std::vector<Parameter>& expected, const std::vector<Parameter>& found,
                                     size_t max_items = 8);

}  // namespace dc
