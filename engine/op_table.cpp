// The rows of the op table (engine/op_table.h), one per op of engine/ops*.h, and the
// machinery they share: the tolerance rule, input generation, and the engine run.
#include "engine/op_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine/ops_rnn.h"
#include "engine/ops_transformer.h"
#include "kernels/base/error.h"
#include "kernels/base/philox.h"
#include "kernels/contract/attention.h"
#include "kernels/contract/bmm.h"
#include "kernels/contract/broadcast.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/dropout.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/layer_norm.h"
#include "kernels/contract/layout.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/lstm.h"
#include "kernels/contract/pool.h"
#include "kernels/contract/reduce.h"
#include "kernels/contract/softmax.h"

namespace dc::optable {

// ---- the tolerance rule ---------------------------------------------------------------------

bool Tolerance::accepts(double actual, double expected, double scale) const {
  if (std::isfinite(actual) != std::isfinite(expected)) return false;
  if (!std::isfinite(expected)) return actual == expected || (std::isnan(actual) && std::isnan(expected));
  return std::fabs(actual - expected) <= atol * scale + rtol * std::fabs(expected);
}

std::string Comparison::describe(const std::string& what) const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s: %zu elements, max |err| %.3g at [%zu]", what.c_str(), n, max_error, worst);
  std::string s = buf;
  if (!ok) {
    std::snprintf(buf, sizeof buf, "; first mismatch at [%zu]: got %.9g, expected %.9g", first_bad, bad_actual, bad_expected);
    s += buf;
  }
  return s;
}

namespace {
template <class A, class R>
Comparison compare_any(const A* actual, const R* expected, size_t n, Tolerance tol) {
  Comparison c;
  c.n = n;
  double scale = 1;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(static_cast<double>(expected[i]))) scale = std::max(scale, std::fabs(static_cast<double>(expected[i])));
  for (size_t i = 0; i < n; ++i) {
    const double a = static_cast<double>(actual[i]), r = static_cast<double>(expected[i]);
    const double err = std::fabs(a - r);
    if (err > c.max_error || (std::isnan(err) && !std::isnan(c.max_error))) {
      c.max_error = err;
      c.worst = i;
    }
    if (!tol.accepts(a, r, scale) && c.ok) {
      c.ok = false;
      c.first_bad = i;
      c.bad_actual = a;
      c.bad_expected = r;
    }
  }
  return c;
}
}  // namespace

Comparison compare(const double* actual, const double* expected, size_t n, Tolerance tol) {
  return compare_any(actual, expected, n, tol);
}
Comparison compare(const std::vector<double>& a, const std::vector<double>& e, Tolerance tol) {
  if (a.size() != e.size()) throw Error("compare: sizes differ");
  return compare_any(a.data(), e.data(), a.size(), tol);
}
Comparison compare(const std::vector<float>& a, const std::vector<double>& e, Tolerance tol) {
  if (a.size() != e.size()) throw Error("compare: sizes differ");
  return compare_any(a.data(), e.data(), a.size(), tol);
}
Comparison compare(const std::vector<float>& a, const std::vector<float>& e, Tolerance tol) {
  if (a.size() != e.size()) throw Error("compare: sizes differ");
  return compare_any(a.data(), e.data(), a.size(), tol);
}

// ---- inputs ---------------------------------------------------------------------------------

Values<double> make_inputs(const OpCase& c, uint64_t seed) {
  Values<double> v;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const InputSpec& s = c.inputs[i];
    std::vector<double> x(static_cast<size_t>(shape_numel(s.shape)));
    CounterRng rng(seed, 1000 + i);
    for (double& e : x) {
      e = s.lo + (s.hi - s.lo) * rng.uniform();
      if (s.integer) e = std::floor(e);
    }
    v.push_back(std::move(x));
  }
  return v;
}

std::vector<double> random_values(size_t n, uint64_t seed) {
  std::vector<double> v(n);
  CounterRng rng(seed, 77);
  for (double& e : v) e = -1.0 + 2.0 * rng.uniform();
  return v;
}

Values<float> to_float(const Values<double>& v) {
  Values<float> out;
  for (const auto& x : v) out.emplace_back(x.begin(), x.end());
  return out;
}

Values<double> to_double(const Values<float>& v) {
  Values<double> out;
  for (const auto& x : v) out.emplace_back(x.begin(), x.end());
  return out;
}

std::vector<Tensor> make_tensors(const OpCase& c, const Values<float>& values, Device device,
                                 const std::vector<bool>& needs_grad) {
  std::vector<Tensor> t;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor x = Tensor::from_vector(c.inputs[i].shape, values[i], device);
    const bool grad = c.inputs[i].differentiable && (needs_grad.empty() || needs_grad[i]);
    if (grad) x.set_requires_grad(true);
    t.push_back(x);
  }
  return t;
}

EngineRun run_engine(const OpRow& row, const OpCase& c, const Values<float>& inputs, const std::vector<float>& dy,
                     Device device, const std::vector<bool>& needs_grad, int backward_passes) {
  std::vector<Tensor> t = make_tensors(c, inputs, device, needs_grad);
  const Tensor y = row.op(t, c);
  EngineRun r;
  r.shape = y.shape();
  r.output = y.to_vector();
  if (y.requires_grad() && backward_passes > 0) {
    const Tensor g = Tensor::from_vector(y.shape(), dy, device);
    for (int p = 0; p < backward_passes; ++p) y.backward(g);
  }
  for (const Tensor& x : t) {
    const Tensor g = x.requires_grad() ? x.grad() : Tensor();
    r.grads.push_back(g.defined() ? g.to_vector() : std::vector<float>{});
  }
  return r;
}

// ---- row helpers ----------------------------------------------------------------------------

namespace {

namespace k = kernels;

int I(int64_t v) { return static_cast<int>(v); }
size_t Z(int64_t v) { return static_cast<size_t>(v); }

template <class T>
Values<T> zeros_like(const Values<T>& in) {
  Values<T> g;
  for (const auto& x : in) g.emplace_back(x.size(), T(0));
  return g;
}

template <class T>
GradOut<T> out(std::vector<T>& v) {
  return {v.data(), GradMode::Overwrite};
}

// A row's reference from generic lambdas, instantiated for double and float.
template <class F, class B>
void set_reference(OpRow& r, F f, B b) {
  r.forward = [f](const Values<double>& in, const OpCase& c) { return f(in, c); };
  r.forward_float = [f](const Values<float>& in, const OpCase& c) { return f(in, c); };
  r.backward = [b](const Values<double>& in, const std::vector<double>& dy, const OpCase& c) { return b(in, dy, c); };
  r.backward_float = [b](const Values<float>& in, const std::vector<float>& dy, const OpCase& c) { return b(in, dy, c); };
}

InputSpec in(std::string name, Shape shape, double lo = -1, double hi = 1) {
  return {std::move(name), std::move(shape), lo, hi, true, false};
}
InputSpec constant(std::string name, Shape shape, double lo, double hi, bool integer) {
  return {std::move(name), std::move(shape), lo, hi, false, integer};
}

std::string join(const Shape& s) { return shape_str(s); }

// ---- linear ---------------------------------------------------------------------------------

k::LinearShape linear_shape(const OpCase& c) {
  return {I(c.inputs[0].shape[0]), I(c.inputs[0].shape[1]), I(c.inputs[1].shape[0])};
}

OpCase linear_case(int N, int IN, int OUT, bool bias, bool model) {
  const double b = 1.0 / std::sqrt(static_cast<double>(IN));
  OpCase c{"N=" + std::to_string(N) + " " + std::to_string(IN) + "->" + std::to_string(OUT) + (bias ? "" : " no bias"),
           {in("x", {N, IN}), in("w", {OUT, IN}, -b, b)}, {}, model};
  if (bias) c.inputs.push_back(in("b", {OUT}, -b, b));
  return c;
}

OpRow linear_row() {
  OpRow r;
  r.name = "linear";
  for (int N : {1, 64})
    for (auto [IN, OUT] : {std::pair{900, 625}, {625, 125}, {125, 2}}) r.cases.push_back(linear_case(N, IN, OUT, true, true));
  for (auto [N, IN, OUT] : {std::tuple{1, 3, 4}, {4, 7, 5}, {3, 1, 1}, {1, 1, 6}, {5, 6, 2}, {2, 33, 17}}) {
    r.cases.push_back(linear_case(N, IN, OUT, true, false));
    r.cases.push_back(linear_case(N, IN, OUT, false, false));
  }
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return linear(t[0], t[1], t.size() > 2 ? t[2] : Tensor()); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::LinearShape s = linear_shape(c);
        std::vector<T> y(Z(int64_t{s.N} * s.OUT));
        k::linear_forward_reference<T>(y.data(), v[0].data(), v[1].data(), v.size() > 2 ? v[2].data() : nullptr, s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::LinearShape s = linear_shape(c);
        Values<T> g = zeros_like(v);
        k::linear_backward_reference<T>(out(g[0]), out(g[1]), v.size() > 2 ? out(g[2]) : GradOut<T>{}, dy.data(),
                                        v[0].data(), v[1].data(), s);
        return g;
      });
  r.forward_tol = {1e-5, 1e-5};
  r.grad_tol = {5e-5, 1e-5};
  r.forward_flops = [](const OpCase& c) {
    const k::LinearShape s = linear_shape(c);
    return 2.0 * s.N * s.IN * s.OUT;
  };
  r.backward_flops = [](const OpCase& c) {
    const k::LinearShape s = linear_shape(c);
    return 4.0 * s.N * s.IN * s.OUT;
  };
  return r;
}

// ---- conv1d ---------------------------------------------------------------------------------

k::Conv1dShape conv_shape(const OpCase& c) {
  const Shape& x = c.inputs[0].shape;
  const Shape& w = c.inputs[1].shape;
  return {I(x[0]), I(x[1]), I(x[2]), I(w[0]), I(w[2]), I(c.params[0]), I(c.params[1])};
}

OpCase conv_case(int N, int CIN, int L, int COUT, int K, int stride, int pad, bool bias, bool model) {
  const double b = 1.0 / std::sqrt(static_cast<double>(CIN * K));
  OpCase c{"N=" + std::to_string(N) + " x (" + std::to_string(CIN) + "," + std::to_string(L) + ") w (" + std::to_string(COUT) +
               "," + std::to_string(CIN) + "," + std::to_string(K) + ") stride " + std::to_string(stride) + " pad " +
               std::to_string(pad) + (bias ? "" : " no bias"),
           {in("x", {N, CIN, L}, model ? 0.0 : -1.0, model ? 8.0 : 1.0), in("w", {COUT, CIN, K}, -b, b)},
           {stride, pad},
           model};
  if (bias) c.inputs.push_back(in("b", {COUT}, -b, b));
  return c;
}

OpRow conv1d_row() {
  OpRow r;
  r.name = "conv1d";
  for (int N : {1, 64}) r.cases.push_back(conv_case(N, 5, 100, 50, 10, 1, 0, true, true));  // DeepChrome's layer
  r.cases.push_back(conv_case(2, 3, 11, 4, 3, 1, 1, true, false));
  r.cases.push_back(conv_case(3, 4, 17, 6, 3, 2, 1, true, false));
  r.cases.push_back(conv_case(2, 1, 9, 3, 9, 1, 0, true, false));
  r.cases.push_back(conv_case(5, 3, 20, 7, 4, 3, 2, false, false));
  r.cases.push_back(conv_case(1, 2, 5, 1, 3, 1, 0, true, false));
  r.cases.push_back(conv_case(2, 2, 7, 3, 2, 4, 0, true, false));  // positions no window reaches
  r.cases.push_back(conv_case(2, 2, 9, 3, 4, 2, 2, true, false));
  r.cases.push_back(conv_case(2, 3, 7, 2, 1, 1, 0, true, false));  // K = 1
  r.cases.push_back(conv_case(1, 2, 6, 3, 6, 1, 0, true, false));  // K = L: one output position
  r.cases.push_back(conv_case(2, 3, 10, 2, 5, 3, 2, true, false));
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) {
    return conv1d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), I(c.params[0]), I(c.params[1]));
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::Conv1dShape s = conv_shape(c);
        std::vector<T> y(Z(int64_t{s.N} * s.COUT * s.LOUT()));
        k::conv1d_forward_reference<T>(y.data(), v[0].data(), v[1].data(), v.size() > 2 ? v[2].data() : nullptr, s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::Conv1dShape s = conv_shape(c);
        Values<T> g = zeros_like(v);
        k::conv1d_backward_reference<T>(out(g[0]), out(g[1]), v.size() > 2 ? out(g[2]) : GradOut<T>{}, dy.data(),
                                        v[0].data(), v[1].data(), s);
        return g;
      });
  r.forward_tol = {2e-5, 1e-5};
  r.grad_tol = {1e-4, 1e-5};
  r.forward_flops = [](const OpCase& c) {
    const k::Conv1dShape s = conv_shape(c);
    return 2.0 * s.N * s.COUT * s.LOUT() * s.CIN * s.K;
  };
  r.backward_flops = [r](const OpCase& c) { return 2 * r.forward_flops(c); };
  return r;
}

// ---- max_pool1d -----------------------------------------------------------------------------

k::Pool1dShape pool_shape(const OpCase& c) {
  const Shape& x = c.inputs[0].shape;
  const int L = I(x.back());
  return {I(shape_numel(x) / L), L, I(c.params[0]), I(c.params[1])};
}

OpRow max_pool1d_row() {
  OpRow r;
  r.name = "max_pool1d";
  auto add = [&r](Shape x, int kernel, int stride, bool model, bool ties) {
    OpCase c{"x " + join(x) + " kernel " + std::to_string(kernel) + " stride " + std::to_string(stride) + (ties ? ", ties" : ""),
             {ties ? InputSpec{"x", x, -2, 2, true, true} : in("x", x)},
             {kernel, stride},
             model};
    c.smooth = !ties;
    r.cases.push_back(c);
  };
  add({1, 50, 91}, 5, 5, true, false);  // DeepChrome's pool
  add({64, 50, 91}, 5, 5, true, false);
  add({3, 7, 13}, 3, 2, false, false);
  add({2, 9}, 4, 1, false, false);
  add({5, 2, 8}, 8, 3, false, false);
  add({3, 7, 13}, 3, 2, false, true);
  add({2, 5, 20}, 5, 5, false, true);
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return max_pool1d(t[0], I(c.params[0]), I(c.params[1])); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::Pool1dShape s = pool_shape(c);
        std::vector<T> y(Z(int64_t{s.R} * s.LOUT()));
        std::vector<int32_t> arg(y.size());
        k::maxpool1d_forward_reference<T>(y.data(), arg.data(), v[0].data(), s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::Pool1dShape s = pool_shape(c);
        std::vector<T> y(Z(int64_t{s.R} * s.LOUT()));
        std::vector<int32_t> arg(y.size());
        k::maxpool1d_forward_reference<T>(y.data(), arg.data(), v[0].data(), s);
        Values<T> g = zeros_like(v);
        k::maxpool1d_backward_reference<T>(out(g[0]), dy.data(), arg.data(), s);
        return g;
      });
  r.forward_tol = {0, 0};  // a selection: exact
  r.grad_tol = r.cuda_tol = {0, 1e-6};  // overlapping windows sum their gradients in float
  r.forward_bytes = [](const OpCase& c) {
    const k::Pool1dShape s = pool_shape(c);
    return 4.0 * s.R * s.L + 8.0 * s.R * s.LOUT();
  };
  r.backward_bytes = r.forward_bytes;
  return r;
}

// ---- dropout --------------------------------------------------------------------------------

// params: p in thousandths, seed, stream
OpRow dropout_row() {
  OpRow r;
  r.name = "dropout";
  auto add = [&r](Shape x, int p_milli, bool model) {
    r.cases.push_back({"x " + join(x) + " p " + std::to_string(p_milli / 1000.0).substr(0, 4), {in("x", x)}, {p_milli, 7, 11}, model});
  };
  add({1, 900}, 500, true);  // DeepChrome's dropout
  add({64, 900}, 500, true);
  add({3, 7}, 300, false);
  add({1, 1}, 900, false);
  add({4, 33}, 0, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) {
    return dropout(t[0], static_cast<float>(c.params[0]) / 1000.0f, true, {static_cast<uint64_t>(c.params[1]),
                                                                            static_cast<uint64_t>(c.params[2])});
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        std::vector<T> y(v[0].size());
        k::dropout_forward_reference<T>(y.data(), v[0].data(), static_cast<int64_t>(y.size()),
                                        static_cast<float>(c.params[0]) / 1000.0f,
                                        {static_cast<uint64_t>(c.params[1]), static_cast<uint64_t>(c.params[2])});
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        Values<T> g = zeros_like(v);
        k::dropout_backward_reference<T>(out(g[0]), dy.data(), static_cast<int64_t>(dy.size()),
                                         static_cast<float>(c.params[0]) / 1000.0f,
                                         {static_cast<uint64_t>(c.params[1]), static_cast<uint64_t>(c.params[2])});
        return g;
      });
  r.forward_tol = r.grad_tol = {0, 1e-7};
  r.cuda_tol = {0, 0};  // the same masks and the same scaling, bit for bit
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = r.forward_bytes;
  return r;
}

// ---- activations ----------------------------------------------------------------------------

// params[0]: 0 relu, 1 tanh, 2 sigmoid, 3 exp
OpRow activation_row() {
  OpRow r;
  r.name = "activation";
  const char* names[4] = {"relu", "tanh", "sigmoid", "exp"};
  auto add = [&](int kind, Shape x, double range, bool model) {
    r.cases.push_back({std::string(names[kind]) + " x " + join(x), {in("x", x, -range, range)}, {kind}, model});
  };
  add(0, {64, 625}, 1, true);  // DeepChrome's fc1 output at batch 64
  add(2, {256, 1}, 4, true);
  for (int kind = 0; kind < 3; ++kind) {
    add(kind, {3, 5}, 3, false);
    add(kind, {7}, 1, false);
  }
  add(2, {2, 8}, 40, false);  // large |x|: the stable sigmoid
  add(1, {2, 8}, 20, false);
  add(3, {64, 2}, 3, true);  // P(class) = exp(log_softmax) of a batch (the explain work)
  add(3, {3, 5}, 3, false);
  add(3, {7}, 1, false);
  add(3, {2, 8}, 20, false);  // up to e^20
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) {
    switch (c.params[0]) {
      case 0: return relu(t[0]);
      case 1: return tanh(t[0]);
      case 2: return sigmoid(t[0]);
      default: return exp(t[0]);
    }
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        std::vector<T> y(v[0].size());
        k::activation_forward_reference<T>(y.data(), v[0].data(), static_cast<int64_t>(y.size()),
                                           static_cast<k::Activation>(c.params[0]));
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const auto a = static_cast<k::Activation>(c.params[0]);
        std::vector<T> y(v[0].size());
        k::activation_forward_reference<T>(y.data(), v[0].data(), static_cast<int64_t>(y.size()), a);
        Values<T> g = zeros_like(v);
        k::activation_backward_reference<T>(out(g[0]), dy.data(), y.data(), static_cast<int64_t>(y.size()), a);
        return g;
      });
  r.forward_tol = r.grad_tol = {1e-6, 1e-6};
  r.cuda_tol = {1e-6, 1e-6};
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = [](const OpCase& c) { return 12.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  return r;
}

// ---- gelu -----------------------------------------------------------------------------------

OpRow gelu_row() {
  OpRow r;
  r.name = "gelu";
  auto add = [&r](Shape x, double range, bool model) {
    r.cases.push_back({"x " + join(x) + (range > 5 ? " wide" : ""), {in("x", x, -range, range)}, {}, model});
  };
  add({16, 100, 256}, 3, true);  // a self-attention block's feed-forward layer (d 64, 4 d hidden)
  add({16, 100, 128}, 3, true);  // (d 32)
  add({3, 5}, 3, false);
  add({7}, 1, false);
  add({33}, 0.01, false);  // near 0: gelu(x) ~ x / 2
  add({2, 8}, 10, false);  // both tails: gelu -> 0 on the left, -> x on the right
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return gelu(t[0]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase&) {
        std::vector<T> y(v[0].size());
        k::gelu_forward_reference<T>(y.data(), v[0].data(), static_cast<int64_t>(y.size()));
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase&) {
        Values<T> g = zeros_like(v);
        k::gelu_backward_reference<T>(out(g[0]), dy.data(), v[0].data(), static_cast<int64_t>(dy.size()));
        return g;
      });
  r.forward_tol = r.grad_tol = {5e-7, 1e-6};  // measured: 1.5e-7
  r.cuda_tol = {1e-6, 1e-5};                 // CUDA's erff / expf: up to 2 ulp
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = [](const OpCase& c) { return 12.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  return r;
}

// ---- add / mul ------------------------------------------------------------------------------

// Equal shapes run the binary family's plain loops; different shapes the broadcast family
// (kernels/contract/broadcast.h), whose reference is the specification of both.
OpRow binary_row(const char* name, k::Binary op) {
  OpRow r;
  r.name = name;
  auto push = [&](Shape sa, Shape sb, bool model) {
    r.cases.push_back({"a " + join(sa) + ", b " + join(sb), {in("a", sa), in("b", sb)}, {static_cast<int64_t>(op)}, model});
  };
  push({64, 900}, {64, 900}, true);
  push({3, 5}, {3, 5}, false);
  push({7}, {7}, false);
  push({2, 3, 4}, {2, 3, 4}, false);
  // Broadcasting: a self-attention model's positional table over the batch, a per-feature
  // scale, a (B, 1, 1, T) mask over the heads and queries; then odd shapes on either side.
  push({16, 100, 64}, {100, 64}, true);
  push({16, 100, 64}, {64}, true);
  push({16, 4, 100, 100}, {16, 1, 1, 100}, true);
  push({3, 5}, {5}, false);
  push({5}, {3, 5}, false);
  push({3, 1}, {1, 4}, false);
  push({2, 3, 4}, {3, 1}, false);
  push({2, 1, 4}, {1, 3, 1}, false);
  push({7, 1, 33}, {7, 3, 33}, false);
  push({2, 3}, {}, false);  // a scalar
  push({1}, {3, 1, 2}, false);
  push({1, 1}, {1}, false);  // one element, rank 2
  push({2, 1, 3, 1, 2}, {3, 2, 1}, false);
  r.op = op == k::Binary::Add ? std::function<Tensor(const std::vector<Tensor>&, const OpCase&)>(
                                    [](const std::vector<Tensor>& t, const OpCase&) { return add(t[0], t[1]); })
                              : [](const std::vector<Tensor>& t, const OpCase&) { return mul(t[0], t[1]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const Shape &sa = c.inputs[0].shape, &sb = c.inputs[1].shape;
        const auto op = static_cast<k::Binary>(c.params[0]);
        if (sa == sb) {
          std::vector<T> y(v[0].size());
          k::binary_forward_reference<T>(y.data(), v[0].data(), v[1].data(), static_cast<int64_t>(y.size()), op);
          return y;
        }
        const k::BroadcastShape s = k::broadcast_view(sa, sb);
        std::vector<T> y(Z(s.numel()));
        k::broadcast_forward_reference<T>(y.data(), v[0].data(), v[1].data(), s, op);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const Shape &sa = c.inputs[0].shape, &sb = c.inputs[1].shape;
        const auto op = static_cast<k::Binary>(c.params[0]);
        Values<T> g = zeros_like(v);
        if (sa == sb)
          k::binary_backward_reference<T>(out(g[0]), out(g[1]), dy.data(), v[0].data(), v[1].data(),
                                          static_cast<int64_t>(dy.size()), op);
        else
          k::broadcast_backward_reference<T>(out(g[0]), out(g[1]), dy.data(), v[0].data(), v[1].data(),
                                             k::broadcast_view(sa, sb), op);
        return g;
      });
  // The forward is one rounding; a broadcast operand's gradient sums up to 1600 float terms
  // (measured: up to 1.2e-6 of the largest gradient element).
  r.forward_tol = {0, 1e-7};
  r.grad_tol = {4e-6, 1e-7};
  r.cuda_tol = {0, 0};  // CUDA sums each gradient element in the CPU's order: the same bits
  auto out_numel = [](const OpCase& c) {
    return static_cast<double>(shape_numel(k::broadcast_result(c.inputs[0].shape, c.inputs[1].shape).shape));
  };
  auto in_numel = [](const OpCase& c) {
    return static_cast<double>(shape_numel(c.inputs[0].shape) + shape_numel(c.inputs[1].shape));
  };
  r.forward_bytes = [=](const OpCase& c) { return 4.0 * (in_numel(c) + out_numel(c)); };
  // dy, a and b read, da and db written (add reads no a, b: counted as before for comparison)
  r.backward_bytes = [=](const OpCase& c) { return 4.0 * (out_numel(c) + 2 * in_numel(c)); };
  return r;
}

// ---- reshape / transpose --------------------------------------------------------------------

OpRow reshape_row() {
  OpRow r;
  r.name = "reshape";
  r.cases.push_back({"(2, 3, 4) -> (4, -1)", {in("x", {2, 3, 4})}, {4, -1}, false});
  r.cases.push_back({"(5, 100) -> (500)", {in("x", {5, 100})}, {500}, false});
  r.cases.push_back({"(64, 50, 18) -> (64, 900)", {in("x", {64, 50, 18})}, {64, 900}, true});  // DeepChrome's flatten
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return reshape(t[0], Shape(c.params.begin(), c.params.end())); };
  set_reference(
      r, []<class T>(const Values<T>& v, const OpCase&) { return v[0]; },
      []<class T>(const Values<T>&, const std::vector<T>& dy, const OpCase&) { return Values<T>{dy}; });
  r.forward_tol = r.grad_tol = r.cuda_tol = {0, 0};
  r.backward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  return r;
}

k::SwapAxesShape swap_shape(const Shape& s, int a, int b) {
  k::SwapAxesShape v{1, s[Z(a)], 1, a == b ? 1 : s[Z(b)], 1};  // a == b: a plain copy
  for (int d = 0; d < a; ++d) v.outer *= s[Z(d)];
  for (int d = a + 1; d < b; ++d) v.mid *= s[Z(d)];
  for (size_t d = Z(b) + 1; d < s.size(); ++d) v.inner *= s[d];
  return v;
}

OpRow transpose_row() {
  OpRow r;
  r.name = "transpose";
  auto add = [&r](Shape x, int d0, int d1, bool model) {
    r.cases.push_back({"x " + join(x) + " dims " + std::to_string(d0) + ", " + std::to_string(d1), {in("x", x)}, {d0, d1}, model});
  };
  add({16, 5, 100}, 0, 1, true);  // AttentiveChrome: (B, marks, bins) -> (marks, B, bins)
  add({5, 16, 64}, 0, 1, true);
  add({3, 4}, 0, 1, false);
  add({2, 3, 4}, 0, 2, false);
  add({2, 3, 4}, 2, 1, false);
  add({2, 3, 4, 5}, 1, 3, false);
  add({2, 3, 4}, 1, 1, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return transpose(t[0], I(c.params[0]), I(c.params[1])); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const int a = I(std::min(c.params[0], c.params[1])), b = I(std::max(c.params[0], c.params[1]));
        std::vector<T> y(v[0].size());
        k::swap_axes_reference<T>(out(y), v[0].data(), swap_shape(c.inputs[0].shape, a, b));
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const int a = I(std::min(c.params[0], c.params[1])), b = I(std::max(c.params[0], c.params[1]));
        Shape ys = c.inputs[0].shape;
        std::swap(ys[Z(a)], ys[Z(b)]);
        Values<T> g = zeros_like(v);
        k::swap_axes_reference<T>(out(g[0]), dy.data(), swap_shape(ys, a, b));
        return g;
      });
  r.forward_tol = r.grad_tol = r.cuda_tol = {0, 0};
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = r.forward_bytes;
  return r;
}

// ---- log_softmax / nll_loss / bce_with_logits -----------------------------------------------

OpRow log_softmax_row() {
  OpRow r;
  r.name = "log_softmax";
  auto add = [&r](int R, int C, double range, bool model) {
    r.cases.push_back({"x (" + std::to_string(R) + ", " + std::to_string(C) + ")" + (range > 10 ? " large" : ""),
                       {in("x", {R, C}, -range, range)}, {}, model});
  };
  add(64, 2, 3, true);  // DeepChrome's output
  add(3, 5, 3, false);
  add(1, 1, 1, false);
  add(4, 7, 50, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return log_softmax(t[0]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const int R = I(c.inputs[0].shape[0]), C = I(c.inputs[0].shape[1]);
        std::vector<T> y(v[0].size());
        k::log_softmax_forward_reference<T>(y.data(), v[0].data(), R, C);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const int R = I(c.inputs[0].shape[0]), C = I(c.inputs[0].shape[1]);
        std::vector<T> y(v[0].size());
        k::log_softmax_forward_reference<T>(y.data(), v[0].data(), R, C);
        Values<T> g = zeros_like(v);
        k::log_softmax_backward_reference<T>(out(g[0]), dy.data(), y.data(), R, C);
        return g;
      });
  r.forward_tol = r.grad_tol = {1e-6, 1e-6};
  return r;
}

OpRow nll_loss_row() {
  OpRow r;
  r.name = "nll_loss";
  auto add = [&r](int R, int C, bool model) {
    r.cases.push_back({"logp (" + std::to_string(R) + ", " + std::to_string(C) + ")",
                       {in("logp", {R, C}, -3, 0), constant("target", {R}, 0, C, true)}, {}, model});
  };
  add(64, 2, true);
  add(3, 5, false);
  add(1, 1, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return nll_loss(t[0], t[1]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        std::vector<T> y(1);
        k::nll_loss_forward_reference<T>(y.data(), v[0].data(), v[1].data(), I(c.inputs[0].shape[0]), I(c.inputs[0].shape[1]));
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        Values<T> g = zeros_like(v);
        k::nll_loss_backward_reference<T>(out(g[0]), dy.data(), v[1].data(), I(c.inputs[0].shape[0]), I(c.inputs[0].shape[1]));
        return g;
      });
  r.forward_tol = r.grad_tol = {1e-6, 1e-6};
  return r;
}

OpRow bce_row() {
  OpRow r;
  r.name = "bce_with_logits";
  auto add = [&r](Shape z, double range, bool model) {
    r.cases.push_back({"logits " + join(z) + (range > 10 ? " large" : ""),
                       {in("logits", z, -range, range), constant("target", {z[0]}, 0, 1, false)}, {}, model});
  };
  add({16, 1}, 3, true);  // AttentiveChrome's output
  add({256, 1}, 3, true);
  add({5}, 3, false);
  add({6}, 40, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return bce_with_logits(t[0], t[1]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        std::vector<T> y(1);
        k::bce_with_logits_forward_reference<T>(y.data(), v[0].data(), v[1].data(), I(c.inputs[0].shape[0]));
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        Values<T> g = zeros_like(v);
        k::bce_with_logits_backward_reference<T>(out(g[0]), dy.data(), v[0].data(), v[1].data(), I(c.inputs[0].shape[0]));
        return g;
      });
  r.forward_tol = r.grad_tol = {1e-6, 1e-6};
  return r;
}

// ---- sum / mean -----------------------------------------------------------------------------

OpRow reduce_row(const char* name, bool is_mean) {
  OpRow r;
  r.name = name;
  auto add = [&r](Shape x, bool model) { r.cases.push_back({"x " + join(x), {in("x", x)}, {}, model}); };
  add({64, 900}, true);
  add({3, 5}, false);
  add({1}, false);
  add({2, 3, 4}, false);
  r.op = is_mean ? std::function<Tensor(const std::vector<Tensor>&, const OpCase&)>(
                       [](const std::vector<Tensor>& t, const OpCase&) { return mean(t[0]); })
                 : [](const std::vector<Tensor>& t, const OpCase&) { return sum(t[0]); };
  auto scale_of = [is_mean](size_t n) { return is_mean ? 1.0f / static_cast<float>(n) : 1.0f; };
  set_reference(
      r,
      [scale_of]<class T>(const Values<T>& v, const OpCase&) {
        std::vector<T> y(1);
        k::sum_forward_reference<T>(y.data(), v[0].data(), static_cast<int64_t>(v[0].size()), static_cast<T>(scale_of(v[0].size())));
        return y;
      },
      [scale_of]<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase&) {
        Values<T> g = zeros_like(v);
        k::fill_backward_reference<T>(out(g[0]), dy.data(), static_cast<T>(scale_of(v[0].size())),
                                      static_cast<int64_t>(v[0].size()));
        return g;
      });
  r.forward_tol = {1e-6, 1e-6};
  r.grad_tol = {1e-7, 1e-6};
  r.forward_bytes = [](const OpCase& c) { return 4.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = r.forward_bytes;
  return r;
}

// ---- attention_pool -------------------------------------------------------------------------

k::AttentionShape attention_shape(const OpCase& c) {
  const Shape& h = c.inputs[0].shape;
  return {I(h[0]), I(h[1]), I(h[2]), I(h[3])};
}

OpCase attention_case(int G, int B, int T, int F, bool model) {
  OpCase c{"h (" + std::to_string(G) + ", " + std::to_string(B) + ", " + std::to_string(T) + ", " + std::to_string(F) + ")",
           {in("h", {G, B, T, F})}, {}, model};
  for (int g = 0; g < G; ++g) c.inputs.push_back(in("context" + std::to_string(g), {F}));
  return c;
}

OpRow attention_row() {
  OpRow r;
  r.name = "attention_pool";
  r.cases.push_back(attention_case(5, 16, 100, 64, true));  // AttentiveChrome's bin attention
  r.cases.push_back(attention_case(1, 16, 5, 32, true));    // and its mark attention
  r.cases.push_back(attention_case(5, 256, 100, 64, true));  // the bin attention at batch 256
  r.cases.back().bench_only = true;
  r.cases.push_back(attention_case(2, 3, 7, 5, false));
  r.cases.push_back(attention_case(1, 1, 1, 3, false));
  r.cases.push_back(attention_case(3, 2, 4, 33, false));
  r.op = [](const std::vector<Tensor>& t, const OpCase&) {
    return attention_pool(t[0], std::vector<Tensor>(t.begin() + 1, t.end())).pooled;
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::AttentionShape s = attention_shape(c);
        std::vector<const T*> ctx;
        for (int g = 0; g < s.G; ++g) ctx.push_back(v[Z(1 + g)].data());
        std::vector<T> pooled(Z(s.rows() * s.F)), alpha(Z(s.rows() * s.T));
        k::attention_forward_reference<T>(pooled.data(), alpha.data(), v[0].data(), ctx.data(), s);
        return pooled;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::AttentionShape s = attention_shape(c);
        std::vector<const T*> ctx;
        for (int g = 0; g < s.G; ++g) ctx.push_back(v[Z(1 + g)].data());
        std::vector<T> pooled(Z(s.rows() * s.F)), alpha(Z(s.rows() * s.T));
        k::attention_forward_reference<T>(pooled.data(), alpha.data(), v[0].data(), ctx.data(), s);
        Values<T> g = zeros_like(v);
        std::vector<GradOut<T>> dctx;
        for (int i = 0; i < s.G; ++i) dctx.push_back(out(g[Z(1 + i)]));
        k::attention_backward_reference<T>(out(g[0]), dctx.data(), dy.data(), v[0].data(), alpha.data(), ctx.data(), s);
        return g;
      });
  r.forward_tol = {2e-6, 1e-5};
  r.grad_tol = {1e-5, 1e-4};
  r.forward_flops = [](const OpCase& c) {
    const k::AttentionShape s = attention_shape(c);
    return 4.0 * s.rows() * s.T * s.F;
  };
  r.backward_flops = [](const OpCase& c) {
    const k::AttentionShape s = attention_shape(c);
    return 8.0 * s.rows() * s.T * s.F;
  };
  return r;
}

// ---- slice / concat -------------------------------------------------------------------------

k::AxisView axis_view(const Shape& s, int d) {
  k::AxisView v{1, s[Z(d)], 1};
  for (int i = 0; i < d; ++i) v.outer *= s[Z(i)];
  for (size_t i = Z(d) + 1; i < s.size(); ++i) v.inner *= s[i];
  return v;
}

int positive_dim(int64_t dim, size_t rank) { return I(dim < 0 ? dim + static_cast<int64_t>(rank) : dim); }

// params: dim, start, end
OpRow slice_row() {
  OpRow r;
  r.name = "slice";
  auto add = [&r](Shape x, int dim, int start, int end, bool model) {
    r.cases.push_back({"x " + join(x) + " dim " + std::to_string(dim) + " [" + std::to_string(start) + ", " + std::to_string(end) + ")",
                       {in("x", x)}, {dim, start, end}, model});
  };
  add({1, 16, 100, 64}, 2, 99, 100, true);  // the lstm baseline's last step
  add({3, 4, 5}, 1, 1, 3, false);
  add({3, 4, 5}, -1, 0, 2, false);
  add({6}, 0, 2, 6, false);
  add({2, 3}, 0, 0, 2, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return slice(t[0], I(c.params[0]), c.params[1], c.params[2]); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const int d = positive_dim(c.params[0], c.inputs[0].shape.size());
        const k::AxisView av = axis_view(c.inputs[0].shape, d);
        std::vector<T> y(Z(av.outer * (c.params[2] - c.params[1]) * av.inner));
        k::slice_forward_reference<T>(y.data(), v[0].data(), av, c.params[1], c.params[2]);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const int d = positive_dim(c.params[0], c.inputs[0].shape.size());
        Values<T> g = zeros_like(v);
        k::slice_backward_reference<T>(out(g[0]), dy.data(), axis_view(c.inputs[0].shape, d), c.params[1], c.params[2]);
        return g;
      });
  r.forward_tol = r.grad_tol = r.cuda_tol = {0, 0};
  return r;
}

// params: dim; inputs: the tensors joined
OpRow concat_row() {
  OpRow r;
  r.name = "concat";
  auto add = [&r](std::vector<Shape> xs, int dim, bool model) {
    OpCase c{"dim " + std::to_string(dim) + ":", {}, {dim}, model};
    for (size_t i = 0; i < xs.size(); ++i) {
      c.label += ' ';
      c.label += join(xs[i]);
      std::string name = "x";
      name += std::to_string(i);
      c.inputs.push_back(in(name, xs[i]));
    }
    r.cases.push_back(c);
  };
  add({{1, 16, 1, 32}, {1, 16, 1, 32}}, 3, true);  // the lstm baseline's two final states
  add({{2, 3}, {2, 5}}, 1, false);
  add({{2, 3}, {4, 3}, {1, 3}}, 0, false);
  add({{2, 1, 4}, {2, 2, 4}}, -2, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return concat(t, I(c.params[0])); };
  auto lens_of = [](const OpCase& c, int d) {
    std::vector<int64_t> lens;
    for (const auto& x : c.inputs) lens.push_back(x.shape[Z(d)]);
    return lens;
  };
  set_reference(
      r,
      [lens_of]<class T>(const Values<T>& v, const OpCase& c) {
        const int d = positive_dim(c.params[0], c.inputs[0].shape.size());
        const std::vector<int64_t> lens = lens_of(c, d);
        const k::AxisView av = axis_view(c.inputs[0].shape, d);
        std::vector<const T*> xs;
        size_t n = 0;
        for (const auto& x : v) {
          xs.push_back(x.data());
          n += x.size();
        }
        std::vector<T> y(n);
        k::concat_forward_reference<T>(y.data(), xs.data(), lens.data(), I(static_cast<int64_t>(v.size())), av.outer, av.inner);
        return y;
      },
      [lens_of]<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const int d = positive_dim(c.params[0], c.inputs[0].shape.size());
        const std::vector<int64_t> lens = lens_of(c, d);
        const k::AxisView av = axis_view(c.inputs[0].shape, d);
        Values<T> g = zeros_like(v);
        std::vector<GradOut<T>> dxs;
        for (auto& x : g) dxs.push_back(out(x));
        k::concat_backward_reference<T>(dxs.data(), dy.data(), lens.data(), I(static_cast<int64_t>(v.size())), av.outer, av.inner);
        return g;
      });
  r.forward_tol = r.grad_tol = r.cuda_tol = {0, 0};
  return r;
}

// ---- lstm -----------------------------------------------------------------------------------

// params: hidden, directions. Inputs: x (G, B, T, I), then for each pair p = g*D + d its
// w_ih (4H, I), w_hh (4H, H), b_ih (4H), b_hh (4H).
k::LstmShape lstm_shape(const OpCase& c) {
  const Shape& x = c.inputs[0].shape;
  return {I(x[0]), I(x[1]), I(x[2]), I(x[3]), I(c.params[0]), I(c.params[1])};
}

OpCase lstm_case(int G, int B, int T, int In, int H, int D, double w, bool model) {
  OpCase c{"x (" + std::to_string(G) + ", " + std::to_string(B) + ", " + std::to_string(T) + ", " + std::to_string(In) +
               ") hidden " + std::to_string(H) + (D == 2 ? " bidirectional" : ""),
           {in("x", {G, B, T, In}, model ? 0.0 : -1.0, model ? 4.0 : 1.0)}, {H, D}, model};
  for (int p = 0; p < G * D; ++p) {
    const std::string s = std::to_string(p);
    c.inputs.push_back(in("w_ih" + s, {4 * H, In}, -w, w));
    c.inputs.push_back(in("w_hh" + s, {4 * H, H}, -w, w));
    c.inputs.push_back(in("b_ih" + s, {4 * H}, -w, w));
    c.inputs.push_back(in("b_hh" + s, {4 * H}, -w, w));
  }
  return c;
}

template <class T>
k::LstmParams<T> lstm_params(const Values<T>& v, int P) {
  k::LstmParams<T> p;
  for (int i = 0; i < P; ++i) {
    p.w_ih.push_back(v[Z(1 + 4 * i)].data());
    p.w_hh.push_back(v[Z(2 + 4 * i)].data());
    p.b_ih.push_back(v[Z(3 + 4 * i)].data());
    p.b_hh.push_back(v[Z(4 + 4 * i)].data());
  }
  return p;
}

OpRow lstm_row() {
  OpRow r;
  r.name = "lstm";
  r.cases.push_back(lstm_case(5, 16, 100, 1, 32, 2, 0.1, true));   // AttentiveChrome's bin-level LSTMs
  r.cases.push_back(lstm_case(1, 16, 5, 64, 16, 2, 0.1, true));    // its mark-level LSTM
  r.cases.push_back(lstm_case(1, 16, 100, 5, 32, 2, 0.1, true));   // the lstm baseline
  r.cases.push_back(lstm_case(5, 256, 100, 1, 32, 2, 0.1, true));  // the bin level at batch 256
  r.cases.back().bench_only = true;
  r.cases.push_back(lstm_case(2, 3, 4, 3, 5, 2, 0.5, false));
  r.cases.push_back(lstm_case(1, 2, 3, 2, 17, 1, 0.5, false));
  r.cases.push_back(lstm_case(3, 1, 6, 1, 3, 2, 0.5, false));
  r.cases.push_back(lstm_case(1, 5, 2, 4, 1, 1, 0.8, false));
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) {
    const k::LstmShape s = lstm_shape(c);
    LstmWeights w;
    for (int p = 0; p < s.P(); ++p) {
      w.w_ih.push_back(t[Z(1 + 4 * p)]);
      w.w_hh.push_back(t[Z(2 + 4 * p)]);
      w.b_ih.push_back(t[Z(3 + 4 * p)]);
      w.b_hh.push_back(t[Z(4 + 4 * p)]);
    }
    return lstm(t[0], w, s.H, s.D == 2);
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::LstmShape s = lstm_shape(c);
        std::vector<T> y(Z(int64_t{s.G} * s.BT() * s.D * s.H));
        k::lstm_forward_reference<T>(y.data(), nullptr, v[0].data(), lstm_params(v, s.P()), s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::LstmShape s = lstm_shape(c);
        std::vector<T> y(Z(int64_t{s.G} * s.BT() * s.D * s.H)), ws(Z(k::lstm_workspace_size(s)));
        const k::LstmParams<T> p = lstm_params(v, s.P());
        k::lstm_forward_reference<T>(y.data(), ws.data(), v[0].data(), p, s);
        Values<T> g = zeros_like(v);
        k::LstmParamGrads<T> dw;
        for (int i = 0; i < s.P(); ++i) {
          dw.w_ih.push_back(out(g[Z(1 + 4 * i)]));
          dw.w_hh.push_back(out(g[Z(2 + 4 * i)]));
          dw.b_ih.push_back(out(g[Z(3 + 4 * i)]));
          dw.b_hh.push_back(out(g[Z(4 + 4 * i)]));
        }
        k::lstm_backward_reference<T>(out(g[0]), dw, dy.data(), v[0].data(), y.data(), p, ws.data(), s);
        return g;
      });
  r.forward_tol = {2e-6, 1e-5};
  r.grad_tol = {1e-4, 1e-4};
  r.cuda_tol = {1e-5, 1e-3};
  r.forward_flops = [](const OpCase& c) {
    const k::LstmShape s = lstm_shape(c);
    return 2.0 * s.P() * s.BT() * 4 * s.H * (s.I + s.H);
  };
  r.backward_flops = [r](const OpCase& c) { return 2 * r.forward_flops(c); };
  return r;
}

// ---- bmm / softmax / layer_norm -------------------------------------------------------------

// params: trans_a, trans_b. Inputs: a and b as stored.
k::BmmShape bmm_shape(const OpCase& c) {
  const Shape &a = c.inputs[0].shape, &b = c.inputs[1].shape;
  const bool ta = c.params[0] != 0, tb = c.params[1] != 0;
  return {I(a[0]), I(ta ? a[2] : a[1]), I(tb ? b[1] : b[2]), I(ta ? a[1] : a[2]), ta ? k::Trans::Yes : k::Trans::No,
          tb ? k::Trans::Yes : k::Trans::No};
}

OpCase bmm_case(int B, int M, int N, int K, bool ta, bool tb, bool model, const std::string& what = "") {
  const Shape a = ta ? Shape{B, K, M} : Shape{B, M, K}, b = tb ? Shape{B, N, K} : Shape{B, K, N};
  return {(what.empty() ? "" : what + ": ") + "a " + join(a) + (ta ? "^T" : "") + ", b " + join(b) + (tb ? "^T" : ""),
          {in("a", a), in("b", b)}, {ta, tb}, model};
}

OpRow bmm_row() {
  OpRow r;
  r.name = "bmm";
  // Self-attention over the 100 bins, batch 16, 4 heads: d 64 (head 16) and d 32 (head 8).
  r.cases.push_back(bmm_case(64, 100, 100, 16, false, true, true, "scores q k^T"));
  r.cases.push_back(bmm_case(64, 100, 16, 100, false, false, true, "weights v"));
  r.cases.push_back(bmm_case(64, 100, 100, 8, false, true, true, "scores q k^T"));
  r.cases.push_back(bmm_case(64, 100, 8, 100, false, false, true, "weights v"));
  for (bool ta : {false, true})
    for (bool tb : {false, true}) r.cases.push_back(bmm_case(3, 7, 5, 33, ta, tb, false));
  r.cases.push_back(bmm_case(1, 1, 1, 1, false, false, false));
  r.cases.push_back(bmm_case(2, 17, 3, 1, false, true, false));
  r.cases.push_back(bmm_case(5, 1, 9, 4, true, false, false));
  r.cases.push_back(bmm_case(1, 33, 33, 7, true, true, false));
  r.cases.push_back(bmm_case(2, 130, 70, 50, true, false, false));  // entries big enough for sgemm's own threads
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) { return bmm(t[0], t[1], c.params[0] != 0, c.params[1] != 0); };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::BmmShape s = bmm_shape(c);
        std::vector<T> y(Z(s.y_size()));
        k::bmm_forward_reference<T>(y.data(), v[0].data(), v[1].data(), s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        Values<T> g = zeros_like(v);
        k::bmm_backward_reference<T>(out(g[0]), out(g[1]), dy.data(), v[0].data(), v[1].data(), bmm_shape(c));
        return g;
      });
  r.forward_tol = r.grad_tol = {1.5e-6, 1e-6};  // measured: 4.7e-7 of the largest element (K-sums of 100)
  r.forward_flops = [](const OpCase& c) {
    const k::BmmShape s = bmm_shape(c);
    return 2.0 * s.B * s.M * s.N * s.K;
  };
  r.backward_flops = [](const OpCase& c) {
    const k::BmmShape s = bmm_shape(c);
    return 4.0 * s.B * s.M * s.N * s.K;
  };
  return r;
}

OpRow softmax_row() {
  OpRow r;
  r.name = "softmax";
  auto add = [&r](Shape x, double range, bool model) {
    r.cases.push_back({"x " + join(x) + (range > 10 ? " large" : ""), {in("x", x, -range, range)}, {}, model});
  };
  add({16, 4, 100, 100}, 3, true);  // attention weights: batch 16, 4 heads, 100 bins
  add({16, 100, 5}, 3, true);       // over the 5 marks
  add({1}, 1, false);
  add({3, 1}, 1, false);
  add({2, 3, 7}, 3, false);
  add({4, 33}, 50, false);  // the max shift
  add({5, 40}, 3, false);
  r.op = [](const std::vector<Tensor>& t, const OpCase&) { return softmax(t[0]); };
  auto rows = [](const OpCase& c) {
    const Shape& x = c.inputs[0].shape;
    return std::pair<int64_t, int>{shape_numel(x) / x.back(), I(x.back())};
  };
  set_reference(
      r,
      [rows]<class T>(const Values<T>& v, const OpCase& c) {
        std::vector<T> y(v[0].size());
        k::softmax_forward_reference<T>(y.data(), v[0].data(), rows(c).first, rows(c).second);
        return y;
      },
      [rows]<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        std::vector<T> y(v[0].size());
        k::softmax_forward_reference<T>(y.data(), v[0].data(), rows(c).first, rows(c).second);
        Values<T> g = zeros_like(v);
        k::softmax_backward_reference<T>(out(g[0]), dy.data(), y.data(), rows(c).first, rows(c).second);
        return g;
      });
  r.forward_tol = r.grad_tol = {3e-7, 1e-6};  // measured: 1.4e-7 (values in [0, 1])
  r.cuda_tol = {1e-6, 1e-5};                  // CUDA's expf (2 ulp) and tree-ordered row sums
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = [](const OpCase& c) { return 12.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  return r;
}

// params: eps in units of 1e-8. Inputs: x (..., C), weight (C), bias (C).
k::LayerNormShape layer_norm_shape(const OpCase& c) {
  const Shape& x = c.inputs[0].shape;
  return {shape_numel(x) / x.back(), I(x.back()), static_cast<float>(c.params[0]) * 1e-8f};
}

OpRow layer_norm_row() {
  OpRow r;
  r.name = "layer_norm";
  auto add = [&r](Shape x, double lo, double hi, int64_t eps, bool model) {
    const int64_t C = x.back();
    r.cases.push_back({"x " + join(x) + (lo > 0 ? " offset" : "") + (eps != 1000 ? " eps " + std::to_string(eps * 1e-8) : ""),
                       {in("x", x, lo, hi), in("weight", {C}, 0.5, 1.5), in("bias", {C}, -0.5, 0.5)}, {eps}, model});
  };
  add({16, 100, 64}, -2, 2, 1000, true);  // a self-attention block's norms, d 64 and 32
  add({16, 100, 32}, -2, 2, 1000, true);
  add({3, 5}, -1, 1, 1000, false);
  add({2, 3, 7}, -1, 1, 1000, false);
  add({5, 33}, -1, 1, 1000, false);
  add({3, 1}, -1, 1, 1000, false);  // C = 1: y = bias, no gradient through x
  add({4, 16}, 3, 5, 1000, false);  // an offset mean
  add({2, 6}, -0.01, 0.01, 100000, false);  // variance near eps
  r.op = [](const std::vector<Tensor>& t, const OpCase& c) {
    return layer_norm(t[0], t[1], t[2], static_cast<float>(c.params[0]) * 1e-8f);
  };
  set_reference(
      r,
      []<class T>(const Values<T>& v, const OpCase& c) {
        const k::LayerNormShape s = layer_norm_shape(c);
        std::vector<T> y(v[0].size());
        k::layer_norm_forward_reference<T>(y.data(), nullptr, nullptr, v[0].data(), v[1].data(), v[2].data(), s);
        return y;
      },
      []<class T>(const Values<T>& v, const std::vector<T>& dy, const OpCase& c) {
        const k::LayerNormShape s = layer_norm_shape(c);
        std::vector<T> y(v[0].size()), mean(Z(s.R)), rstd(Z(s.R));
        k::layer_norm_forward_reference<T>(y.data(), mean.data(), rstd.data(), v[0].data(), v[1].data(), v[2].data(), s);
        Values<T> g = zeros_like(v);
        k::layer_norm_backward_reference<T>(out(g[0]), out(g[1]), out(g[2]), dy.data(), v[0].data(), v[1].data(),
                                            mean.data(), rstd.data(), s);
        return g;
      });
  // Measured: forward 5.5e-7, dx 3.7e-7, dweight / dbias (sums over 1600 rows) 1.9e-6.
  r.forward_tol = {1.5e-6, 1e-6};
  r.grad_tol = {5e-6, 1e-6};
  r.cuda_tol = {1e-5, 1e-5};  // CUDA sums rows as shuffle trees and columns in 64-row chunks
  r.forward_bytes = [](const OpCase& c) { return 8.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  r.backward_bytes = [](const OpCase& c) { return 12.0 * static_cast<double>(shape_numel(c.inputs[0].shape)); };
  return r;
}

std::vector<OpRow> build_table() {
  std::vector<OpRow> t;
  t.push_back(linear_row());
  t.push_back(conv1d_row());
  t.push_back(max_pool1d_row());
  t.push_back(dropout_row());
  t.push_back(activation_row());
  t.push_back(gelu_row());
  t.push_back(binary_row("add", k::Binary::Add));
  t.push_back(binary_row("mul", k::Binary::Mul));
  t.push_back(reshape_row());
  t.push_back(transpose_row());
  t.push_back(log_softmax_row());
  t.push_back(nll_loss_row());
  t.push_back(bce_row());
  t.push_back(reduce_row("sum", false));
  t.push_back(reduce_row("mean", true));
  t.push_back(attention_row());
  t.push_back(slice_row());
  t.push_back(concat_row());
  t.push_back(lstm_row());
  t.push_back(bmm_row());
  t.push_back(softmax_row());
  t.push_back(layer_norm_row());
  return t;
}

}  // namespace

const std::vector<OpRow>& op_table() {
  static const std::vector<OpRow> table = build_table();
  return table;
}

const OpRow& op_row(const std::string& name) {
  std::string known;
  for (const OpRow& r : op_table()) {
    if (r.name == name) return r;
    known += (known.empty() ? "" : ", ") + r.name;
  }
  throw Error("op table: no row '" + name + "' (rows: " + known + ")");
}

}  // namespace dc::optable
