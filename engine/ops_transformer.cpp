// bmm and layer_norm (engine/ops_transformer.h): shapes checked once with the actual shapes
// in the message, the kernels of kernels/contract/{bmm,layer_norm}.h on the tensors' device,
// and the autograd nodes.
#include "engine/ops_transformer.h"

#include <memory>
#include <string>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/bmm.h"
#include "kernels/contract/layer_norm.h"

namespace dc {
namespace {

namespace k = kernels;

std::string shape_or_undefined(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("undefined"); }

const float* grad_of(const TensorImpl& out) { return out.grad->storage->data(); }

struct BmmNode : Node {
  Tensor a, b;
  k::BmmShape s;
  const char* name() const override { return "bmm"; }
  void backward(TensorImpl& out) override {
    // In input order: bmm(x, x, ...) gets Overwrite for da and Accumulate for db.
    const GradOut<float> da = grad_sink(a.impl()), db = grad_sink(b.impl());
    DC_KERNEL(a.device(), bmm_backward)(da, db, grad_of(out), a.data(), b.data(), s);
  }
};

struct LayerNormNode : Node {
  Tensor x, w, b;
  std::shared_ptr<Storage> stats;  // mean (R), then rstd (R)
  k::LayerNormShape s;
  const char* name() const override { return "layer_norm"; }
  void backward(TensorImpl& out) override {
    const GradOut<float> dx = grad_sink(x.impl()), dw = grad_sink(w.impl()), db = grad_sink(b.impl());
    const float* mean = stats->data();
    DC_KERNEL(x.device(), layer_norm_backward)(dx, dw, db, grad_of(out), x.data(), w.data(), mean, mean + s.R, s);
  }
};

}  // namespace

Tensor bmm(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const std::string got = "got a " + shape_or_undefined(a) + (trans_a ? " (transposed)" : "") + ", b " +
                          shape_or_undefined(b) + (trans_b ? " (transposed)" : "");
  check_shape(a.defined() && b.defined() && a.dim() == 3 && b.dim() == 3,
              "bmm: expected a (B, M, K) and b (B, K, N) (3-d; reshape heads into the batch); " + got);
  const int64_t B = a.size(0), M = trans_a ? a.size(2) : a.size(1), K = trans_a ? a.size(1) : a.size(2);
  const int64_t Kb = trans_b ? b.size(2) : b.size(1), N = trans_b ? b.size(1) : b.size(2);
  check_shape(b.size(0) == B && Kb == K, "bmm: batch sizes and inner dimensions must agree (B " + std::to_string(B) +
                                             " vs " + std::to_string(b.size(0)) + ", K " + std::to_string(K) + " vs " +
                                             std::to_string(Kb) + "); " + got);
  check_shape(a.numel() > 0 && b.numel() > 0, "bmm: empty operand; " + got);
  const Device dev = common_device("bmm", {&a, &b});
  const k::BmmShape s{static_cast<int>(B), static_cast<int>(M), static_cast<int>(N), static_cast<int>(K),
                      trans_a ? k::Trans::Yes : k::Trans::No, trans_b ? k::Trans::Yes : k::Trans::No};
  Tensor y = Tensor::empty({B, M, N}, dev);
  DC_KERNEL(dev, bmm_forward)(y.data(), a.data(), b.data(), s);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BmmNode>();
    node->a = a;
    node->b = b;
    node->s = s;
    record(y, node, {&a, &b});
  }
  return y;
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps) {
  check_shape(x.defined() && x.dim() >= 1 && x.numel() > 0,
              "layer_norm: expected a non-empty x (..., C), got " + shape_or_undefined(x));
  const int64_t C = x.size(-1);
  check_shape(weight.defined() && bias.defined() && weight.dim() == 1 && bias.dim() == 1 && weight.size(0) == C &&
                  bias.size(0) == C,
              "layer_norm: expected weight (" + std::to_string(C) + ") and bias (" + std::to_string(C) + ") for x " +
                  shape_str(x.shape()) + "; got weight " + shape_or_undefined(weight) + ", bias " +
                  shape_or_undefined(bias));
  check_shape(eps > 0.0f, "layer_norm: eps must be > 0, got " + std::to_string(eps));
  const Device dev = common_device("layer_norm", {&x, &weight, &bias});
  const k::LayerNormShape s{x.numel() / C, static_cast<int>(C), eps};
  Tensor y = Tensor::empty(x.shape(), dev);
  const bool needs_grad = any_requires_grad({&x, &weight, &bias});
  // Inference keeps no statistics.
  std::shared_ptr<Storage> stats = needs_grad ? std::make_shared<Storage>(2 * s.R, dev) : nullptr;
  float* mean = stats ? stats->data() : nullptr;
  DC_KERNEL(dev, layer_norm_forward)(y.data(), mean, mean ? mean + s.R : nullptr, x.data(), weight.data(), bias.data(), s);
  if (needs_grad) {
    auto node = std::make_shared<LayerNormNode>();
    node->x = x;
    node->w = weight;
    node->b = bias;
    node->stats = std::move(stats);
    node->s = s;
    record(y, node, {&x, &weight, &bias});
  }
  return y;
}

}  // namespace dc
