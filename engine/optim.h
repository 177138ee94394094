// Optimizers over a list of named parameters, with torch semantics, and gradient-norm
// clipping. Parameters whose gradient was not computed this step count as zero gradient.
//
// Parameters may live on the CPU or on CUDA (all of one list on the same device): the
// updates then run as fused device kernels and nothing is read back to the host. The
// optimizer state (momentum, Adam moments) follows its parameter's device (it is moved
// at the next step() when a parameter was moved after the optimizer was made).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace dc {

struct Parameter {
  std::string name;  // e.g. "conv.weight"; the key in checkpoints
  Tensor tensor;     // a leaf with requires_grad
};

class Optimizer {
 public:
  // On CUDA the parameters' gradient buffers are allocated here, up front, so that every
  // training step asks the caching allocator for the same blocks (after the first step,
  // no step allocates device memory).
  explicit Optimizer(std::vector<Parameter> params);
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual void zero_grad();
  int64_t steps() const { return t_; }
  const std::vector<Parameter>& params() const { return params_; }
  // What a resumed run needs besides the parameters to continue exactly: the per-parameter
  // state tensors under stable names ("sgd.momentum.<param>", "adam.m.<param>", ...), the
  // live tensors themselves (restore one with copy_from), and the step count.
  virtual std::vector<Parameter> state() const { return {}; }
  void set_steps(int64_t t) { t_ = t; }

 protected:
  std::vector<Parameter> params_;
  int64_t t_ = 0;  // completed steps
};

struct SgdOptions {
  double lr = 1e-3;
  double lr_decay = 0;  // lr_t = lr / (1 + t * lr_decay), t = steps taken before this one (torch7 optim.sgd)
  double momentum = 0;
  double weight_decay = 0;
  // Without momentum: apply the update of a linear layer's weight used once at batch 1 in
  // the backward pass (engine/tensor.h SgdInBackward; the same bits, one sweep of the
  // weights fewer). Only for a loop that reads no gradient between backward() and step()
  // (no clipping): the trainer sets it when train.clip_grad_norm is 0.
  bool update_in_backward = false;
};

class Sgd : public Optimizer {
 public:
  Sgd(std::vector<Parameter> params, SgdOptions opt);
  ~Sgd() override;
  void step() override;
  void zero_grad() override;  // also arms the update in the backward pass (update_in_backward)
  std::vector<Parameter> state() const override;
  double current_lr() const;

 private:
  SgdOptions opt_;
  std::vector<Tensor> momentum_;  // empty when momentum == 0
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<Parameter> params, AdamOptions opt);
  void step() override;
  std::vector<Parameter> state() const override;

 private:
  AdamOptions opt_;
  std::vector<Tensor> m_, v_;
};

// torch7 optim.rmsprop: m = alpha m + (1 - alpha) g^2, p -= lr g / (sqrt(m) + eps), m starting
// at 0 (the DeepChrome paper's class-model visualisation optimises its input with it).
struct RmspropOptions {
  double lr = 1e-2, alpha = 0.99, eps = 1e-8;
};

class Rmsprop : public Optimizer {
 public:
  Rmsprop(std::vector<Parameter> params, RmspropOptions opt);
  void step() override;
  std::vector<Parameter> state() const override;

 private:
  RmspropOptions opt_;
  std::vector<Tensor> m_;
};

// Scales all gradients so that their global L2 norm is at most max_norm (torch's
// clip_grad_norm_: factor max_norm / (norm + 1e-6) when that is < 1). Returns the norm
// before clipping; throws dc::Error when it is not finite. On CUDA the sum of squares and
// the scaling stay on the device, and returning the norm waits for them (one small copy).
double clip_grad_norm(const std::vector<Parameter>& params, double max_norm);

// The same clipping without returning the norm: on CUDA nothing is read back and nothing
// waits, so a training loop can call it every step. A non-finite norm is not reported
// here (nothing is scaled then, and the loss turns non-finite at the next step). On the
// CPU it is clip_grad_norm.
void clip_grad_norm_no_sync(const std::vector<Parameter>& params, double max_norm);

}  // namespace dc
