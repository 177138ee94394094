// Layer norm kernels on hand-computed values (torch.nn.LayerNorm semantics: biased variance,
// eps inside the square root), a large common offset (the two-pass variance keeps it), and
// the gradient's invariances. Finite differences, model sizes, accumulation, null gradients
// and thread counts: the op table (tests/engine/test_op_table.cpp).
#include <cmath>
#include <vector>

#include "kernels/contract/layer_norm.h"
#include "test_util.h"

using dc::GradMode;
using dc::GradOut;
using dc::kernels::LayerNormShape;
namespace k = dc::kernels;
using namespace dc::test;

TEST_CASE("layer_norm: hand-computed forward, statistics and gradients") {
  // One row x = [0, 0, 3] (C = 3, eps = 0): mean 1, var (1 + 1 + 4) / 3 = 2, rstd = 1/sqrt 2,
  // xhat = [-1, -1, 2] / sqrt 2. With w = [1, 2, 1], b = [0, 1, -1]:
  //   y = [-1/sqrt 2, 1 - sqrt 2, sqrt 2 - 1].
  // dy = [1, 0, 0]: g = dy w = [1, 0, 0]; mean g = 1/3; mean(g xhat) = -1/(3 sqrt 2);
  //   dx = rstd (g - 1/3 - xhat mean(g xhat)) = [1/(2 sqrt 2), -1/(2 sqrt 2), 0]
  //   dw = dy xhat = [-1/sqrt 2, 0, 0], db = dy = [1, 0, 0].
  const double r2 = std::sqrt(2.0);
  const std::vector<double> x = {0, 0, 3}, w = {1, 2, 1}, b = {0, 1, -1}, dy = {1, 0, 0};
  const LayerNormShape s{1, 3, 0.0f};
  std::vector<double> y(3), mean(1), rstd(1), dx(3), dw(3), db(3);
  k::layer_norm_forward_reference(y.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), s);
  CHECK(mean[0] == doctest::Approx(1.0).epsilon(1e-15));
  CHECK(rstd[0] == doctest::Approx(1 / r2).epsilon(1e-15));
  CHECK(y[0] == doctest::Approx(-1 / r2).epsilon(1e-15));
  CHECK(y[1] == doctest::Approx(1 - r2).epsilon(1e-14));
  CHECK(y[2] == doctest::Approx(r2 - 1).epsilon(1e-14));
  k::layer_norm_backward_reference(out(dx), out(dw), out(db), dy.data(), x.data(), w.data(), mean.data(), rstd.data(), s);
  CHECK(dx[0] == doctest::Approx(1 / (2 * r2)).epsilon(1e-14));
  CHECK(dx[1] == doctest::Approx(-1 / (2 * r2)).epsilon(1e-14));
  CHECK(dx[2] == doctest::Approx(0.0).epsilon(1e-14));
  CHECK(dw[0] == doctest::Approx(-1 / r2).epsilon(1e-14));
  CHECK(dw[1] == doctest::Approx(0.0).epsilon(1e-14));
  CHECK(db == std::vector<double>{1, 0, 0});

  // The fast float kernel, with the default eps 1e-5 (rstd = 1/sqrt(2 + 1e-5)) on two rows:
  // row 1 is row 0 plus 10 (the same output: layer norm ignores a shift).
  const std::vector<float> xf = {0, 0, 3, 10, 10, 13}, wf = {1, 2, 1}, bf = {0, 1, -1}, dyf = {1, 0, 0, 1, 0, 0};
  const LayerNormShape sf{2, 3, 1e-5f};
  std::vector<float> yf(6), mf(2), rf(2), dxf(6), dwf(3), dbf(3);
  k::cpu::layer_norm_forward(yf.data(), mf.data(), rf.data(), xf.data(), wf.data(), bf.data(), sf);
  CHECK(mf == std::vector<float>{1, 11});
  const double rs = 1 / std::sqrt(2 + 1e-5);
  CHECK(rf[0] == doctest::Approx(rs).epsilon(1e-6));
  CHECK(rf[1] == rf[0]);
  // y = xhat w + b with xhat = [-1, -1, 2] rs.
  CHECK(yf[0] == doctest::Approx(-rs).epsilon(1e-6));
  CHECK(yf[1] == doctest::Approx(1 - 2 * rs).epsilon(1e-6));
  CHECK(yf[2] == doctest::Approx(2 * rs - 1).epsilon(1e-6));
  for (int c = 0; c < 3; ++c) CHECK(yf[static_cast<size_t>(3 + c)] == yf[static_cast<size_t>(c)]);
  k::cpu::layer_norm_backward(out(dxf), out(dwf), out(dbf), dyf.data(), xf.data(), wf.data(), mf.data(), rf.data(), sf);
  CHECK(dbf == std::vector<float>{2, 0, 0});
  CHECK(dwf[0] == doctest::Approx(-2 * rs).epsilon(1e-6));  // two rows of dy xhat[0] = -rs
  // dx as above with xhat = [-1, -1, 2] rs: rs (g - 1/3 - xhat mean(g xhat)), mean(g xhat) = -rs / 3.
  const double q = rs * rs / 3;
  CHECK(dxf[0] == doctest::Approx(rs * (2.0 / 3 - q)).epsilon(1e-6));
  CHECK(dxf[1] == doctest::Approx(rs * (-1.0 / 3 - q)).epsilon(1e-6));
  CHECK(dxf[2] == doctest::Approx(rs * (-1.0 / 3 + 2 * q)).epsilon(1e-6));
  for (int c = 0; c < 3; ++c) CHECK(dxf[static_cast<size_t>(3 + c)] == doctest::Approx(dxf[static_cast<size_t>(c)]).epsilon(1e-6));
  // A null mean / rstd (inference) still gives y.
  std::vector<float> y_inf(6);
  k::cpu::layer_norm_forward(y_inf.data(), nullptr, nullptr, xf.data(), wf.data(), bf.data(), sf);
  CHECK(y_inf == yf);
}

TEST_CASE("layer_norm: a common offset of 1e4 keeps the variance (two passes, not E[x^2] - E[x]^2)") {
  // x = 1e4 + [-1.5, -0.5, 0.5, 1.5]: var 1.25. In float, E[x^2] - E[x]^2 would lose every
  // digit (x^2 = 1e8 has an ulp of 8); the two-pass variance is exact here.
  const std::vector<float> x = {9998.5f, 9999.5f, 10000.5f, 10001.5f}, w(4, 1.0f), b(4, 0.0f);
  std::vector<float> y(4), m(1), r(1);
  k::cpu::layer_norm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), {1, 4, 0.0f});
  CHECK(m[0] == 10000.0f);
  CHECK(r[0] == doctest::Approx(1 / std::sqrt(1.25)).epsilon(1e-6));
  CHECK(y[0] == doctest::Approx(-1.5 / std::sqrt(1.25)).epsilon(1e-6));
  CHECK(y[3] == doctest::Approx(1.5 / std::sqrt(1.25)).epsilon(1e-6));
}

TEST_CASE("layer_norm: the gradient ignores directions the output cannot see") {
  // y does not change when x is shifted or scaled, so dx is orthogonal to both: sum_c dx = 0
  // and sum_c dx (x - mean) = 0 for any dy (w = 1, eps = 0), on every row.
  const int R = 6, C = 17;
  const std::vector<float> x = random_vector<float>(R * C, 1, -2, 2), dy = random_vector<float>(R * C, 2);
  const std::vector<float> w(C, 1.0f), b(C, 0.0f);
  std::vector<float> y(R * C), m(R), r(R), dx(R * C);
  const LayerNormShape s{R, C, 0.0f};
  k::cpu::layer_norm_forward(y.data(), m.data(), r.data(), x.data(), w.data(), b.data(), s);
  k::cpu::layer_norm_backward(out(dx), GradOut<float>{}, GradOut<float>{}, dy.data(), x.data(), w.data(), m.data(), r.data(), s);
  for (int i = 0; i < R; ++i) {
    double shift = 0, scale = 0, norm = 0;
    for (int c = 0; c < C; ++c) {
      const size_t j = static_cast<size_t>(i * C + c);
      shift += dx[j];
      scale += dx[j] * (x[j] - m[static_cast<size_t>(i)]);
      norm += std::fabs(dx[j]);
    }
    CHECK(norm > 0.1);
    CHECK(std::fabs(shift) < 1e-5 * norm);
    CHECK(std::fabs(scale) < 1e-5 * norm);
  }
}
