#include "engine/autograd.h"

#include <unordered_set>

#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/layout.h"

namespace dc {

namespace {
thread_local bool g_grad_enabled = true;
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

bool any_requires_grad(std::initializer_list<const Tensor*> tensors) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : tensors)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) node->inputs.push_back(t->impl_ptr());
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(node);
}

namespace {
void ensure_grad_buffer(TensorImpl* t) {
  if (!t->grad || t->grad->shape != t->shape) {
    auto g = std::make_shared<TensorImpl>();
    g->shape = t->shape;
    g->storage = std::make_shared<Storage>(shape_numel(t->shape), t->storage->device());
    t->grad = std::move(g);
  }
}
}  // namespace

void materialize_grad(TensorImpl* t) {
  if (!t->grad_valid || !t->grad_factored) return;
  ensure_grad_buffer(t);
  const FactoredGrad& f = *t->factored;
  float* g = t->grad->storage->data();
  for (int r = 0; r < f.rows; ++r) {
    float* row = g + static_cast<int64_t>(r) * f.cols;
    for (int c = 0; c < f.cols; ++c) row[c] = 0.0f;
    for (int k = 0; k < f.n; ++k) {
      const float a = f.u[static_cast<size_t>(k) * f.rows + r];
      const float* v = f.v.data() + static_cast<size_t>(k) * f.cols;
      for (int c = 0; c < f.cols; ++c) row[c] += a * v[c];
    }
  }
  t->grad_factored = false;
}

bool factored_grad_sink(TensorImpl* t, int n, int rows, int cols, const float* u, const float* v) {
  if (!t || !t->requires_grad || !t->factored_ok || t->grad_valid || n > kMaxFactoredRows) return false;
  if (t->storage->device() != Device::CPU) return false;  // factors are a CPU-only optimisation
  if (t->shape.size() != 2 || t->shape[0] != rows || t->shape[1] != cols) return false;
  if (!t->factored) t->factored = std::make_unique<FactoredGrad>();
  FactoredGrad& f = *t->factored;
  f.n = n;
  f.rows = rows;
  f.cols = cols;
  f.u.assign(u, u + static_cast<size_t>(n) * rows);
  f.v.assign(v, v + static_cast<size_t>(n) * cols);
  t->grad_valid = true;
  t->grad_factored = true;
  return true;
}

GradOut<float> grad_sink(TensorImpl* t) {
  if (!t || !t->requires_grad) return {};
  if (t->grad_factored) materialize_grad(t);  // a second contribution: continue densely
  if (!t->grad || t->grad->shape != t->shape) {
    auto g = std::make_shared<TensorImpl>();
    g->shape = t->shape;
    g->storage = std::make_shared<Storage>(shape_numel(t->shape), t->storage->device());
    t->grad = std::move(g);
    t->grad_valid = false;
  }
  const GradMode mode = t->grad_valid ? GradMode::Accumulate : GradMode::Overwrite;
  t->grad_valid = true;
  return {t->grad->storage->data(), mode};
}

void Tensor::backward() const {
  if (numel() != 1) throw ShapeError("backward: needs a one-element (scalar) tensor, got shape " + shape_str(shape()));
  if (device() == Device::CPU) {  // the common case, once per training step: no allocation
    static thread_local const Tensor one = Tensor::full({}, 1.0f);
    backward(one);
  } else {
    backward(Tensor::full({}, 1.0f, device()));
  }
}

void Tensor::backward(const Tensor& grad_output) const {
  if (!requires_grad()) throw Error("backward: the tensor does not require a gradient (no parameter contributed to it)");
  if (!grad_output.defined() || grad_output.numel() != numel())
    throw ShapeError("backward: the output gradient must have the output's " + std::to_string(numel()) + " elements, got " +
                     (grad_output.defined() ? shape_str(grad_output.shape()) : std::string("an undefined tensor")));
  check_device("backward", grad_output, device());

  // Topological order of the tensors reachable through grad_fn edges (iterative DFS).
  std::vector<TensorImpl*> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<TensorImpl*, size_t>> stack{{impl(), 0}};
  seen.insert(impl());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    if (t->grad_fn && next < t->grad_fn->inputs.size()) {
      TensorImpl* in = t->grad_fn->inputs[next++].get();
      if (in->sgd_in_backward.armed) ++in->sgd_in_backward.uses;  // every edge, seen or not
      if (seen.insert(in).second) stack.push_back({in, 0});
    } else {
      order.push_back(t);
      stack.pop_back();
    }
  }

  // A leaf root (a parameter that is itself the output) accumulates like any leaf.
  DC_KERNEL(device(), copy_grad)(grad_sink(impl()), grad_output.data(), numel());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = *it;
    if (!t->grad_fn) continue;
    if (t->grad_valid) t->grad_fn->backward(*t);
    // An intermediate's gradient is consumed: free it, so a second backward through the
    // same graph starts clean and peak memory stays one activation-gradient deep.
    t->grad.reset();
    t->grad_valid = false;
  }
}

}  // namespace dc
