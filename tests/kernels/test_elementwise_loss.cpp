// Activations (relu, tanh, sigmoid, exp), gelu, add / mul, log_softmax, nll_loss,
// bce_with_logits and sum / mean on hand-computed values (the references in double, the CPU
// kernels in float), and the float edge cases (saturation, huge offsets, large |z|, float
// sums). Broadcasting add / mul: test_broadcast.cpp. Finite differences,
// accumulation, null gradients and thread counts: the op table
// (tests/engine/test_op_table.cpp).
#include <cmath>
#include <vector>

#include "kernels/contract/elementwise.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/reduce.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;
using k::Activation;
using k::Binary;
using namespace dc::test;

TEST_CASE("activations: hand-computed values and derivatives (reference and CPU kernels)") {
  const std::vector<double> x = {-2, -0.5, 0, 0.5, 2};
  const std::vector<float> xf = convert<float>(x);
  std::vector<double> y(5), dx(5);
  std::vector<float> yf(5), dxf(5);
  const std::vector<double> dy(5, 1.0);
  const std::vector<float> dyf(5, 1.0f);

  k::activation_forward_reference(y.data(), x.data(), 5, Activation::Relu);
  CHECK(y == std::vector<double>{0, 0, 0, 0.5, 2});
  k::activation_backward_reference(out(dx), dy.data(), y.data(), 5, Activation::Relu);
  CHECK(dx == std::vector<double>{0, 0, 0, 1, 1});  // relu'(0) = 0, as torch
  k::cpu::activation_forward(yf.data(), xf.data(), 5, Activation::Relu);
  CHECK(yf == std::vector<float>{0, 0, 0, 0.5f, 2});
  k::cpu::activation_backward(out(dxf), dyf.data(), yf.data(), 5, Activation::Relu);
  CHECK(dxf == std::vector<float>{0, 0, 0, 1, 1});

  k::activation_forward_reference(y.data(), x.data(), 5, Activation::Tanh);
  CHECK(y[2] == 0.0);
  CHECK(y[4] == doctest::Approx(0.9640275800758169).epsilon(1e-15));  // tanh(2)
  CHECK(y[0] == doctest::Approx(-0.9640275800758169).epsilon(1e-15));
  k::activation_backward_reference(out(dx), dy.data(), y.data(), 5, Activation::Tanh);
  CHECK(dx[2] == 1.0);  // 1 - tanh(0)^2
  CHECK(dx[4] == doctest::Approx(1 - 0.9640275800758169 * 0.9640275800758169).epsilon(1e-14));
  k::cpu::activation_forward(yf.data(), xf.data(), 5, Activation::Tanh);
  CHECK(yf[4] == doctest::Approx(0.9640275800758169).epsilon(1e-6));

  k::activation_forward_reference(y.data(), x.data(), 5, Activation::Sigmoid);
  CHECK(y[2] == 0.5);
  CHECK(y[4] == doctest::Approx(0.8807970779778823).epsilon(1e-15));   // 1 / (1 + e^-2)
  CHECK(y[0] == doctest::Approx(0.11920292202211755).epsilon(1e-15));  // e^-2 / (1 + e^-2)
  k::activation_backward_reference(out(dx), dy.data(), y.data(), 5, Activation::Sigmoid);
  CHECK(dx[2] == 0.25);  // 0.5 * (1 - 0.5)
  k::cpu::activation_forward(yf.data(), xf.data(), 5, Activation::Sigmoid);
  CHECK(yf[2] == 0.5f);
  CHECK(yf[0] == doctest::Approx(0.11920292202211755).epsilon(1e-6));

  // Float, extreme inputs: no NaN or overflow, saturated values.
  const std::vector<float> big = {-1000.0f, -100.0f, 100.0f, 1000.0f};
  std::vector<float> s(4);
  k::cpu::activation_forward(s.data(), big.data(), 4, Activation::Sigmoid);
  CHECK(s[0] == 0.0f);
  CHECK(s[1] >= 0.0f);
  CHECK(s[1] < 1e-40f);
  CHECK(s[2] == 1.0f);
  CHECK(s[3] == 1.0f);
  k::cpu::activation_forward(s.data(), big.data(), 4, Activation::Tanh);
  CHECK(s == std::vector<float>{-1, -1, 1, 1});
}

TEST_CASE("exp: hand values, y' = y, no overflow below 88") {
  const std::vector<double> x = {-1, 0, 1, std::log(3.0)};
  std::vector<double> y(4), dx(4);
  k::activation_forward_reference(y.data(), x.data(), 4, Activation::Exp);
  CHECK(y[1] == 1.0);
  CHECK(y[2] == doctest::Approx(2.718281828459045).epsilon(1e-15));
  CHECK(y[0] == doctest::Approx(0.36787944117144233).epsilon(1e-15));
  CHECK(y[3] == doctest::Approx(3.0).epsilon(1e-15));
  const std::vector<double> dy = {1, 2, -1, 0.5};
  k::activation_backward_reference(out(dx), dy.data(), y.data(), 4, Activation::Exp);
  CHECK(dx[1] == 2.0);                                                 // dy * e^0
  CHECK(dx[3] == doctest::Approx(1.5).epsilon(1e-15));                 // 0.5 * 3
  CHECK(dx[2] == doctest::Approx(-2.718281828459045).epsilon(1e-15));  // -e
  // Float: e^88 = 1.65e38 is finite (FLT_MAX = 3.4e38), e^-100 = 3.7e-44 a denormal, e^-200 0.
  const std::vector<float> xf = {88.0f, -100.0f, -200.0f, 0.0f};
  std::vector<float> yf(4), dxf(4);
  k::cpu::activation_forward(yf.data(), xf.data(), 4, Activation::Exp);
  CHECK(std::isfinite(yf[0]));
  CHECK(yf[0] == doctest::Approx(1.6516362549940018e38).epsilon(1e-6));
  CHECK(yf[1] > 0.0f);
  CHECK(yf[1] < 1e-38f);
  CHECK(yf[2] == 0.0f);
  CHECK(yf[3] == 1.0f);
  const std::vector<float> ones(4, 1.0f);
  k::cpu::activation_backward(out(dxf), ones.data(), yf.data(), 4, Activation::Exp);
  CHECK(dxf == yf);
}

TEST_CASE("gelu (exact erf form): hand values and derivative, both tails") {
  // gelu(x) = x Phi(x): Phi(0) = 1/2, Phi(1) = 0.8413447460685429, Phi(-1) = 0.15865525393145707.
  // gelu'(x) = Phi(x) + x phi(x), phi(1) = phi(-1) = 0.24197072451914337.
  const std::vector<double> x = {0, 1, -1, 2};
  std::vector<double> y(4), dx(4);
  k::gelu_forward_reference(y.data(), x.data(), 4);
  CHECK(y[0] == 0.0);
  CHECK(y[1] == doctest::Approx(0.8413447460685429).epsilon(1e-15));
  CHECK(y[2] == doctest::Approx(-0.15865525393145707).epsilon(1e-14));
  CHECK(y[3] == doctest::Approx(2 * 0.9772498680518208).epsilon(1e-15));  // 2 Phi(2)
  const std::vector<double> dy(4, 1.0);
  k::gelu_backward_reference(out(dx), dy.data(), x.data(), 4);
  CHECK(dx[0] == 0.5);
  CHECK(dx[1] == doctest::Approx(0.8413447460685429 + 0.24197072451914337).epsilon(1e-15));
  CHECK(dx[2] == doctest::Approx(0.15865525393145707 - 0.24197072451914337).epsilon(1e-14));
  // The fast float kernel on the same points, and its tails: gelu(-10) ~ -7.6e-23 (0 in the
  // sum 1 + erf), gelu(10) = 10; derivatives 0 and 1.
  const std::vector<float> xf = {0, 1, -1, 2, -10, 10};
  std::vector<float> yf(6), dxf(6, NAN);
  k::cpu::gelu_forward(yf.data(), xf.data(), 6);
  for (int i = 0; i < 4; ++i) CHECK(yf[static_cast<size_t>(i)] == doctest::Approx(y[static_cast<size_t>(i)]).epsilon(1e-6));
  CHECK(std::fabs(yf[4]) < 1e-6f);
  CHECK(yf[5] == 10.0f);
  const std::vector<float> dyf(6, 1.0f);
  k::cpu::gelu_backward(out(dxf), dyf.data(), xf.data(), 6);
  for (int i = 0; i < 3; ++i) CHECK(dxf[static_cast<size_t>(i)] == doctest::Approx(dx[static_cast<size_t>(i)]).epsilon(1e-6));
  CHECK(std::fabs(dxf[4]) < 1e-6f);
  CHECK(dxf[5] == 1.0f);
  // Accumulate adds onto what is there.
  k::cpu::gelu_backward(acc(dxf), dyf.data(), xf.data(), 6);
  CHECK(dxf[0] == 1.0f);
  CHECK(dxf[5] == 2.0f);
}

TEST_CASE("binary add / mul: hand values; one buffer for both gradients (x * x)") {
  // a = [1, 2, -3], b = [4, -5, 6]: a + b = [5, -3, 3], a * b = [4, -10, -18]
  const std::vector<float> a = {1, 2, -3}, b = {4, -5, 6};
  std::vector<float> y(3);
  k::cpu::binary_forward(y.data(), a.data(), b.data(), 3, Binary::Add);
  CHECK(y == std::vector<float>{5, -3, 3});
  k::cpu::binary_forward(y.data(), a.data(), b.data(), 3, Binary::Mul);
  CHECK(y == std::vector<float>{4, -10, -18});
  std::vector<double> yd(3);
  k::binary_forward_reference(yd.data(), convert<double>(a).data(), convert<double>(b).data(), 3, Binary::Mul);
  CHECK(yd == std::vector<double>{4, -10, -18});
  // dy = [1, 2, 3]: mul: da = dy * b = [4, -10, 18], db = dy * a = [1, 4, -9]
  const std::vector<float> dy = {1, 2, 3};
  std::vector<float> da(3), db(3);
  k::cpu::binary_backward(out(da), out(db), dy.data(), a.data(), b.data(), 3, Binary::Mul);
  CHECK(da == std::vector<float>{4, -10, 18});
  CHECK(db == std::vector<float>{1, 4, -9});
  k::cpu::binary_backward(out(da), out(db), dy.data(), a.data(), b.data(), 3, Binary::Add);
  CHECK(da == dy);
  CHECK(db == dy);
  // x * x with both gradients landing in one buffer (how the engine handles a tensor used
  // twice): the first write overwrites, the second accumulates -> 2 x dy.
  const std::vector<float> x = {1.5f, -2, 3};
  std::vector<float> g(3, NAN);
  k::cpu::binary_backward(out(g), acc(g), dy.data(), x.data(), x.data(), 3, Binary::Mul);
  CHECK(g == std::vector<float>{3, -8, 18});
}

TEST_CASE("log_softmax: hand-computed; a huge offset stays finite") {
  // x = [0, ln 2, ln 3] -> softmax = [1, 2, 3] / 6 -> log_softmax = [ln 1/6, ln 1/3, ln 1/2]
  const std::vector<double> x = {0, std::log(2.0), std::log(3.0)};
  std::vector<double> y(3);
  k::log_softmax_forward_reference(y.data(), x.data(), 1, 3);
  CHECK(y[0] == doctest::Approx(std::log(1.0 / 6)).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(std::log(1.0 / 3)).epsilon(1e-15));
  CHECK(y[2] == doctest::Approx(std::log(0.5)).epsilon(1e-15));
  // Backward with dy = [1, 0, 0]: dx = dy - softmax * sum(dy) = [1 - 1/6, -2/6, -3/6]
  const std::vector<double> dy = {1, 0, 0};
  std::vector<double> dx(3);
  k::log_softmax_backward_reference(out(dx), dy.data(), y.data(), 1, 3);
  CHECK(dx[0] == doctest::Approx(5.0 / 6).epsilon(1e-14));
  CHECK(dx[1] == doctest::Approx(-1.0 / 3).epsilon(1e-14));
  CHECK(dx[2] == doctest::Approx(-0.5).epsilon(1e-14));
  // Float with a huge offset: the max shift keeps it finite and equal to the unshifted result.
  const std::vector<float> xf = {1000.0f, 1000.0f + std::log(2.0f), 1000.0f + std::log(3.0f)};
  std::vector<float> yf(3);
  k::cpu::log_softmax_forward(yf.data(), xf.data(), 1, 3);
  expect_close(yf, y, 1e-4, 0, "shifted log_softmax");
}

TEST_CASE("nll_loss: hand-computed value and gradient") {
  // p = [[0.5, 0.25, 0.25], [0.1, 0.7, 0.2]], target = [0, 1] -> loss = -(ln 0.5 + ln 0.7) / 2
  const std::vector<double> logp = {std::log(0.5), std::log(0.25), std::log(0.25),
                                    std::log(0.1), std::log(0.7),  std::log(0.2)};
  const std::vector<double> target = {0, 1};
  double loss = 0;
  k::nll_loss_forward_reference(&loss, logp.data(), target.data(), 2, 3);
  CHECK(loss == doctest::Approx(-(std::log(0.5) + std::log(0.7)) / 2).epsilon(1e-15));
  float lossf = 0;
  k::cpu::nll_loss_forward(&lossf, convert<float>(logp).data(), convert<float>(target).data(), 2, 3);
  CHECK(lossf == doctest::Approx(loss).epsilon(1e-6));
  // dloss = 1: -1/R at each target, 0 elsewhere; Accumulate with dloss = 2 adds twice that.
  std::vector<float> g(6, NAN);
  const float one = 1, two = 2;
  const std::vector<float> tf = convert<float>(target);
  k::cpu::nll_loss_backward(out(g), &one, tf.data(), 2, 3);
  CHECK(g == std::vector<float>{-0.5f, 0, 0, 0, -0.5f, 0});
  k::cpu::nll_loss_backward(acc(g), &two, tf.data(), 2, 3);
  CHECK(g == std::vector<float>{-1.5f, 0, 0, 0, -1.5f, 0});
}

TEST_CASE("bce_with_logits: hand-computed values; large |z| without overflow") {
  // z = 0: loss = ln 2 for any target. z = 2, t = 1: ln(1 + e^-2). z = 2, t = 0: 2 + ln(1 + e^-2).
  {
    const std::vector<double> z = {0, 0, 2, 2}, t = {1, 0, 1, 0};
    const double l2 = std::log1p(std::exp(-2.0));
    double loss = 0;
    k::bce_with_logits_forward_reference(&loss, z.data(), t.data(), 4);
    CHECK(loss == doctest::Approx((2 * std::log(2.0) + l2 + 2 + l2) / 4).epsilon(1e-15));
    // dz = (sigmoid(z) - t) / R: [(0.5 - 1) / 4, 0.5 / 4, (s2 - 1) / 4, s2 / 4]
    std::vector<double> g(4);
    const double one = 1;
    k::bce_with_logits_backward_reference(out(g), &one, z.data(), t.data(), 4);
    const double s2 = 1 / (1 + std::exp(-2.0));
    CHECK(g[0] == -0.125);
    CHECK(g[1] == 0.125);
    CHECK(g[2] == doctest::Approx((s2 - 1) / 4).epsilon(1e-14));
    CHECK(g[3] == doctest::Approx(s2 / 4).epsilon(1e-14));
  }
  // Float with |z| = 100 and 1000: no overflow, the exact limits.
  const std::vector<float> z = {100, 100, -100, -100, 1000, -1000}, t = {1, 0, 0, 1, 0, 1};
  for (int i = 0; i < 6; ++i) {
    CAPTURE(i);
    float l = NAN;
    k::cpu::bce_with_logits_forward(&l, &z[i], &t[i], 1);
    // max(z, 0) - z t + log1p(e^-|z|): 0, 100, 0, 100, 1000, 1000 (+ ~e^-100).
    const float want[] = {0, 100, 0, 100, 1000, 1000};
    CHECK(std::isfinite(l));
    CHECK(l == doctest::Approx(want[i]).epsilon(1e-6));
    std::vector<float> g(1, NAN);
    const float one = 1;
    k::cpu::bce_with_logits_backward(out(g), &one, &z[i], &t[i], 1);
    // sigmoid(z) - t: 0, 1, e^-100 (a float denormal), -1, 1, -1.
    const float gwant[] = {0, 1, 0, -1, 1, -1};
    CHECK(g[0] == doctest::Approx(gwant[i]).epsilon(1e-7));
  }
}

TEST_CASE("sum / mean: summed in double; the backward fill") {
  // 2^24 + 1 + 1 + 1 + 1: a float running sum stays at 2^24; the double sum is 2^24 + 4.
  const std::vector<float> x = {16777216.0f, 1, 1, 1, 1};
  float y = 0;
  k::cpu::sum_forward(&y, x.data(), 5, 1.0f);
  CHECK(y == 16777220.0f);
  k::cpu::sum_forward(&y, x.data(), 5, 0.25f);  // the scale of a mean over 4
  CHECK(y == 4194305.0f);
  const std::vector<double> xd = {1, 2, 3.5, -4};
  double yd = 0;
  k::sum_forward_reference(&yd, xd.data(), 4, 1.0);
  CHECK(yd == 2.5);

  std::vector<float> g(4, NAN);
  const float dy = 2;
  k::cpu::fill_backward(out(g), &dy, 0.125f, 4);
  CHECK(g == std::vector<float>{0.25f, 0.25f, 0.25f, 0.25f});
  k::cpu::fill_backward(acc(g), &dy, 0.5f, 4);
  CHECK(g == std::vector<float>{1.25f, 1.25f, 1.25f, 1.25f});
}
