// Optimizers (engine/optim.h) on tiny problems worked by hand, Adam against the double
// formula, and clip_grad_norm (torch's clip_grad_norm_ factor).
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/optim.h"
#include "engine_util.h"

using namespace dc;
using namespace dc::test;

namespace {

// Sets p's gradient to exactly g through the autograd path: loss = sum(p * g).
void set_grad(const Tensor& p, const std::vector<float>& g) {
  sum(mul(p, Tensor::from_vector(p.shape(), g))).backward();
}

Tensor scalar_param(float v) { return Tensor::from_vector({1}, {v}).set_requires_grad(true); }

}  // namespace

TEST_CASE("Sgd with lr_decay: lr_t = lr / (1 + t decay), t = 0, 1, 2 (hand-computed)") {
  // One parameter p = 1 with the constant gradient 2 (loss = 2p); lr = 0.1, decay 0.5:
  //   t=0: lr 0.1         -> p = 1 - 0.2           = 0.8
  //   t=1: lr 0.1/1.5     -> p = 0.8 - 0.2/1.5     = 0.666667
  //   t=2: lr 0.1/2 = 0.05 -> p = 0.666667 - 0.1   = 0.566667
  Tensor p = scalar_param(1.0f);
  Sgd opt({{"p", p}}, SgdOptions{0.1, 0.5, 0, 0});
  const double want_lr[] = {0.1, 0.1 / 1.5, 0.05};
  const double want_p[] = {0.8, 0.8 - 0.2 / 1.5, 0.8 - 0.2 / 1.5 - 0.1};
  for (int t = 0; t < 3; ++t) {
    CAPTURE(t);
    CHECK(opt.steps() == t);
    CHECK(opt.current_lr() == doctest::Approx(want_lr[t]).epsilon(1e-15));
    opt.zero_grad();
    set_grad(p, {2.0f});
    opt.step();
    CHECK(p.item() == doctest::Approx(want_p[t]).epsilon(1e-6));
  }
  CHECK(opt.steps() == 3);
}

TEST_CASE("Sgd with momentum (first step sets the buffer) and weight decay (hand-computed)") {
  SUBCASE("momentum 0.9, lr 0.1, constant gradient 2") {
    // step 1: buf = 2,               p = 1 - 0.2     = 0.8
    // step 2: buf = 1.8 + 2 = 3.8,   p = 0.8 - 0.38  = 0.42
    // step 3: buf = 3.42 + 2 = 5.42, p = 0.42 - 0.542 = -0.122
    Tensor p = scalar_param(1.0f);
    Sgd opt({{"p", p}}, SgdOptions{0.1, 0, 0.9, 0});
    for (double want : {0.8, 0.42, -0.122}) {
      opt.zero_grad();
      set_grad(p, {2.0f});
      opt.step();
      CHECK(p.item() == doctest::Approx(want).epsilon(1e-6));
    }
  }
  SUBCASE("weight decay 0.1, lr 0.1, gradient 2") {
    // step 1: g' = 2 + 0.1 * 1 = 2.1,       p = 1 - 0.21     = 0.79
    // step 2: g' = 2 + 0.1 * 0.79 = 2.079,  p = 0.79 - 0.2079 = 0.5821
    Tensor p = scalar_param(1.0f);
    Sgd opt({{"p", p}}, SgdOptions{0.1, 0, 0, 0.1});
    for (double want : {0.79, 0.5821}) {
      opt.zero_grad();
      set_grad(p, {2.0f});
      opt.step();
      CHECK(p.item() == doctest::Approx(want).epsilon(1e-6));
    }
  }
  SUBCASE("momentum and weight decay together on a vector, vs the double formula") {
    Tensor p = random_param({20}, 1);
    Sgd opt({{"p", p}}, SgdOptions{0.05, 0.1, 0.8, 0.01});
    auto pd = to_double(p);
    std::vector<double> buf(20);
    for (int t = 0; t < 3; ++t) {
      const auto g = random_vector<float>(20, 10 + t);
      opt.zero_grad();
      set_grad(p, g);
      opt.step();
      const double lr = 0.05 / (1 + t * 0.1);
      for (int i = 0; i < 20; ++i) {
        const double gi = g[i] + 0.01 * pd[i];
        buf[i] = t == 0 ? gi : 0.8 * buf[i] + gi;
        pd[i] -= lr * buf[i];
      }
    }
    expect_close(p.to_vector(), pd, 1e-6, 1e-6, "p");
  }
}

TEST_CASE("Sgd: parameters without a gradient count as zero gradient") {
  Tensor a = scalar_param(1.0f), b = scalar_param(1.0f);
  SUBCASE("plain: nothing moves") {
    Sgd opt({{"a", a}, {"b", b}}, SgdOptions{0.1, 0, 0, 0});
    set_grad(a, {2.0f});
    opt.step();
    CHECK(a.item() == doctest::Approx(0.8).epsilon(1e-6));
    CHECK(b.item() == 1.0f);
    CHECK_FALSE(b.grad().defined());
  }
  SUBCASE("weight decay still shrinks it: p *= 1 - lr wd") {
    Sgd opt({{"a", a}, {"b", b}}, SgdOptions{0.1, 0, 0, 0.5});
    set_grad(a, {2.0f});
    opt.step();
    CHECK(b.item() == doctest::Approx(0.95).epsilon(1e-6));
  }
  SUBCASE("momentum keeps it moving after its gradient stops") {
    // step 1 with g = 2: buf = 2, p = 0.8; step 2 without gradient: buf = 1.8, p = 0.62
    Sgd opt({{"b", b}}, SgdOptions{0.1, 0, 0.9, 0});
    set_grad(b, {2.0f});
    opt.step();
    opt.zero_grad();
    CHECK_FALSE(b.grad().defined());
    opt.step();
    CHECK(b.item() == doctest::Approx(0.62).epsilon(1e-6));
  }
}

TEST_CASE("Adam: 3 steps vs the hand-written double formula (torch semantics)") {
  // loss = sum(p * p) -> g = 2p, so each step's gradient depends on the previous update.
  for (const AdamOptions o : {AdamOptions{1e-3, 0.9, 0.999, 1e-8, 0}, AdamOptions{0.05, 0.8, 0.99, 1e-6, 0.1}}) {
    CAPTURE(o.lr);
    Tensor p = random_param({2, 5}, 3);
    Tensor q = random_param({3}, 4);  // never receives a gradient
    const auto q0 = q.to_vector();
    Adam opt({{"p", p}, {"q", q}}, o);
    auto pd = to_double(p);
    std::vector<double> m(10, 0.0), v(10, 0.0);
    for (int t = 1; t <= 3; ++t) {
      opt.zero_grad();
      sum(mul(p, p)).backward();
      opt.step();
      CHECK(opt.steps() == t);
      for (int i = 0; i < 10; ++i) {
        const double g = 2 * pd[i] + o.weight_decay * pd[i];
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        const double bc1 = 1 - std::pow(o.beta1, t), bc2 = 1 - std::pow(o.beta2, t);
        pd[i] -= o.lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + o.eps);
      }
      expect_close(p.to_vector(), pd, 1e-3 * o.lr + 1e-7, 1e-6, "p");
    }
    // Zero gradient and zero moments: m / (sqrt(v) + eps) = 0, so q has not moved (up to
    // its own weight decay, which acts through the gradient).
    if (o.weight_decay == 0) CHECK(q.to_vector() == q0);
    else CHECK(q.to_vector() != q0);
  }
  // First step by hand: p = 1, g = 2p = 2 -> p = 1 - lr * 2 / (2 + eps) = 1 - lr (to ~1e-8).
  Tensor p = scalar_param(1.0f);
  Adam opt({{"p", p}}, AdamOptions{0.01, 0.9, 0.999, 1e-8, 0});
  sum(mul(p, p)).backward();
  opt.step();
  CHECK(p.item() == doctest::Approx(0.99).epsilon(1e-7));
}

TEST_CASE("clip_grad_norm: returns the pre-clip norm, scales to max_norm, no-op below") {
  Tensor a = random_param({2}, 1), b = random_param({1}, 2), none = random_param({4}, 3);
  const std::vector<Parameter> params = {{"a", a}, {"b", b}, {"none", none}};
  auto set = [&] {
    a.zero_grad();
    b.zero_grad();
    set_grad(a, {3.0f, 4.0f});
    set_grad(b, {12.0f});
  };
  SUBCASE("above max_norm: factor max_norm / (norm + 1e-6)") {
    set();
    // norm = sqrt(9 + 16 + 144) = 13; the parameter without gradient counts as zero.
    CHECK(clip_grad_norm(params, 6.5) == doctest::Approx(13.0).epsilon(1e-12));
    const double f = 6.5 / (13.0 + 1e-6);
    CHECK(a.grad().to_vector()[0] == doctest::Approx(3 * f).epsilon(1e-7));
    CHECK(a.grad().to_vector()[1] == doctest::Approx(4 * f).epsilon(1e-7));
    CHECK(b.grad().item() == doctest::Approx(12 * f).epsilon(1e-7));
    CHECK_FALSE(none.grad().defined());
    // The norm afterwards is max_norm (a hair below).
    CHECK(clip_grad_norm(params, 100.0) == doctest::Approx(6.5).epsilon(1e-6));
  }
  SUBCASE("below or at max_norm: gradients untouched") {
    set();
    CHECK(clip_grad_norm(params, 20.0) == doctest::Approx(13.0).epsilon(1e-12));
    CHECK(a.grad().to_vector() == std::vector<float>{3, 4});
    CHECK(b.grad().to_vector() == std::vector<float>{12});
    // norm == max_norm: the factor 13 / (13 + 1e-6) is < 1 and is applied (as torch).
    CHECK(clip_grad_norm(params, 13.0) == doctest::Approx(13.0).epsilon(1e-12));
    CHECK(a.grad().to_vector()[0] == doctest::Approx(3 * 13.0 / (13.0 + 1e-6)).epsilon(1e-7));
  }
  SUBCASE("no gradients at all: norm 0, nothing to scale") {
    CHECK(clip_grad_norm(params, 1.0) == 0.0);
  }
  SUBCASE("non-finite gradients throw dc::Error") {
    for (float bad : {std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN()}) {
      CAPTURE(bad);
      set();
      b.grad().data()[0] = bad;
      CHECK_THROWS_AS(clip_grad_norm(params, 1.0), Error);
    }
  }
}

TEST_CASE("Optimizer::zero_grad clears every parameter's gradient") {
  Tensor a = random_param({3}, 1), b = random_param({2}, 2);
  Sgd opt({{"a", a}, {"b", b}}, SgdOptions{});
  set_grad(a, {1, 2, 3});
  set_grad(b, {4, 5});
  REQUIRE(a.grad().defined());
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
  CHECK_FALSE(b.grad().defined());
  CHECK(opt.params().size() == 2);
  CHECK(opt.params()[1].name == "b");
}

namespace {

bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Five SGD steps at batch 1 of relu(x W1^T + b1) W2^T + b2 (W1 (out1, in), shared when
// `twice`: the layer applied twice, a square W1), lr decaying, with the update applied in
// the backward pass or in step(). Returns the parameters, the first step's W1 gradient, and
// whether W1 was updated in the backward pass on every step.
struct SgdRun {
  std::vector<Tensor> params;
  Tensor first_w1_grad;
  bool w1_in_backward = true;
};

SgdRun sgd_steps(bool in_backward, int in, int out1, double weight_decay, bool twice, bool read_grad = true) {
  Tensor w1 = random_param({out1, in}, 1), b1 = random_param({out1}, 2), w2 = random_param({3, out1}, 3),
         b2 = random_param({3}, 4);
  Sgd opt({{"w1", w1}, {"b1", b1}, {"w2", w2}, {"b2", b2}}, SgdOptions{0.05, 0.1, 0, weight_decay, in_backward});
  SgdRun run;
  for (int step = 0; step < 5; ++step) {
    const Tensor x = random_tensor({1, in}, 100 + static_cast<uint64_t>(step));
    const Tensor c = random_tensor({1, 3}, 200 + static_cast<uint64_t>(step));
    opt.zero_grad();
    Tensor h = relu(linear(x, w1, b1));
    if (twice) h = relu(linear(h, w1, b1));
    sum(mul(linear(h, w2, b2), c)).backward();
    run.w1_in_backward = run.w1_in_backward && w1.impl()->sgd_in_backward.applied;
    // Kept (factored) even when applied. (Reading it makes it dense: step() then takes the
    // dense path, whose bits differ from the factored one's.)
    if (step == 0 && read_grad) run.first_w1_grad = w1.grad().clone();
    opt.step();
    CHECK_FALSE(w1.impl()->sgd_in_backward.armed);  // step() disarms
  }
  for (const Tensor& p : {w1, b1, w2, b2}) run.params.push_back(p.clone());
  return run;
}

}  // namespace

TEST_CASE("Sgd update_in_backward: a batch-1 linear weight is updated in the backward sweep, with the same bits") {
  struct Case {
    int in, out1;
    double weight_decay;
  };
  // 400 x 300 is split across the kernels' threads; 70 x 40 is not.
  for (const Case k : {Case{70, 40, 0.0}, Case{70, 40, 0.01}, Case{400, 300, 0.0}, Case{400, 300, 0.01}}) {
    CAPTURE(k.in);
    CAPTURE(k.weight_decay);
    const SgdRun plain = sgd_steps(false, k.in, k.out1, k.weight_decay, false, false);
    const SgdRun fused = sgd_steps(true, k.in, k.out1, k.weight_decay, false);
    CHECK_FALSE(plain.w1_in_backward);
    CHECK(fused.w1_in_backward);
    CHECK(same_bits(fused.first_w1_grad, sgd_steps(false, k.in, k.out1, k.weight_decay, false).first_w1_grad));
    for (size_t i = 0; i < plain.params.size(); ++i) CHECK(same_bits(fused.params[i], plain.params[i]));
  }
}

TEST_CASE("Sgd update_in_backward: a weight the graph uses twice is left to step()") {
  const SgdRun plain = sgd_steps(false, 40, 40, 0.0, true, false);
  const SgdRun fused = sgd_steps(true, 40, 40, 0.0, true, false);
  CHECK_FALSE(fused.w1_in_backward);  // its first backward would otherwise change it for the second
  for (size_t i = 0; i < plain.params.size(); ++i) CHECK(same_bits(fused.params[i], plain.params[i]));
}
