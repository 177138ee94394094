// Optimizers (engine/optim.h) on tiny problems worked by hand, Adam against the double
// formula, and clip_grad_norm (torch's clip_grad_norm_ factor).
#include <cmath>
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
