#include "engine/ops.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/device_check.h"
#include "engine/error.h"
#include "kernels/cpu/conv1d.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/pool.h"
#include "kernels/cpu/reduce.h"

#if DEEPCHROME_HAS_CUDA
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/tensor_ops.h"
#endif

namespace dc {
namespace {

#if DEEPCHROME_HAS_CUDA
namespace cu = kernels::cuda;
inline bool on_cuda(const Tensor& t) { return t.device() == Device::CUDA; }

// The view of `shape` around axes a <= b that cu::swap_axes takes (a == b: a plain copy).
cu::SwapAxesShape swap_view(const Shape& shape, int a, int b) {
  cu::SwapAxesShape v{1, shape[static_cast<size_t>(a)], 1, a == b ? 1 : shape[static_cast<size_t>(b)], 1};
  for (int d = 0; d < a; ++d) v.outer *= shape[static_cast<size_t>(d)];
  for (int d = a + 1; d < b; ++d) v.mid *= shape[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(b) + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}
#endif

void require_defined(const char* op, const Tensor& t, const char* what) {
  if (!t.defined()) throw ShapeError(std::string(op) + ": " + what + " is an undefined tensor");
}


// ---- linear -------------------------------------------------------------------------------
struct LinearNode : Node {
  Tensor x, w, b;
  cpu::LinearShape s;
  const char* name() const override { return "linear"; }
  void backward(TensorImpl& out) override {
    const float* dy = out.grad->storage->data();
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {  // dense gradients only
      GradSink dx = grad_sink(x.impl()), dw = grad_sink(w.impl()), db = b.defined() ? grad_sink(b.impl()) : GradSink{};
      cu::linear_backward(dx.data, dx.mode, dw.data, dw.mode, db.data, db.mode, dy, x.data(), w.data(), s);
      return;
    }
#endif
    // For a small batch the weight gradient dy^T x may stay factored (see FactoredGrad).
    const bool dw_factored = factored_grad_sink(w.impl(), s.N, s.OUT, s.IN, dy, x.data());
    GradSink dx = grad_sink(x.impl()), dw = dw_factored ? GradSink{} : grad_sink(w.impl()),
             db = b.defined() ? grad_sink(b.impl()) : GradSink{};
    cpu::linear_backward(dx.data, dx.mode, dw.data, dw.mode, db.data, db.mode, out.grad->storage->data(), x.data(),
                         w.data(), s);
  }
};

// ---- conv1d -------------------------------------------------------------------------------
struct Conv1dNode : Node {
  Tensor x, w, b;
  Tensor col;  // im2col of x, kept from the forward pass
  cpu::Conv1dShape s;
  const char* name() const override { return "conv1d"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl()), dw = grad_sink(w.impl()), db = b.defined() ? grad_sink(b.impl()) : GradSink{};
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::conv1d_backward(dx.data, dx.mode, dw.data, dw.mode, db.data, db.mode, out.grad->storage->data(), col.data(), w.data(), s);
      return;
    }
#endif
    cpu::conv1d_backward(dx.data, dx.mode, dw.data, dw.mode, db.data, db.mode, out.grad->storage->data(), col.data(),
                         w.data(), s);
  }
};

struct MaxPoolNode : Node {
  Tensor x;
  std::vector<int32_t> argmax;               // CPU
  std::shared_ptr<Storage> argmax_device;    // CUDA: int32 indices in a float-sized buffer
  cpu::Pool1dShape s;
  const char* name() const override { return "max_pool1d"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::maxpool1d_backward(dx.data, dx.mode, out.grad->storage->data(),
                             reinterpret_cast<const int32_t*>(argmax_device->data()), s);
      return;
    }
#endif
    cpu::maxpool1d_backward(dx.data, dx.mode, out.grad->storage->data(), argmax.data(), s);
  }
};

struct DropoutNode : Node {
  Tensor x;
  float p;
  cpu::DropoutKey key;
  const char* name() const override { return "dropout"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::dropout_backward(dx.data, dx.mode, out.grad->storage->data(), x.numel(), p, key);
      return;
    }
#endif
    cpu::dropout_backward(dx.data, dx.mode, out.grad->storage->data(), x.numel(), p, key);
  }
};

struct ActivationNode : Node {
  Tensor x;
  std::shared_ptr<Storage> y;  // the output's data (not the output tensor: no cycle)
  cpu::Activation a;
  const char* name() const override { return "activation"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::activation_backward(dx.data, dx.mode, out.grad->storage->data(), y->data(), x.numel(), a);
      return;
    }
#endif
    cpu::activation_backward(dx.data, dx.mode, out.grad->storage->data(), y->data(), x.numel(), a);
  }
};

struct BinaryNode : Node {
  Tensor a, b;
  cpu::Binary op;
  const char* name() const override { return op == cpu::Binary::Add ? "add" : "mul"; }
  void backward(TensorImpl& out) override {
    GradSink da = grad_sink(a.impl()), db = grad_sink(b.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(a)) {
      cu::binary_backward(da.data, da.mode, db.data, db.mode, out.grad->storage->data(), a.data(), b.data(), a.numel(), op);
      return;
    }
#endif
    cpu::binary_backward(da.data, da.mode, db.data, db.mode, out.grad->storage->data(), a.data(), b.data(), a.numel(), op);
  }
};

// Reshape shares storage with its input; its gradient is the output gradient, reshaped.
struct ReshapeNode : Node {
  Tensor x;
  const char* name() const override { return "reshape"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
    const float* g = out.grad->storage->data();
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::put(dx.data, dx.mode, g, x.numel());
      return;
    }
#endif
    for (int64_t i = 0, n = x.numel(); i < n; ++i) cpu::put(dx.data, i, g[i], dx.mode);
  }
};

// Strides for a general permutation of two axes.
struct TransposeMap {
  Shape in_shape, out_shape;
  int d0, d1;
  // Offset in the input of output element `i`.
  int64_t source(int64_t i) const {
    const int n = static_cast<int>(out_shape.size());
    int64_t idx[8];
    for (int d = n - 1; d >= 0; --d) { idx[d] = i % out_shape[d]; i /= out_shape[d]; }
    std::swap(idx[d0], idx[d1]);
    int64_t off = 0;
    for (int d = 0; d < n; ++d) off = off * in_shape[d] + idx[d];
    return off;
  }
};

struct TransposeNode : Node {
  Tensor x;
  TransposeMap map;
  const char* name() const override { return "transpose"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
    const float* g = out.grad->storage->data();
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {  // swapping the same two axes of the output's gradient
      cu::swap_axes(dx.data, dx.mode, g, swap_view(map.out_shape, std::min(map.d0, map.d1), std::max(map.d0, map.d1)));
      return;
    }
#endif
    const int64_t n = x.numel();
    if (dx.mode == GradMode::Overwrite)
      for (int64_t i = 0; i < n; ++i) dx.data[map.source(i)] = g[i];
    else
      for (int64_t i = 0; i < n; ++i) dx.data[map.source(i)] += g[i];
  }
};

struct LogSoftmaxNode : Node {
  Tensor x;
  std::shared_ptr<Storage> y;
  int R, C;
  const char* name() const override { return "log_softmax"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::log_softmax_backward(dx.data, dx.mode, out.grad->storage->data(), y->data(), R, C);
      return;
    }
#endif
    cpu::log_softmax_backward(dx.data, dx.mode, out.grad->storage->data(), y->data(), R, C);
  }
};

struct NllNode : Node {
  Tensor logp, target;
  int R, C;
  const char* name() const override { return "nll_loss"; }
  void backward(TensorImpl& out) override {
    GradSink d = grad_sink(logp.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(logp)) {  // the loss gradient stays a device scalar
      cu::nll_loss_backward(d.data, d.mode, out.grad->storage->data(), target.data(), R, C);
      return;
    }
#endif
    cpu::nll_loss_backward(d.data, d.mode, out.grad->storage->data()[0], target.data(), R, C);
  }
};

struct BceNode : Node {
  Tensor z, target;
  int R;
  const char* name() const override { return "bce_with_logits"; }
  void backward(TensorImpl& out) override {
    GradSink d = grad_sink(z.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(z)) {
      cu::bce_with_logits_backward(d.data, d.mode, out.grad->storage->data(), z.data(), target.data(), R);
      return;
    }
#endif
    cpu::bce_with_logits_backward(d.data, d.mode, out.grad->storage->data()[0], z.data(), target.data(), R);
  }
};

struct FillNode : Node {  // sum and mean: dx = dy * scale everywhere
  Tensor x;
  float scale;
  const char* name() const override { return "sum"; }
  void backward(TensorImpl& out) override {
    GradSink dx = grad_sink(x.impl());
#if DEEPCHROME_HAS_CUDA
    if (on_cuda(x)) {
      cu::fill_backward(dx.data, dx.mode, out.grad->storage->data(), scale, x.numel());
      return;
    }
#endif
    cpu::fill_backward(dx.data, dx.mode, out.grad->storage->data()[0] * scale, x.numel());
  }
};

Tensor activation(const Tensor& x, cpu::Activation a, const char* op) {
  require_defined(op, x, "input");
  Tensor y = Tensor::empty(x.shape(), x.device());
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) cu::activation_forward(y.data(), x.data(), x.numel(), a);
  else
#endif
    cpu::activation_forward(y.data(), x.data(), x.numel(), a);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<ActivationNode>();
    node->x = x;
    node->y = y.impl()->storage;
    node->a = a;
    record(y, node, {&x});
  }
  return y;
}

Tensor binary(const Tensor& a, const Tensor& b, cpu::Binary op, const char* name) {
  require_defined(name, a, "first operand");
  require_defined(name, b, "second operand");
  check_shape(a.shape() == b.shape(), std::string(name) + ": operands must have the same shape, got " +
                                          shape_str(a.shape()) + " and " + shape_str(b.shape()));
  const Device dev = common_device(name, {&a, &b});
  Tensor y = Tensor::empty(a.shape(), dev);
#if DEEPCHROME_HAS_CUDA
  if (dev == Device::CUDA) cu::binary_forward(y.data(), a.data(), b.data(), a.numel(), op);
  else
#endif
    cpu::binary_forward(y.data(), a.data(), b.data(), a.numel(), op);
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
  const cpu::LinearShape s{static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(w.size(0))};
  Tensor y = Tensor::empty({s.N, s.OUT}, dev);
#if DEEPCHROME_HAS_CUDA
  if (dev == Device::CUDA) cu::linear_forward(y.data(), x.data(), w.data(), b.defined() ? b.data() : nullptr, s);
  else
#endif
    cpu::linear_forward(y.data(), x.data(), w.data(), b.defined() ? b.data() : nullptr, s);
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
  const cpu::Conv1dShape s{static_cast<int>(x.size(0)), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)),
                           static_cast<int>(w.size(0)), static_cast<int>(w.size(2)), stride, padding};
  check_shape(s.L + 2 * padding >= s.K, "conv1d: kernel " + std::to_string(s.K) + " is longer than the padded input (" +
                                            std::to_string(s.L) + " + 2*" + std::to_string(padding) + ")");
  const Device dev = common_device("conv1d", {&x, &w, &b});
  const bool needs_grad = any_requires_grad({&x, &w, &b});
  Tensor y = Tensor::empty({s.N, s.COUT, s.LOUT()}, dev);
  Tensor col;
#if DEEPCHROME_HAS_CUDA
  if (dev == Device::CUDA) {  // col only carries x to the backward: none for inference
    if (needs_grad) col = Tensor::empty({cpu::conv1d_col_size(s)}, dev);
    cu::conv1d_forward(y.data(), needs_grad ? col.data() : nullptr, x.data(), w.data(), b.defined() ? b.data() : nullptr, s);
  } else
#endif
  {
    col = Tensor::empty({cpu::conv1d_col_size(s)}, dev);
    cpu::conv1d_forward(y.data(), col.data(), x.data(), w.data(), b.defined() ? b.data() : nullptr, s);
  }
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
  const cpu::Pool1dShape s{static_cast<int>(x.numel() / L), L, kernel, stride};
  Shape out_shape = x.shape();
  out_shape.back() = s.LOUT();
  Tensor y = Tensor::empty(out_shape, x.device());
  std::vector<int32_t> argmax;
  std::shared_ptr<Storage> argmax_device;
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) {
    static_assert(sizeof(int32_t) == sizeof(float), "argmax indices share a float-sized device buffer");
    argmax_device = std::make_shared<Storage>(y.numel(), Device::CUDA);
    cu::maxpool1d_forward(y.data(), reinterpret_cast<int32_t*>(argmax_device->data()), x.data(), s);
  } else
#endif
  {
    argmax.resize(static_cast<size_t>(y.numel()));
    cpu::maxpool1d_forward(y.data(), argmax.data(), x.data(), s);
  }
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<MaxPoolNode>();
    node->x = x;
    node->argmax = std::move(argmax);
    node->argmax_device = std::move(argmax_device);
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
  const cpu::DropoutKey k{key.seed, key.stream};
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) cu::dropout_forward(y.data(), x.data(), x.numel(), p, k);
  else
#endif
    cpu::dropout_forward(y.data(), x.data(), x.numel(), p, k);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<DropoutNode>();
    node->x = x;
    node->p = p;
    node->key = k;
    record(y, node, {&x});
  }
  return y;
}

Tensor relu(const Tensor& x) { return activation(x, cpu::Activation::Relu, "relu"); }
Tensor tanh(const Tensor& x) { return activation(x, cpu::Activation::Tanh, "tanh"); }
Tensor sigmoid(const Tensor& x) { return activation(x, cpu::Activation::Sigmoid, "sigmoid"); }
Tensor add(const Tensor& a, const Tensor& b) { return binary(a, b, cpu::Binary::Add, "add"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(a, b, cpu::Binary::Mul, "mul"); }

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
  check_shape(n <= 8 && d0 >= 0 && d0 < n && d1 >= 0 && d1 < n,
              "transpose: dims " + std::to_string(dim0) + ", " + std::to_string(dim1) + " invalid for shape " +
                  shape_str(x.shape()));
  Shape out_shape = x.shape();
  std::swap(out_shape[d0], out_shape[d1]);
  TransposeMap map{x.shape(), out_shape, d0, d1};
  Tensor y = Tensor::empty(out_shape, x.device());
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) {
    cu::swap_axes(y.data(), GradMode::Overwrite, x.data(), swap_view(x.shape(), std::min(d0, d1), std::max(d0, d1)));
  } else
#endif
  {
    const float* src = x.data();
    float* dst = y.data();
    for (int64_t i = 0, m = y.numel(); i < m; ++i) dst[i] = src[map.source(i)];
  }
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<TransposeNode>();
    node->x = x;
    node->map = map;
    record(y, node, {&x});
  }
  return y;
}

Tensor log_softmax(const Tensor& x) {
  require_defined("log_softmax", x, "input");
  check_shape(x.dim() == 2 && x.size(1) >= 1, "log_softmax: expected x (R, C), got " + shape_str(x.shape()));
  const int R = static_cast<int>(x.size(0)), C = static_cast<int>(x.size(1));
  Tensor y = Tensor::empty(x.shape(), x.device());
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) cu::log_softmax_forward(y.data(), x.data(), R, C);
  else
#endif
    cpu::log_softmax_forward(y.data(), x.data(), R, C);
  if (any_requires_grad({&x})) {
    auto node = std::make_shared<LogSoftmaxNode>();
    node->x = x;
    node->y = y.impl()->storage;
    node->R = R;
    node->C = C;
    record(y, node, {&x});
  }
  return y;
}

Tensor nll_loss(const Tensor& logp, const Tensor& target) {
  require_defined("nll_loss", logp, "log-probabilities");
  require_defined("nll_loss", target, "target");
  check_shape(logp.dim() == 2 && target.dim() == 1 && target.size(0) == logp.size(0) && logp.size(0) > 0,
              "nll_loss: expected logp (R, C) and target (R) with R > 0; got logp " + shape_str(logp.shape()) +
                  ", target " + shape_str(target.shape()));
  [[maybe_unused]] const Device dev = common_device("nll_loss", {&logp, &target});
  const int R = static_cast<int>(logp.size(0)), C = static_cast<int>(logp.size(1));
  Tensor y;
#if DEEPCHROME_HAS_CUDA
  if (dev == Device::CUDA) {
    // The loss stays a device scalar. Targets are not range-checked here: that would read
    // them back to the host every step (the trainer's labels are 0/1 by construction).
    y = Tensor::empty({}, dev);
    cu::nll_loss_forward(y.data(), logp.data(), target.data(), R, C);
  } else
#endif
  {
    for (int r = 0; r < R; ++r) {
      const float t = target.data()[r];
      if (!(t >= 0.0f && t < static_cast<float>(C)) || t != static_cast<float>(static_cast<int>(t)))
        throw ShapeError("nll_loss: target[" + std::to_string(r) + "] = " + std::to_string(t) +
                         " is not a class index in 0.." + std::to_string(C - 1));
    }
    y = Tensor::scalar(cpu::nll_loss_forward(logp.data(), target.data(), R, C));
  }
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
  [[maybe_unused]] const Device dev = common_device("bce_with_logits", {&logits, &target});
  const int R = static_cast<int>(logits.size(0));
  Tensor y;
#if DEEPCHROME_HAS_CUDA
  if (dev == Device::CUDA) {
    y = Tensor::empty({}, dev);
    cu::bce_with_logits_forward(y.data(), logits.data(), target.data(), R);
  } else
#endif
    y = Tensor::scalar(cpu::bce_with_logits_forward(logits.data(), target.data(), R));
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
  Tensor y;
#if DEEPCHROME_HAS_CUDA
  if (on_cuda(x)) {
    y = Tensor::empty({}, Device::CUDA);
    cu::sum_forward(y.data(), x.data(), x.numel());
    if (scale != 1.0f) cu::scale(y.data(), 1, scale);
  } else
#endif
    y = Tensor::scalar(cpu::sum_forward(x.data(), x.numel()) * scale);
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
