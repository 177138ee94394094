#include "engine/ops.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/broadcast.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/dropout.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/layout.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/pool.h"
#include "kernels/contract/reduce.h"
#include "kernels/contract/softmax.h"

namespace dc {
namespace {

namespace k = kernels;

// The view of `shape` around axes a <= b that swap_axes takes (a == b: a plain copy).
k::SwapAxesShape swap_view(const Shape& shape, int a, int b) {
  k::SwapAxesShape v{1, shape[static_cast<size_t>(a)], 1, a == b ? 1 : shape[static_cast<size_t>(b)], 1};
  for (int d = 0; d < a; ++d) v.outer *= shape[static_cast<size_t>(d)];
  for (int d = a + 1; d < b; ++d) v.mid *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(b) + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}

void require_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw ShapeError(std::string(op) + ": " + what + " is an undefined tensor");
}

const float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }
GradOut<float> grad_sink_or_null(const Tensor& t) { return t.defined() ? grad_sink(t.impl()) : GradOut<float>{}; }
const float* grad_of(const TensorImpl& out) { return out.grad->storage->data(); }

// ---- linear -------------------------------------------------------------------------------
struct LinearNode : Node {
  Tensor x, w, b;
  k::LinearShape s;
  const char* name() const override { return "linear"; }
  void backward(TensorImpl& out) override {
    const float* dy = grad_of(out);
    TensorImpl* wi = w.impl();
    TensorImpl::SgdInBackward& sgd = wi->sgd_in_backward;
    if (sgd.armed && sgd.uses == 1 && s.N == 1 &&  // uses == 1: w is not also x or b
        factored_grad_sink(wi, 1, s.OUT, s.IN, dy, x.data())) {
      // The only use of w, a batch of one, plain SGD: update w in the dx sweep (engine/tensor.h).
      const GradOut<float> dx = grad_sink(x.impl()), db = grad_sink_or_null(b);
      k::cpu::linear_rank1_backward_sgd(dx, db, dy, x.data(), wi->storage->data(), s.IN, s.OUT, sgd.lr, sgd.weight_decay);
      sgd.armed = false;
      sgd.applied = true;
      return;
    }
    // For a small batch on the CPU the weight gradient dy^T x may stay factored (FactoredGrad).
    const bool dw_factored = factored_grad_sink(w.impl(), s.N, s.OUT, s.IN, dy, x.data());
    // Sinks in input order: a tensor passed twice gets Overwrite first, then Accumulate.
    const GradOut<float> dx = grad_sink(x.impl()), dw = dw_factored ? GradOut<float>{} : grad_sink(w.impl()),
                         db = grad_sink_or_null(b);
    DC_KERNEL(x.device(), linear_backward)(dx, dw, db, dy, x.data(), w.data(), s);
  }
};

// ---- conv1d -------------------------------------------------------------------------------
struct Conv1dNode : Node {
  Tensor x, w, b;
  Tensor col;  // im2col of x, kept from the forward pass
  k::Conv1dShape s;
  const char* name() const override { return "conv1d"; }
  void backward(TensorImpl& out) override {
    const GradOut<float> dx = grad_sink(x.impl()), dw = grad_sink(w.impl()), db = grad_sink_or_null(b);
    DC_KERNEL(x.device(), conv1d_backward)(dx, dw, db, grad_of(out), col.data(), w.data(), s);
  }
};

struct MaxPoolNode : Node {
  Tensor x;
  std::shared_ptr<Storage> argmax;  // int32 indices in a float-sized buffer on x's device
  k::Pool1dShape s;
  const char* name() const override { return "max_pool1d"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), maxpool1d_backward)(grad_sink(x.impl()), grad_of(out),
                                              reinterpret_cast<const int32_t*>(argmax->data()), s);
  }
};

struct DropoutNode : Node {
  Tensor x;
  float p;
  k::DropoutKey key;
  const char* name() const override { return "dropout"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), dropout_backward)(grad_sink(x.impl()), grad_of(out), x.numel(), p, key);
  }
};

struct ActivationNode : Node {
  Tensor x;
  std::shared_ptr<Storage> y;  // the output's data (not the output tensor: no cycle)
  k::Activation a;
  const char* name() const override { return "activation"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), activation_backward)(grad_sink(x.impl()), grad_of(out), y->data(), x.numel(), a);
  }
};

struct BinaryNode : Node {
  Tensor a, b;
  k::Binary op;
  const char* name() const override { return op == k::Binary::Add ? "add" : "mul"; }
  void backward(TensorImpl& out) override {
    const GradOut<float> da = grad_sink(a.impl()), db = grad_sink(b.impl());  // in order: mul(x, x) sums both
    DC_KERNEL(a.device(), binary_backward)(da, db, grad_of(out), a.data(), b.data(), a.numel(), op);
  }
};

// add / mul of different shapes: each gradient sums over the dimensions its operand was
// broadcast along (kernels/contract/broadcast.h).
struct BroadcastNode : Node {
  Tensor a, b;
  k::BroadcastShape s;
  k::Binary op;
  const char* name() const override { return op == k::Binary::Add ? "add" : "mul"; }
  void backward(TensorImpl& out) override {
    const GradOut<float> da = grad_sink(a.impl()), db = grad_sink(b.impl());
    DC_KERNEL(a.device(), broadcast_backward)(da, db, grad_of(out), a.data(), b.data(), s, op);
  }
};

struct GeluNode : Node {
  Tensor x;  // gelu's derivative needs x, not y
  const char* name() const override { return "gelu"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), gelu_backward)(grad_sink(x.impl()), grad_of(out), x.data(), x.numel());
  }
};

// Reshape shares storage with its input; its gradient is the output gradient, reshaped.
struct ReshapeNode : Node {
  Tensor x;
  const char* name() const override { return "reshape"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), copy_grad)(grad_sink(x.impl()), grad_of(out), x.numel());
  }
};

struct TransposeNode : Node {
  Tensor x;
  Shape out_shape;
  int a, b;  // the swapped axes, a <= b
  const char* name() const override { return "transpose"; }
  void backward(TensorImpl& out) override {  // swapping the same two axes of the output's gradient
    DC_KERNEL(x.device(), swap_axes)(grad_sink(x.impl()), grad_of(out), swap_view(out_shape, a, b));
  }
};

// softmax and log_softmax over the last axis (R rows of C); the backward reads the saved output.
struct SoftmaxNode : Node {
  Tensor x;
  std::shared_ptr<Storage> y;
  int64_t R;
  int C;
  bool log;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  void backward(TensorImpl& out) override {
    if (log) DC_KERNEL(x.device(), log_softmax_backward)(grad_sink(x.impl()), grad_of(out), y->data(), static_cast<int>(R), C);
    else DC_KERNEL(x.device(), softmax_backward)(grad_sink(x.impl()), grad_of(out), y->data(), R, C);
  }
};

struct NllNode : Node {
  Tensor logp, target;
  int R, C;
  const char* name() const override { return "nll_loss"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(logp.device(), nll_loss_backward)(grad_sink(logp.impl()), grad_of(out), target.data(), R, C);
  }
};

struct BceNode : Node {
  Tensor z, target;
  int R;
  const char* name() const override { return "bce_with_logits"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(z.device(), bce_with_logits_backward)(grad_sink(z.impl()), grad_of(out), z.data(), target.data(), R);
  }
};

struct FillNode : Node {  // sum and mean: dx = dy * scale everywhere
  Tensor x;
  float scale;
  const char* name() const override { return "sum"; }
  void backward(TensorImpl& out) override {
    DC_KERNEL(x.device(), fill_backward)(grad_sink(x.impl()), grad_of(out), scale, x.numel());
  }
};

Tensor activation(const Tensor& x, k::Activation a, const char* op) {
  require_defined(op, x, "input");
  Tensor y = Tensor::empty(x.shape(), x.device());
  DC_KERNEL(x.device(), activation_forward)(y.data(), x.data(), x.numel(), a);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ActivationNode>();
    node->x = x;
    node->y = y.impl()->storage;
    node->a = a;
    record(y, node, {&x});
  }
  return y;
}

Tensor broadcast_binary(const Tensor& a, const Tensor& b, k::Binary op, const char* name) {
  const std::string shapes = std::string(name) + ": shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape());
  const k::BroadcastResult r = k::broadcast_result(a.shape(), b.shape());
  if (!r.ok) {
    const size_t d = static_cast<size_t>(r.bad_dim_from_right);
    throw ShapeError(shapes + " do not broadcast: sizes " + std::to_string(a.shape()[a.shape().size() - d]) + " and " +
                     std::to_string(b.shape()[b.shape().size() - d]) + " at dimension -" + std::to_string(d) +
                     " (counted from the right; sizes must be equal or 1)");
  }
  check_shape(a.numel() > 0 && b.numel() > 0, shapes + ": broadcasting an empty tensor is not supported");
  const k::BroadcastShape s = k::broadcast_view(a.shape(), b.shape());
  check_shape(s.rank >= 0, shapes + ": more than " + std::to_string(k::BroadcastShape::kMaxDims) +
                               " alternating broadcast dimensions");
  const Device dev = common_device(name, {&a, &b});
  Tensor y = Tensor::empty(r.shape, dev);
  DC_KERNEL(dev, broadcast_forward)(y.data(), a.data(), b.data(), s, op);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BroadcastNode>();
    node->a = a;
    node->b = b;
    node->s = s;
    node->op = op;
    record(y, node, {&a, &b});
  }
  return y;
}

Tensor binary(const Tensor& a, const Tensor& b, k::Binary op, const char* name) {
  require_defined(name, a, "first operand");
  require_defined(name, b, "second operand");
  if (a.shape() != b.shape()) return broadcast_binary(a, b, op, name);
  // Equal shapes: the plain elementwise loops.
  const Device dev = common_device(name, {&a, &b});
  Tensor y = Tensor::empty(a.shape(), dev);
  DC_KERNEL(dev, binary_forward)(y.data(), a.data(), b.data(), a.numel(), op);
  if (any_requires_grad({&a, &b})) {
    auto node = std::make_shared<BinaryNode>();
    node->a = a;
    node->b = b;
    node->op = op;
    record(y, node, {&a, &b});
  }
  return y;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  require_defined("linear", x, "input");
  require_defined("linear", w, "weight");
  check_shape(x.dim() == 2 && w.dim() == 2 && x.size(1) == w.size(1) &&
                  (!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0))),
              "linear: expected x (N, IN), w (OUT, IN), b (OUT); got x " + shape_str(x.shape()) + ", w " +
                  shape_str(w.shape()) + (b.defined() ? ", b " + shape_str(b.shape()) : std::string(", no bias")));
  const Device dev = common_device("linear", {&x, &w, &b});
  const k::LinearShape s{static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(w.size(0))};
  Tensor y = Tensor::empty({s.N, s.OUT}, dev);
  DC_KERNEL(dev, linear_forward)(y.data(), x.data(), w.data(), data_or_null(b), s);
  if (any_requires_grad({&x, &w, &b})) {
    auto node = std::make_shared<LinearNode>();
    node->x = x;
    node->w = w;
    node->b = b;
    node->s = s;
    record(y, node, {&x, &w, &b});
  }
  return y;
}

Tensor conv1d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding) {
  require_defined("conv1d", x, "input");
  require_defined("conv1d", w, "weight");
  check_shape(x.dim() == 3 && w.dim() == 3 && x.size(1) == w.size(1) &&
                  (!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0))),
              "conv1d: expected x (N, CIN, L), w (COUT, CIN, K), b (COUT); got x " + shape_str(x.shape()) + ", w " +
                  shape_str(w.shape()) + (b.defined() ? ", b " + shape_str(b.shape()) : std::string(", no bias")));
  check_shape(stride >= 1 && padding >= 0, "conv1d: stride must be >= 1 and padding >= 0, got stride " +
                                               std::to_string(stride) + ", padding " + std::to_string(padding));
  const k::Conv1dShape s{static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)),
                         static_cast<int>(w.size(0)), static_cast<int>(w.size(2)), stride, padding};
  check_shape(s.L + 2 * padding >= s.K, "conv1d: kernel " + std::to_string(s.K) + " is longer than the padded input (" +
                                            std::to_string(s.L) + " + 2*" + std::to_string(padding) + ")");
  const Device dev = common_device("conv1d", {&x, &w, &b});
  const bool needs_grad = any_requires_grad({&x, &w, &b});
  Tensor y = Tensor::empty({s.N, s.COUT, s.LOUT()}, dev);
  // col only carries x to the backward: none for inference.
  Tensor col = needs_grad ? Tensor::empty({k::conv1d_col_size(s)}, dev) : Tensor();
  DC_KERNEL(dev, conv1d_forward)(y.data(), needs_grad ? col.data() : nullptr, x.data(), w.data(), data_or_null(b), s);
  if (needs_grad) {
    auto node = std::make_shared<Conv1dNode>();
    node->x = x;
    node->w = w;
    node->b = b;
    node->col = std::move(col);
    node->s = s;
    record(y, node, {&x, &w, &b});
  }
  return y;
}

Tensor max_pool1d(const Tensor& x, int kernel, int stride) {
  require_defined("max_pool1d", x, "input");
  check_shape(x.dim() >= 1 && kernel >= 1 && stride >= 1 && x.size(-1) >= kernel,
              "max_pool1d: expected x (..., L) with L >= kernel >= 1 and stride >= 1; got x " + shape_str(x.shape()) +
                  ", kernel " + std::to_string(kernel) + ", stride " + std::to_string(stride));
  const int L = static_cast<int>(x.size(-1));
  const k::Pool1dShape s{static_cast<int>(x.numel() / L), L, kernel, stride};
  Shape out_shape = x.shape();
  out_shape.back() = s.LOUT();
  Tensor y = Tensor::empty(out_shape, x.device());
  static_assert(sizeof(int32_t) == sizeof(float), "argmax indices share a float-sized buffer");
  auto argmax = std::make_shared<Storage>(y.numel(), x.device());
  DC_KERNEL(x.device(), maxpool1d_forward)(y.data(), reinterpret_cast<int32_t*>(argmax->data()), x.data(), s);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaxPoolNode>();
    node->x = x;
    node->argmax = std::move(argmax);
    node->s = s;
    record(y, node, {&x});
  }
  return y;
}

Tensor dropout(const Tensor& x, float p, bool training, DropoutKey key) {
  require_defined("dropout", x, "input");
  check_shape(p >= 0.0f && p < 1.0f, "dropout: probability must be in [0, 1), got " + std::to_string(p));
  if (!training || p == 0.0f) return x;
  Tensor y = Tensor::empty(x.shape(), x.device());
  DC_KERNEL(x.device(), dropout_forward)(y.data(), x.data(), x.numel(), p, key);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<DropoutNode>();
    node->x = x;
    node->p = p;
    node->key = key;
    record(y, node, {&x});
  }
  return y;
}

Tensor relu(const Tensor& x) { return activation(x, k::Activation::Relu, "relu"); }
Tensor tanh(const Tensor& x) { return activation(x, k::Activation::Tanh, "tanh"); }
Tensor sigmoid(const Tensor& x) { return activation(x, k::Activation::Sigmoid, "sigmoid"); }
Tensor exp(const Tensor& x) { return activation(x, k::Activation::Exp, "exp"); }

Tensor gelu(const Tensor& x) {
  require_defined("gelu", x, "input");
  Tensor y = Tensor::empty(x.shape(), x.device());
  DC_KERNEL(x.device(), gelu_forward)(y.data(), x.data(), x.numel());
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<GeluNode>();
    node->x = x;
    record(y, node, {&x});
  }
  return y;
}
Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, k::Binary::Add, "add"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, k::Binary::Mul, "mul"); }

Tensor reshape(const Tensor& x, const Shape& shape) {
  require_defined("reshape", x, "input");
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      check_shape(infer < 0, "reshape: only one dimension may be -1, got " + shape_str(shape));
      infer = static_cast<int>(i);
    } else {
      check_shape(s[i] >= 0, "reshape: negative dimension in " + shape_str(shape));
      known *= s[i];
    }
  }
  if (infer >= 0) {
    check_shape(known > 0 && x.numel() % known == 0,
                "reshape: cannot reshape " + shape_str(x.shape()) + " into " + shape_str(shape));
    s[infer] = x.numel() / known;
  }
  check_shape(shape_numel(s) == x.numel(), "reshape: cannot reshape " + shape_str(x.shape()) + " (" +
                                               std::to_string(x.numel()) + " elements) into " + shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->storage = x.impl()->storage;
  Tensor y(std::move(impl));
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ReshapeNode>();
    node->x = x;
    record(y, node, {&x});
  }
  return y;
}

Tensor flatten(const Tensor& x, int start_dim) {
  require_defined("flatten", x, "input");
  check_shape(start_dim >= 0 && start_dim < std::max(1, x.dim()),
              "flatten: start_dim " + std::to_string(start_dim) + " out of range for shape " + shape_str(x.shape()));
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t rest = 1;
  for (int d = start_dim; d < x.dim(); ++d) rest *= x.size(d);
  s.push_back(rest);
  return reshape(x, s);
}

Tensor transpose(const Tensor& x, int dim0, int dim1) {
  require_defined("transpose", x, "input");
  const int n = x.dim();
  const int d0 = dim0 < 0 ? dim0 + n : dim0, d1 = dim1 < 0 ? dim1 + n : dim1;
  check_shape(d0 >= 0 && d0 < n && d1 >= 0 && d1 < n,
              "transpose: dims " + std::to_string(dim0) + ", " + std::to_string(dim1) + " invalid for shape " +
                  shape_str(x.shape()));
  Shape out_shape = x.shape();
  std::swap(out_shape[d0], out_shape[d1]);
  const int a = std::min(d0, d1), b = std::max(d0, d1);
  Tensor y = Tensor::empty(out_shape, x.device());
  DC_KERNEL(x.device(), swap_axes)({y.data(), GradMode::Overwrite}, x.data(), swap_view(x.shape(), a, b));
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<TransposeNode>();
    node->x = x;
    node->out_shape = out_shape;
    node->a = a;
    node->b = b;
    record(y, node, {&x});
  }
  return y;
}

namespace {
// softmax or log_softmax over the last axis of a checked, non-empty x.
Tensor row_softmax(const Tensor& x, bool log) {
  const int C = static_cast<int>(x.size(-1));
  const int64_t R = x.numel() / C;
  Tensor y = Tensor::empty(x.shape(), x.device());
  if (log) DC_KERNEL(x.device(), log_softmax_forward)(y.data(), x.data(), static_cast<int>(R), C);
  else DC_KERNEL(x.device(), softmax_forward)(y.data(), x.data(), R, C);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<SoftmaxNode>();
    node->x = x;
    node->y = y.impl()->storage;
    node->R = R;
    node->C = C;
    node->log = log;
    record(y, node, {&x});
  }
  return y;
}
}  // namespace

Tensor softmax(const Tensor& x) {
  require_defined("softmax", x, "input");
  check_shape(x.dim() >= 1 && x.numel() > 0, "softmax: expected a non-empty tensor of rank >= 1, got " + shape_str(x.shape()));
  return row_softmax(x, false);
}

Tensor log_softmax(const Tensor& x) {
  require_defined("log_softmax", x, "input");
  check_shape(x.dim() == 2 && x.size(1) >= 1, "log_softmax: expected x (R, C), got " + shape_str(x.shape()));
  return row_softmax(x, true);
}

Tensor nll_loss(const Tensor& logp, const Tensor& target) {
  require_defined("nll_loss", logp, "log-probabilities");
  require_defined("nll_loss", target, "target");
  check_shape(logp.dim() == 2 && target.dim() == 1 && target.size(0) == logp.size(0) && logp.size(0) > 0,
              "nll_loss: expected logp (R, C) and target (R) with R > 0; got logp " + shape_str(logp.shape()) +
                  ", target " + shape_str(target.shape()));
  const Device dev = common_device("nll_loss", {&logp, &target});
  const int R = static_cast<int>(logp.size(0)), C = static_cast<int>(logp.size(1));
  // Targets are range-checked where they can be read for free: on a GPU that would read them
  // back every step (the trainer's labels are 0/1 by construction).
  if (dev == Device::CPU)
    for (int r = 0; r < R; ++r) {
      const float t = target.data()[r];
      if (!(t >= 0.0f && t < static_cast<float>(C)) || t != static_cast<float>(static_cast<int>(t)))
        throw ShapeError("nll_loss: target[" + std::to_string(r) + "] = " + std::to_string(t) +
                         " is not a class index in 0.." + std::to_string(C - 1));
    }
  Tensor y = Tensor::empty({}, dev);  // the loss stays on the device
  DC_KERNEL(dev, nll_loss_forward)(y.data(), logp.data(), target.data(), R, C);
  if (any_requires_grad({&logp})) {
    auto node = std::make_shared<NllNode>();
    node->logp = logp;
    node->target = target;
    node->R = R;
    node->C = C;
    record(y, node, {&logp});
  }
  return y;
}

Tensor bce_with_logits(const Tensor& logits, const Tensor& target) {
  require_defined("bce_with_logits", logits, "logits");
  require_defined("bce_with_logits", target, "target");
  const bool shape_ok = (logits.dim() == 1 || (logits.dim() == 2 && logits.size(1) == 1)) && target.dim() == 1 &&
                        target.size(0) == logits.size(0) && logits.size(0) > 0;
  check_shape(shape_ok, "bce_with_logits: expected logits (R) or (R, 1) and target (R) with R > 0; got logits " +
                            shape_str(logits.shape()) + ", target " + shape_str(target.shape()));
  const Device dev = common_device("bce_with_logits", {&logits, &target});
  const int R = static_cast<int>(logits.size(0));
  Tensor y = Tensor::empty({}, dev);
  DC_KERNEL(dev, bce_with_logits_forward)(y.data(), logits.data(), target.data(), R);
  if (any_requires_grad({&logits})) {
    auto node = std::make_shared<BceNode>();
    node->z = logits;
    node->target = target;
    node->R = R;
    record(y, node, {&logits});
  }
  return y;
}

namespace {
Tensor reduce(const Tensor& x, float scale, const char* op) {
  require_defined(op, x, "input");
  check_shape(x.numel() > 0, std::string(op) + ": empty tensor " + shape_str(x.shape()));
  Tensor y = Tensor::empty({}, x.device());
  DC_KERNEL(x.device(), sum_forward)(y.data(), x.data(), x.numel(), scale);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<FillNode>();
    node->x = x;
    node->scale = scale;
    record(y, node, {&x});
  }
  return y;
}
}  // namespace

Tensor sum(const Tensor& x) { return reduce(x, 1.0f, "sum"); }
Tensor mean(const Tensor& x) { return reduce(x, x.defined() && x.numel() ? 1.0f / static_cast<float>(x.numel()) : 1.0f, "mean"); }

}  // namespace dc
