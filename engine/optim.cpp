#include "engine/optim.h"

#include <cmath>

#include "engine/error.h"
#include "kernels/cpu/optim.h"

namespace dc {

namespace {
const float* grad_data(const Tensor& p) {
  Tensor g = p.grad();
  return g.defined() ? g.data() : nullptr;
}
}  // namespace

void Optimizer::zero_grad() {
  for (auto& p : params_) p.tensor.zero_grad();
}

Sgd::Sgd(std::vector<Parameter> params, SgdOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  if (opt_.momentum != 0)
    for (auto& p : params_) momentum_.push_back(Tensor::zeros(p.tensor.shape()));
}

double Sgd::current_lr() const { return opt_.lr / (1.0 + static_cast<double>(t_) * opt_.lr_decay); }

void Sgd::step() {
  const float lr = static_cast<float>(current_lr());
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    const float* g = grad_data(p);
    if (!g && opt_.weight_decay == 0 && opt_.momentum == 0) continue;  // nothing moves
    cpu::sgd_update(p.data(), g, momentum_.empty() ? nullptr : momentum_[i].data(), p.numel(), lr,
                    static_cast<float>(opt_.momentum), static_cast<float>(opt_.weight_decay), t_ == 0);
  }
  ++t_;
}

Adam::Adam(std::vector<Parameter> params, AdamOptions opt) : Optimizer(std::move(params)), opt_(opt) {
  for (auto& p : params_) {
    m_.push_back(Tensor::zeros(p.tensor.shape()));
    v_.push_back(Tensor::zeros(p.tensor.shape()));
  }
}

void Adam::step() {
  ++t_;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i].tensor;
    cpu::adam_update(p.data(), grad_data(p), m_[i].data(), v_[i].data(), p.numel(), static_cast<float>(opt_.lr),
                     static_cast<float>(opt_.beta1), static_cast<float>(opt_.beta2), static_cast<float>(opt_.eps),
                     static_cast<float>(opt_.weight_decay), t_);
  }
}

double clip_grad_norm(const std::vector<Parameter>& params, double max_norm) {
  double total = 0;
  for (const auto& p : params) {
    Tensor g = p.tensor.grad();
    if (g.defined()) total += cpu::sum_squares(g.data(), g.numel());
  }
  const double norm = std::sqrt(total);
  if (!std::isfinite(norm)) throw Error("clip_grad_norm: the gradient norm is not finite (" + std::to_string(norm) + ")");
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    for (const auto& p : params) {
      Tensor g = p.tensor.grad();
      if (g.defined()) cpu::scale_inplace(g.data(), g.numel(), static_cast<float>(factor));
    }
  return norm;
}

}  // namespace dc
