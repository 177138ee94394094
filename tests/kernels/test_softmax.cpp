// Softmax over the last axis on hand-computed values (the reference in double, the CPU
// kernel in float), huge offsets and spreads, and the backward's invariants. Finite
// differences, model sizes, accumulation and thread counts: the op table
// (tests/engine/test_op_table.cpp).
#include <cmath>
#include <vector>

#include "kernels/contract/softmax.h"
#include "test_util.h"

using dc::GradMode;
using dc::GradOut;
namespace k = dc::kernels;
using namespace dc::test;

TEST_CASE("softmax: hand-computed rows and gradient") {
  // Row 0: x = [0, ln 2, ln 3] -> [1, 2, 3] / 6. Row 1: equal entries -> 1/3 each.
  const std::vector<double> x = {0, std::log(2.0), std::log(3.0), 5, 5, 5};
  std::vector<double> y(6);
  k::softmax_forward_reference(y.data(), x.data(), 2, 3);
  CHECK(y[0] == doctest::Approx(1.0 / 6).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(1.0 / 3).epsilon(1e-15));
  CHECK(y[2] == doctest::Approx(0.5).epsilon(1e-15));
  for (int c = 3; c < 6; ++c) CHECK(y[static_cast<size_t>(c)] == doctest::Approx(1.0 / 3).epsilon(1e-15));
  // dy = [1, 0, 0] on row 0: s = sum dy y = 1/6, dx = y (dy - s) = [5/36, -1/18, -1/12].
  // dy = [1, 1, 1] on row 1: s = 1, dx = 0 (a constant shift of the input changes nothing).
  const std::vector<double> dy = {1, 0, 0, 1, 1, 1};
  std::vector<double> dx(6);
  k::softmax_backward_reference(out(dx), dy.data(), y.data(), 2, 3);
  CHECK(dx[0] == doctest::Approx(5.0 / 36).epsilon(1e-14));
  CHECK(dx[1] == doctest::Approx(-1.0 / 18).epsilon(1e-14));
  CHECK(dx[2] == doctest::Approx(-1.0 / 12).epsilon(1e-14));
  for (int c = 3; c < 6; ++c) CHECK(dx[static_cast<size_t>(c)] == doctest::Approx(0.0));

  // The float kernel on the same rows; Accumulate adds onto what is there.
  const auto xf = convert<float>(x), dyf = convert<float>(dy);
  std::vector<float> yf(6), dxf(6, NAN);
  k::cpu::softmax_forward(yf.data(), xf.data(), 2, 3);
  expect_close(yf, y, 1e-7, 1e-6, "softmax float");
  k::cpu::softmax_backward(out(dxf), dyf.data(), yf.data(), 2, 3);
  expect_close(dxf, dx, 1e-7, 1e-6, "softmax backward float");
  std::vector<float> twice = dxf;
  k::cpu::softmax_backward(acc(twice), dyf.data(), yf.data(), 2, 3);
  for (size_t i = 0; i < 6; ++i) CHECK(twice[i] == 2 * dxf[i]);
}

TEST_CASE("softmax: huge offsets and spreads stay finite; rows sum to 1, gradients to 0") {
  // x + 1000 is the same softmax (exp(1000) overflows without the max shift); a spread of
  // 1000 gives an exact 1 and 0; a single column is 1 with a zero gradient.
  const std::vector<float> x = {1000.0f, 1000.0f + std::log(2.0f), 1000.0f + std::log(3.0f), 0.0f, -1000.0f, -3.0f};
  std::vector<float> y(6);
  k::cpu::softmax_forward(y.data(), x.data(), 2, 3);
  CHECK(y[0] == doctest::Approx(1.0 / 6).epsilon(1e-4));
  CHECK(y[2] == doctest::Approx(0.5).epsilon(1e-4));
  CHECK(y[4] == 0.0f);
  CHECK(y[3] == doctest::Approx(1.0 / (1.0 + std::exp(-3.0))).epsilon(1e-6));
  std::vector<float> one(1), g(1);
  const float x1 = 7.0f, dy1 = 2.0f;
  k::cpu::softmax_forward(one.data(), &x1, 1, 1);
  CHECK(one[0] == 1.0f);
  k::cpu::softmax_backward(out(g), &dy1, one.data(), 1, 1);
  CHECK(g[0] == 0.0f);

  // Random rows: each sums to 1; each gradient row sums to 0 (softmax ignores a shift).
  const int R = 5, C = 40;
  const std::vector<float> xr = random_vector<float>(R * C, 3, -4, 4), dyr = random_vector<float>(R * C, 4);
  std::vector<float> yr(R * C), dxr(R * C);
  k::cpu::softmax_forward(yr.data(), xr.data(), R, C);
  k::cpu::softmax_backward(out(dxr), dyr.data(), yr.data(), R, C);
  for (int r = 0; r < R; ++r) {
    double sy = 0, sd = 0;
    for (int c = 0; c < C; ++c) {
      sy += yr[static_cast<size_t>(r * C + c)];
      sd += dxr[static_cast<size_t>(r * C + c)];
    }
    CHECK(sy == doctest::Approx(1.0).epsilon(1e-6));
    CHECK(sd == doctest::Approx(0.0).epsilon(1e-6));
  }
}
