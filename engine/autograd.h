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

// Where a backward kernel writes the gradient of `t`: the buffer and whether to overwrite
// or accumulate. Returns {nullptr, Overwrite} when `t` does not need a gradient.
struct GradSink {
  float* data = nullptr;
  GradMode mode = GradMode::Overwrite;
  explicit operator bool() const { return data != nullptr; }
};
GradSink grad_sink(TensorImpl* t);

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
