// Reverse-mode autograd: every op that has an input requiring a gradient records a Node on
// its output. Nodes own their inputs (shared pointers), never their output, so the graph is
// a DAG that is freed when the last tensor referring to it goes away.
#pragma once

#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace dc {

struct Node {
  virtual ~Node() = default;
  virtual const char* name() const = 0;
  // Reads out.grad (valid) and adds this op's contribution to each input's gradient via
  // grad_sink(). `out` is the tensor this node produced.
  virtual void backward(TensorImpl& out) = 0;
  std::vector<std::shared_ptr<TensorImpl>> inputs;  // traversal edges (inputs requiring grad)
};

// Where a backward kernel writes the gradient of `t`: its buffer and whether to overwrite
// or accumulate. Returns a null GradOut when `t` does not need a gradient.
GradOut<float> grad_sink(TensorImpl* t);

// Largest batch for which a linear layer keeps its weight gradient factored.
inline constexpr int kMaxFactoredRows = 4;

// Offers the gradient sum_n u[n]^T v[n] (u (n, rows), v (n, cols)) of `t` in factored form.
// Returns true when it was stored that way (t allows factors, n is small and t has no
// gradient yet this step); false means the caller must write the dense gradient itself.
bool factored_grad_sink(TensorImpl* t, int n, int rows, int cols, const float* u, const float* v);

// Writes a factored gradient out as the dense buffer (no-op when the gradient is dense).
void materialize_grad(TensorImpl* t);

// Whether ops record the graph (false inside a NoGradGuard scope).
bool grad_enabled();

class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when grad is enabled and any of the tensors requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> tensors);

// Attaches `node` to `out`: marks out as requiring grad and lists the inputs that do.
void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs);

}  // namespace dc
