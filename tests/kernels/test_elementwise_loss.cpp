// Activations, binary ops, log_softmax, nll, bce_with_logits and the sum/mean reductions:
// hand-computed values and finite-difference gradients in double.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/loss.h"
#include "kernels/cpu/reduce.h"
#include "test_util.h"

using dc::GradMode;
using dc::cpu::Activation;
using dc::cpu::Binary;
using namespace dc::test;

namespace {

const char* name(Activation a) {
  switch (a) {
    case Activation::Relu: return "relu";
    case Activation::Tanh: return "tanh";
    case Activation::Sigmoid: return "sigmoid";
  }
  return "?";
}

}  // namespace

TEST_CASE("activations: hand-computed values and derivatives") {
  const std::vector<double> x = {-2, -0.5, 0, 0.5, 2};
  std::vector<double> y(5), dx(5);
  const std::vector<double> dy(5, 1.0);

  dc::cpu::activation_forward(y.data(), x.data(), 5, Activation::Relu);
  CHECK(y == std::vector<double>{0, 0, 0, 0.5, 2});
  dc::cpu::activation_backward(dx.data(), GradMode::Overwrite, dy.data(), y.data(), 5, Activation::Relu);
  CHECK(dx == std::vector<double>{0, 0, 0, 1, 1});  // relu'(0) = 0, as torch

  dc::cpu::activation_forward(y.data(), x.data(), 5, Activation::Tanh);
  CHECK(y[2] == 0.0);
  CHECK(y[4] == doctest::Approx(0.9640275800758169).epsilon(1e-15));   // tanh(2)
  CHECK(y[0] == doctest::Approx(-0.9640275800758169).epsilon(1e-15));
  dc::cpu::activation_backward(dx.data(), GradMode::Overwrite, dy.data(), y.data(), 5, Activation::Tanh);
  CHECK(dx[2] == 1.0);  // 1 - tanh(0)^2
  CHECK(dx[4] == doctest::Approx(1 - 0.9640275800758169 * 0.9640275800758169).epsilon(1e-14));

  dc::cpu::activation_forward(y.data(), x.data(), 5, Activation::Sigmoid);
  CHECK(y[2] == 0.5);
  CHECK(y[4] == doctest::Approx(0.8807970779778823).epsilon(1e-15));   // 1 / (1 + e^-2)
  CHECK(y[0] == doctest::Approx(0.11920292202211755).epsilon(1e-15));  // e^-2 / (1 + e^-2)
  dc::cpu::activation_backward(dx.data(), GradMode::Overwrite, dy.data(), y.data(), 5, Activation::Sigmoid);
  CHECK(dx[2] == 0.25);  // 0.5 * (1 - 0.5)

  // Float, extreme inputs: no NaN or overflow, saturated values.
  const std::vector<float> big = {-1000.0f, -100.0f, 100.0f, 1000.0f};
  std::vector<float> s(4);
  dc::cpu::activation_forward(s.data(), big.data(), 4, Activation::Sigmoid);
  CHECK(s[0] == 0.0f);
  CHECK(s[1] >= 0.0f);
  CHECK(s[1] < 1e-40f);
  CHECK(s[2] == 1.0f);
  CHECK(s[3] == 1.0f);
  dc::cpu::activation_forward(s.data(), big.data(), 4, Activation::Tanh);
  CHECK(s == std::vector<float>{-1, -1, 1, 1});
}

TEST_CASE("activations: finite-difference gradients (double)") {
  for (Activation a : {Activation::Relu, Activation::Tanh, Activation::Sigmoid}) {
    INFO(name(a));
    auto x = random_vector<double>(50, 1, -3, 3);
    for (auto& v : x)
      if (std::fabs(v) < 1e-3) v = 0.5;  // keep relu's kink away from the FD stencil
    const auto r = random_vector<double>(50, 2);
    std::vector<double> y(50);
    auto f = [&] {
      dc::cpu::activation_forward(y.data(), x.data(), 50, a);
      return dot(y, r);
    };
    f();
    std::vector<double> dx(50, NAN);
    dc::cpu::activation_backward(dx.data(), GradMode::Overwrite, r.data(), y.data(), 50, a);
    expect_close(dx, numeric_gradient(x, f), 1e-8, 1e-7, "dx");
    f();  // numeric_gradient leaves y at the last perturbed point
    // Accumulate adds onto existing values.
    const auto e = random_vector<double>(50, 3);
    auto acc = e;
    dc::cpu::activation_backward(acc.data(), GradMode::Accumulate, r.data(), y.data(), 50, a);
    for (size_t i = 0; i < 50; ++i) CHECK(acc[i] == doctest::Approx(e[i] + dx[i]).epsilon(1e-14));
  }
}

TEST_CASE("binary add / mul: hand values, finite differences, shared gradient buffer") {
  // a = [1, 2, -3], b = [4, -5, 6]: a + b = [5, -3, 3], a * b = [4, -10, -18]
  const std::vector<double> a0 = {1, 2, -3}, b0 = {4, -5, 6};
  std::vector<double> y(3);
  dc::cpu::binary_forward(y.data(), a0.data(), b0.data(), 3, Binary::Add);
  CHECK(y == std::vector<double>{5, -3, 3});
  dc::cpu::binary_forward(y.data(), a0.data(), b0.data(), 3, Binary::Mul);
  CHECK(y == std::vector<double>{4, -10, -18});
  // dy = [1, 2, 3]: mul: da = dy * b = [4, -10, 18], db = dy * a = [1, 4, -9]
  const std::vector<double> dy = {1, 2, 3};
  std::vector<double> da(3), db(3);
  dc::cpu::binary_backward(da.data(), GradMode::Overwrite, db.data(), GradMode::Overwrite, dy.data(), a0.data(),
                           b0.data(), 3, Binary::Mul);
  CHECK(da == std::vector<double>{4, -10, 18});
  CHECK(db == std::vector<double>{1, 4, -9});
  dc::cpu::binary_backward(da.data(), GradMode::Overwrite, db.data(), GradMode::Overwrite, dy.data(), a0.data(),
                           b0.data(), 3, Binary::Add);
  CHECK(da == dy);
  CHECK(db == dy);

  for (Binary op : {Binary::Add, Binary::Mul}) {
    CAPTURE(static_cast<int>(op));
    auto a = random_vector<double>(30, 1), b = random_vector<double>(30, 2);
    const auto r = random_vector<double>(30, 3);
    std::vector<double> out(30);
    auto f = [&] {
      dc::cpu::binary_forward(out.data(), a.data(), b.data(), 30, op);
      return dot(out, r);
    };
    std::vector<double> ga(30), gb(30);
    dc::cpu::binary_backward(ga.data(), GradMode::Overwrite, gb.data(), GradMode::Overwrite, r.data(), a.data(),
                             b.data(), 30, op);
    expect_close(ga, numeric_gradient(a, f), 1e-8, 1e-7, "da");
    expect_close(gb, numeric_gradient(b, f), 1e-8, 1e-7, "db");
    // Only one side wanted.
    std::vector<double> only(30, NAN);
    dc::cpu::binary_backward(static_cast<double*>(nullptr), GradMode::Overwrite, only.data(), GradMode::Overwrite,
                             r.data(), a.data(), b.data(), 30, op);
    CHECK(only == gb);
  }

  // x * x with both gradients landing in one buffer (how the engine handles a tensor used
  // twice): the first write overwrites, the second accumulates -> 2 x dy.
  const std::vector<double> x = {1.5, -2, 3};
  std::vector<double> g(3, NAN);
  dc::cpu::binary_backward(g.data(), GradMode::Overwrite, g.data(), GradMode::Accumulate, dy.data(), x.data(),
                           x.data(), 3, Binary::Mul);
  CHECK(g == std::vector<double>{3, -8, 18});
}

TEST_CASE("log_softmax: hand-computed, shift-invariant, finite-difference gradient") {
  // x = [0, ln 2, ln 3] -> softmax = [1, 2, 3] / 6 -> log_softmax = [ln 1/6, ln 1/3, ln 1/2]
  const std::vector<double> x = {0, std::log(2.0), std::log(3.0)};
  std::vector<double> y(3);
  dc::cpu::log_softmax_forward(y.data(), x.data(), 1, 3);
  CHECK(y[0] == doctest::Approx(std::log(1.0 / 6)).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(std::log(1.0 / 3)).epsilon(1e-15));
  CHECK(y[2] == doctest::Approx(std::log(0.5)).epsilon(1e-15));
  // Backward with dy = [1, 0, 0]: dx = dy - softmax * sum(dy) = [1 - 1/6, -2/6, -3/6]
  const std::vector<double> dy = {1, 0, 0};
  std::vector<double> dx(3);
  dc::cpu::log_softmax_backward(dx.data(), GradMode::Overwrite, dy.data(), y.data(), 1, 3);
  CHECK(dx[0] == doctest::Approx(5.0 / 6).epsilon(1e-14));
  CHECK(dx[1] == doctest::Approx(-1.0 / 3).epsilon(1e-14));
  CHECK(dx[2] == doctest::Approx(-0.5).epsilon(1e-14));
  // Float with a huge offset: the max shift keeps it finite and equal to the unshifted result.
  const std::vector<float> xf = {1000.0f, 1000.0f + std::log(2.0f), 1000.0f + std::log(3.0f)};
  std::vector<float> yf(3);
  dc::cpu::log_softmax_forward(yf.data(), xf.data(), 1, 3);
  expect_close(yf, y, 1e-4, 0, "shifted log_softmax");

  // Finite differences over several rows.
  const int R = 4, C = 5;
  auto xr = random_vector<double>(R * C, 1, -3, 3);
  const auto r = random_vector<double>(R * C, 2);
  std::vector<double> yr(R * C);
  auto f = [&] {
    dc::cpu::log_softmax_forward(yr.data(), xr.data(), R, C);
    return dot(yr, r);
  };
  f();
  std::vector<double> g(R * C, NAN);
  dc::cpu::log_softmax_backward(g.data(), GradMode::Overwrite, r.data(), yr.data(), R, C);
  expect_close(g, numeric_gradient(xr, f), 1e-8, 1e-7, "dx");
  f();  // numeric_gradient leaves yr at the last perturbed point
  const auto e = random_vector<double>(R * C, 3);
  auto acc = e;
  dc::cpu::log_softmax_backward(acc.data(), GradMode::Accumulate, r.data(), yr.data(), R, C);
  for (int i = 0; i < R * C; ++i) CHECK(acc[i] == doctest::Approx(e[i] + g[i]).epsilon(1e-14));
}

TEST_CASE("nll_loss: hand-computed value and gradient, finite differences") {
  // p = [[0.5, 0.25, 0.25], [0.1, 0.7, 0.2]], target = [0, 1] -> loss = -(ln 0.5 + ln 0.7) / 2
  const std::vector<double> logp = {std::log(0.5), std::log(0.25), std::log(0.25),
                                    std::log(0.1), std::log(0.7), std::log(0.2)};
  const std::vector<double> target = {0, 1};
  CHECK(dc::cpu::nll_loss_forward(logp.data(), target.data(), 2, 3) ==
        doctest::Approx(-(std::log(0.5) + std::log(0.7)) / 2).epsilon(1e-15));
  // dloss = 1: -1/R at each target, 0 elsewhere.
  std::vector<double> g(6, NAN);
  dc::cpu::nll_loss_backward(g.data(), GradMode::Overwrite, 1.0, target.data(), 2, 3);
  CHECK(g == std::vector<double>{-0.5, 0, 0, 0, -0.5, 0});
  // Accumulate with dloss = 2 adds [-1, 0, 0, 0, -1, 0].
  dc::cpu::nll_loss_backward(g.data(), GradMode::Accumulate, 2.0, target.data(), 2, 3);
  CHECK(g == std::vector<double>{-1.5, 0, 0, 0, -1.5, 0});

  const int R = 5, C = 4;
  auto lp = random_vector<double>(R * C, 1, -4, 0);
  const std::vector<double> t = {3, 0, 2, 2, 1};
  const double dloss = 1.7;
  auto f = [&] { return dloss * dc::cpu::nll_loss_forward(lp.data(), t.data(), R, C); };
  std::vector<double> gl(R * C);
  dc::cpu::nll_loss_backward(gl.data(), GradMode::Overwrite, dloss, t.data(), R, C);
  expect_close(gl, numeric_gradient(lp, f), 1e-8, 1e-7, "dlogp");
}

TEST_CASE("bce_with_logits: hand-computed values, large |z|, finite differences") {
  // z = 0: loss = ln 2 for any target. z = 2, t = 1: ln(1 + e^-2). z = 2, t = 0: 2 + ln(1 + e^-2).
  {
    const std::vector<double> z = {0, 0, 2, 2}, t = {1, 0, 1, 0};
    const double l2 = std::log1p(std::exp(-2.0));
    CHECK(dc::cpu::bce_with_logits_forward(z.data(), t.data(), 4) ==
          doctest::Approx((2 * std::log(2.0) + l2 + 2 + l2) / 4).epsilon(1e-15));
    // dz = (sigmoid(z) - t) / R: [(0.5 - 1) / 4, 0.5 / 4, (s2 - 1) / 4, s2 / 4]
    std::vector<double> g(4);
    dc::cpu::bce_with_logits_backward(g.data(), GradMode::Overwrite, 1.0, z.data(), t.data(), 4);
    const double s2 = 1 / (1 + std::exp(-2.0));
    CHECK(g[0] == -0.125);
    CHECK(g[1] == 0.125);
    CHECK(g[2] == doctest::Approx((s2 - 1) / 4).epsilon(1e-14));
    CHECK(g[3] == doctest::Approx(s2 / 4).epsilon(1e-14));
  }
  // Float with |z| = 100 and 1000: no overflow, the exact limits.
  {
    const std::vector<float> z = {100, 100, -100, -100, 1000, -1000}, t = {1, 0, 0, 1, 0, 1};
    for (int i = 0; i < 6; ++i) {
      CAPTURE(i);
      const float l = dc::cpu::bce_with_logits_forward(&z[i], &t[i], 1);
      // Correct: max(z, 0) - z t + log1p(e^-|z|): 0, 100, 0, 100, 1000, 1000 (+ ~e^-100).
      const float want[] = {0, 100, 0, 100, 1000, 1000};
      CHECK(std::isfinite(l));
      CHECK(l == doctest::Approx(want[i]).epsilon(1e-6));
      float g = NAN;
      dc::cpu::bce_with_logits_backward(&g, GradMode::Overwrite, 1.0f, &z[i], &t[i], 1);
      // sigmoid(z) - t: 0, 1, e^-100 (a float denormal), -1, 1, -1.
      const float gwant[] = {0, 1, 0, -1, 1, -1};
      CHECK(g == doctest::Approx(gwant[i]).epsilon(1e-7));
    }
  }
  // Finite differences, including large |z| and soft targets.
  auto z = std::vector<double>{-100, -30, -2, -0.3, 0.1, 1.5, 30, 100};
  const std::vector<double> t = {1, 0, 0.3, 1, 0, 0.7, 1, 0};
  const double dloss = 0.8;
  auto f = [&] { return dloss * dc::cpu::bce_with_logits_forward(z.data(), t.data(), 8); };
  std::vector<double> g(8, NAN);
  dc::cpu::bce_with_logits_backward(g.data(), GradMode::Overwrite, dloss, z.data(), t.data(), 8);
  expect_close(g, numeric_gradient(z, f, 1e-5), 1e-8, 1e-7, "dz");
  const auto e = random_vector<double>(8, 3);
  auto acc = e;
  dc::cpu::bce_with_logits_backward(acc.data(), GradMode::Accumulate, dloss, z.data(), t.data(), 8);
  for (int i = 0; i < 8; ++i) CHECK(acc[i] == doctest::Approx(e[i] + g[i]).epsilon(1e-14));
}

TEST_CASE("sum / mean: forward in double, fill backward, finite differences") {
  // 2^24 + 1 + 1 + 1 + 1: a float running sum stays at 2^24; the double sum is 2^24 + 4.
  const std::vector<float> x = {16777216.0f, 1, 1, 1, 1};
  CHECK(dc::cpu::sum_forward(x.data(), 5) == 16777220.0f);
  const std::vector<double> xd = {1, 2, 3.5, -4};
  CHECK(dc::cpu::sum_forward(xd.data(), 4) == 2.5);

  std::vector<double> g(4, NAN);
  dc::cpu::fill_backward(g.data(), GradMode::Overwrite, 0.25, 4);
  CHECK(g == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  dc::cpu::fill_backward(g.data(), GradMode::Accumulate, 1.0, 4);
  CHECK(g == std::vector<double>{1.25, 1.25, 1.25, 1.25});

  // d/dx [c * sum(x)] = c and d/dx [c * mean(x)] = c / n.
  auto v = random_vector<double>(10, 1);
  const double c = -1.3;
  std::vector<double> gs(10), gm(10);
  dc::cpu::fill_backward(gs.data(), GradMode::Overwrite, c, 10);
  dc::cpu::fill_backward(gm.data(), GradMode::Overwrite, c / 10, 10);
  expect_close(gs, numeric_gradient(v, [&] { return c * dc::cpu::sum_forward(v.data(), 10); }), 1e-8, 1e-7, "sum");
  expect_close(gm, numeric_gradient(v, [&] { return c * dc::cpu::sum_forward(v.data(), 10) / 10; }), 1e-8, 1e-7,
               "mean");
}
