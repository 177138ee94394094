#include "engine/optim.h"

#include <cmath>

#include "engine/dispatch.h"
#include "kernels/base/error.h"
#include "kernels/contract/optim.h"
#include "kernels/cuda/runtime.h"

namespace dc {

namespace {
const float* grad_data(const Tensor& p) {
  Tensor g = p.grad();
  return g.defined() ? g.data() : nullptr;
}

// Keeps an optimizer state tensor on its parameter's device.
inline void follow(Tensor& state, const Tensor& param) {
  if (state.device() != param.device()) state.move_to(param.device());
}

// The device of a parameter list (CPU when empty); all parameters must share it.
Device params_device(const char* op, const std::vector<Parameter>& params) {
  if (params.empty()) return Device::CPU;
  const Device d = params.front().tensor.device();
  for (const auto& p : params) check_device(op, p.tensor, d);
  return d;
}
}  // namespace

Optimizer::Optimizer(std::vector<Parameter> params) : params_(std::move(params)) {
  for (auto& p : params_) {
    TensorImpl* t = p.tensor.impl();
    if (t->storage->device() == Device::CPU || (t->grad && t->grad->shape == t->shape)) continue;
    auto g = std::make_shared<TensorImpl>();
    g->shape = t->shape;
    g->storage = std::make_shared<Storage>(shape_numel(t->shape), t->storage->device());
    t->grad = std::move(g);
    t->grad_valid = false;  // stale until the first backward writes it
  }
}

void Optimizer::zero_grad() {
  for (auto& p : params_) p.tensor.zero_grad();
}

Sgd::Sgd(std::vector<Parameter> params, SgdOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  if (opt_.momentum != 0)
    for (auto& p : params_) momentum_.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.device()));
  else
    for (auto& p : params_) p.tensor.impl()->factored_ok = true;  // plain SGD applies factors directly
}

std::vector<Parameter> Sgd::state() const {
  std::vector<Parameter> out;
  for (size_t i = 0; i < momentum_.size(); ++i) out.push_back({"sgd.momentum." + params_[i].name, momentum_[i]});
  return out;
}

Sgd::~Sgd() {
  for (auto& p : params_) p.tensor.impl()->sgd_in_backward = {};
}

void Sgd::zero_grad() {
  Optimizer::zero_grad();
  if (!opt_.update_in_backward || !momentum_.empty()) return;
  const float lr = static_cast<float>(current_lr()), wd = static_cast<float>(opt_.weight_decay);
  for (auto& p : params_) {
    TensorImpl* impl = p.tensor.impl();
    if (impl->storage->device() == Device::CPU) impl->sgd_in_backward = {lr, wd, true, false, 0};
  }
}

double Sgd::current_lr() const { return opt_.lr / (1.0 + static_cast<double>(t_) * opt_.lr_decay); }

void Sgd::step() {
  const float lr = static_cast<float>(current_lr());
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    TensorImpl* impl = p.impl();
    const bool applied = impl->sgd_in_backward.applied;
    impl->sgd_in_backward = {};  // disarmed until the next zero_grad()
    if (applied) continue;       // updated in the backward pass
    if (impl->grad_valid && impl->grad_factored && momentum_.empty()) {  // CPU only (FactoredGrad)
      const FactoredGrad& f = *impl->factored;
      kernels::cpu::sgd_factored_update(p.data(), f.rows, f.cols, f.u.data(), f.v.data(), f.n, lr,
                                        static_cast<float>(opt_.weight_decay));
      continue;
    }
    const float* g = grad_data(p);
    if (!g && opt_.weight_decay == 0 && opt_.momentum == 0) continue;  // nothing moves
    if (!momentum_.empty()) follow(momentum_[i], p);
    DC_KERNEL(p.device(), sgd_update)(p.data(), g, momentum_.empty() ? nullptr : momentum_[i].data(), p.numel(), lr,
                                      static_cast<float>(opt_.momentum), static_cast<float>(opt_.weight_decay), t_ == 0);
  }
  ++t_;
}

Adam::Adam(std::vector<Parameter> params, AdamOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  for (auto& p : params_) {
    m_.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.device()));
    v_.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.device()));
  }
}

std::vector<Parameter> Adam::state() const {
  std::vector<Parameter> out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.push_back({"adam.m." + params_[i].name, m_[i]});
    out.push_back({"adam.v." + params_[i].name, v_[i]});
  }
  return out;
}

void Adam::step() {
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    follow(m_[i], p);
    follow(v_[i], p);
    DC_KERNEL(p.device(), adam_update)(p.data(), grad_data(p), m_[i].data(), v_[i].data(), p.numel(),
                                       static_cast<float>(opt_.lr), static_cast<float>(opt_.beta1),
                                       static_cast<float>(opt_.beta2), static_cast<float>(opt_.eps),
                                       static_cast<float>(opt_.weight_decay), t_);
  }
}

Rmsprop::Rmsprop(std::vector<Parameter> params, RmspropOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  for (auto& p : params_) m_.push_back(Tensor::zeros(p.tensor.shape(), p.tensor.device()));
}

std::vector<Parameter> Rmsprop::state() const {
  std::vector<Parameter> out;
  for (size_t i = 0; i < params_.size(); ++i) out.push_back({"rmsprop.m." + params_[i].name, m_[i]});
  return out;
}

void Rmsprop::step() {
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    follow(m_[i], p);
    DC_KERNEL(p.device(), rmsprop_update)(p.data(), grad_data(p), m_[i].data(), p.numel(), static_cast<float>(opt_.lr),
                                          static_cast<float>(opt_.alpha), static_cast<float>(opt_.eps));
  }
}

namespace {
// ||sum_k u_k^T v_k||_F^2 = sum_{a,b} (u_a . u_b)(v_a . v_b), in double.
double factored_sum_squares(const FactoredGrad& f) {
  auto dot = [](const float* a, const float* b, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
    return s;
  };
  double s = 0;
  for (int a = 0; a < f.n; ++a)
    for (int b = 0; b < f.n; ++b)
      s += dot(f.u.data() + static_cast<size_t>(a) * f.rows, f.u.data() + static_cast<size_t>(b) * f.rows, f.rows) *
           dot(f.v.data() + static_cast<size_t>(a) * f.cols, f.v.data() + static_cast<size_t>(b) * f.cols, f.cols);
  return s;
}
}  // namespace

namespace {
[[noreturn]] void throw_not_finite(double norm) {
  throw Error("clip_grad_norm: the gradient norm is not finite (" + std::to_string(norm) + ")");
}

// Sums the squares of every gradient into a double on the parameters' device, then scales
// every gradient by the clip factor computed from it there (kernels/contract/optim.h), so
// on a GPU nothing waits. Factored gradients (CPU only) join the sum and are scaled through
// their u factor. On the CPU a non-finite norm throws before anything is scaled. Returns the
// squared norm when `read` (on CUDA: one small copy back, which waits), else 0.
double clip(const std::vector<Parameter>& params, double max_norm, bool read) {
  static_assert(sizeof(double) == 2 * sizeof(float), "a double occupies two floats of a storage");
  const Device dev = params_device("clip_grad_norm", params);
  const Tensor total_storage = Tensor::zeros({2}, dev);
  double* total = reinterpret_cast<double*>(const_cast<float*>(total_storage.data()));
  std::vector<Tensor> grads;
  grads.reserve(params.size());
  for (const auto& p : params) {
    const TensorImpl* impl = p.tensor.impl();
    if (impl->grad_valid && impl->grad_factored) {
      *total += factored_sum_squares(*impl->factored);
      continue;
    }
    Tensor g = p.tensor.grad();
    if (!g.defined()) continue;
    DC_KERNEL(dev, sum_squares_accumulate)(total, g.data(), g.numel());
    grads.push_back(std::move(g));
  }
  if (dev == Device::CPU && !std::isfinite(std::sqrt(*total))) throw_not_finite(std::sqrt(*total));
  for (const auto& p : params) {
    TensorImpl* impl = p.tensor.impl();
    if (!(impl->grad_valid && impl->grad_factored)) continue;
    const double factor = max_norm / (std::sqrt(*total) + 1e-6);  // scaling u scales the sum
    if (factor < 1.0)
      for (float& u : impl->factored->u) u *= static_cast<float>(factor);
  }
  for (Tensor& g : grads) DC_KERNEL(dev, clip_scale)(g.data(), g.numel(), total, max_norm);
  if (!read) return 0;
  double sum = *total;
  if (dev == Device::CUDA) kernels::cuda::copy_to_host(&sum, total, sizeof(double));
  return sum;
}
}  // namespace

void clip_grad_norm_no_sync(const std::vector<Parameter>& params, double max_norm) {
  clip(params, max_norm, params_device("clip_grad_norm", params) == Device::CPU);
}

double clip_grad_norm(const std::vector<Parameter>& params, double max_norm) {
  const double norm = std::sqrt(clip(params, max_norm, true));
  if (!std::isfinite(norm)) throw_not_finite(norm);
  return norm;
}

}  // namespace dc
