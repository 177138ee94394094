// Conv1d kernels: the double reference against finite differences and hand-computed
// values, and the fast im2col + GEMM float kernels against the reference.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/conv1d.h"
#include "test_util.h"

using dc::GradMode;
using dc::cpu::Conv1dShape;
using namespace dc::test;

namespace {

std::string describe(Conv1dShape s) {
  return "N=" + std::to_string(s.N) + " CIN=" + std::to_string(s.CIN) + " L=" + std::to_string(s.L) +
         " COUT=" + std::to_string(s.COUT) + " K=" + std::to_string(s.K) + " stride=" + std::to_string(s.stride) +
         " pad=" + std::to_string(s.pad);
}

// N, CIN, L, COUT, K, stride, pad
const Conv1dShape kShapes[] = {
    {1, 1, 5, 1, 3, 1, 0},     // the hand-sized case
    {2, 3, 11, 4, 3, 2, 1},    // stride 2, padding 1
    {2, 2, 9, 3, 4, 2, 2},     // stride 2, padding 2
    {1, 2, 10, 2, 3, 2, 0},    // stride 2: the last input position is never used
    {3, 1, 8, 2, 3, 1, 1},     // CIN = 1
    {2, 3, 7, 2, 1, 1, 0},     // K = 1
    {2, 3, 10, 2, 5, 3, 2},    // stride 3, padding 2
    {1, 2, 6, 3, 6, 1, 0},     // K = L: one output position
    {2, 5, 100, 50, 10, 1, 0}, // DeepChrome
};

size_t xsize(Conv1dShape s) { return static_cast<size_t>(s.N) * s.CIN * s.L; }
size_t wsize(Conv1dShape s) { return static_cast<size_t>(s.COUT) * s.CIN * s.K; }
size_t ysize(Conv1dShape s) { return static_cast<size_t>(s.N) * s.COUT * s.LOUT(); }

struct ConvData {
  std::vector<float> x, w, b, dy;
};

ConvData make_data(Conv1dShape s, uint64_t seed) {
  const double k = 1.0 / std::sqrt(static_cast<double>(s.CIN * s.K));
  return {random_vector<float>(xsize(s), seed), random_vector<float>(wsize(s), seed + 1, -k, k),
          random_vector<float>(static_cast<size_t>(s.COUT), seed + 2, -k, k), random_vector<float>(ysize(s), seed + 3)};
}

struct Grads {
  std::vector<double> dx, dw, db;
};

Grads reference_grads(const ConvData& d, Conv1dShape s) {
  const auto x = convert<double>(d.x), w = convert<double>(d.w), dy = convert<double>(d.dy);
  Grads g{std::vector<double>(x.size()), std::vector<double>(w.size()), std::vector<double>(d.b.size())};
  dc::cpu::conv1d_backward_reference<double>(g.dx.data(), GradMode::Overwrite, g.dw.data(), GradMode::Overwrite,
                                             g.db.data(), GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  return g;
}

std::vector<double> reference_forward(const ConvData& d, Conv1dShape s, bool bias) {
  const auto x = convert<double>(d.x), w = convert<double>(d.w), b = convert<double>(d.b);
  std::vector<double> y(ysize(s));
  dc::cpu::conv1d_forward_reference<double>(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
  return y;
}

constexpr double kTol = 1e-5;

}  // namespace

TEST_CASE("conv1d reference: hand-computed 1x3 kernel on a length-5 input") {
  // x = [1, 2, 3, 4, 5], w = [1, 2, -1], b = 0.5
  const std::vector<double> x = {1, 2, 3, 4, 5}, w = {1, 2, -1}, b = {0.5};
  SUBCASE("stride 1, no padding") {
    // y[l] = x[l] + 2 x[l+1] - x[l+2] + 0.5: [1+4-3, 2+6-4, 3+8-5] + 0.5 = [2.5, 4.5, 6.5]
    const Conv1dShape s{1, 1, 5, 1, 3, 1, 0};
    REQUIRE(s.LOUT() == 3);
    std::vector<double> y(3);
    dc::cpu::conv1d_forward_reference(y.data(), x.data(), w.data(), b.data(), s);
    CHECK(y == std::vector<double>{2.5, 4.5, 6.5});
    // dy = [1, 2, 3]
    // dx[p] = sum_{l + k = p} w[k] dy[l]:
    //   p0: w0 dy0 = 1; p1: w0 dy1 + w1 dy0 = 2 + 2 = 4; p2: w0 dy2 + w1 dy1 + w2 dy0 = 3 + 4 - 1 = 6
    //   p3: w1 dy2 + w2 dy1 = 6 - 2 = 4; p4: w2 dy2 = -3
    // dw[k] = sum_l dy[l] x[l + k]: k0: 1 + 4 + 9 = 14; k1: 2 + 6 + 12 = 20; k2: 3 + 8 + 15 = 26
    // db = 1 + 2 + 3 = 6
    const std::vector<double> dy = {1, 2, 3};
    std::vector<double> dx(5), dw(3), db(1);
    dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                       GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
    CHECK(dx == std::vector<double>{1, 4, 6, 4, -3});
    CHECK(dw == std::vector<double>{14, 20, 26});
    CHECK(db == std::vector<double>{6});
    // The fast kernel on the same numbers (all exact in float).
    std::vector<float> yf(3), col(static_cast<size_t>(dc::cpu::conv1d_col_size(s)));
    const auto xf = convert<float>(x), wf = convert<float>(w), bf = convert<float>(b), dyf = convert<float>(dy);
    dc::cpu::conv1d_forward(yf.data(), col.data(), xf.data(), wf.data(), bf.data(), s);
    CHECK(yf == std::vector<float>{2.5f, 4.5f, 6.5f});
    std::vector<float> dxf(5), dwf(3), dbf(1);
    dc::cpu::conv1d_backward(dxf.data(), GradMode::Overwrite, dwf.data(), GradMode::Overwrite, dbf.data(),
                             GradMode::Overwrite, dyf.data(), col.data(), wf.data(), s);
    CHECK(dxf == std::vector<float>{1, 4, 6, 4, -3});
    CHECK(dwf == std::vector<float>{14, 20, 26});
    CHECK(dbf == std::vector<float>{6});
  }
  SUBCASE("padding 1, stride 1 and 2") {
    // Padded input [0, 1, 2, 3, 4, 5, 0]; y[l] = xp[l] + 2 xp[l+1] - xp[l+2] + 0.5:
    //   l0: 0 + 2 - 2 = 0; l1: 1 + 4 - 3 = 2; l2: 2 + 6 - 4 = 4; l3: 3 + 8 - 5 = 6; l4: 4 + 10 - 0 = 14
    std::vector<double> y(5);
    dc::cpu::conv1d_forward_reference(y.data(), x.data(), w.data(), b.data(), {1, 1, 5, 1, 3, 1, 1});
    CHECK(y == std::vector<double>{0.5, 2.5, 4.5, 6.5, 14.5});
    // Stride 2 keeps l = 0, 2, 4: LOUT = (5 + 2 - 3) / 2 + 1 = 3.
    const Conv1dShape s2{1, 1, 5, 1, 3, 2, 1};
    REQUIRE(s2.LOUT() == 3);
    std::vector<double> y2(3);
    dc::cpu::conv1d_forward_reference(y2.data(), x.data(), w.data(), b.data(), s2);
    CHECK(y2 == std::vector<double>{0.5, 4.5, 14.5});
    // Backward with dy = [1, 1, 1]: output l reads x[2l + k - 1] for k = 0, 1, 2.
    //   dx[p] = sum of w[k] over the (l, k) with 2l + k - 1 = p:
    //   p0: (l0,k1) = 2; p1: (l0,k2) + (l1,k0) = -1 + 1 = 0; p2: (l1,k1) = 2;
    //   p3: (l1,k2) + (l2,k0) = -1 + 1 = 0; p4: (l2,k1) = 2
    //   dw[k] = sum_l x[2l + k - 1]: k0: 0 + 2 + 4 = 6; k1: 1 + 3 + 5 = 9; k2: 2 + 4 + 0 = 6
    const std::vector<double> dy = {1, 1, 1};
    std::vector<double> dx(5), dw(3), db(1);
    dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                       GradMode::Overwrite, dy.data(), x.data(), w.data(), s2);
    CHECK(dx == std::vector<double>{2, 0, 2, 0, 2});
    CHECK(dw == std::vector<double>{6, 9, 6});
    CHECK(db == std::vector<double>{3});
  }
  SUBCASE("two input channels, two output channels") {
    // x = [[1, 2, 3, 4, 5], [1, 0, 1, 0, 1]], K = 2
    // w[0] = [[1, 1], [0, 0]] (sum of neighbours in channel 0), w[1] = [[0, 0], [1, -1]]
    // y[0] = [3, 5, 7, 9], y[1] = [1, -1, 1, -1]
    const std::vector<double> x2 = {1, 2, 3, 4, 5, 1, 0, 1, 0, 1}, w2 = {1, 1, 0, 0, 0, 0, 1, -1};
    std::vector<double> y(8);
    dc::cpu::conv1d_forward_reference(y.data(), x2.data(), w2.data(), static_cast<const double*>(nullptr),
                                      {1, 2, 5, 2, 2, 1, 0});
    CHECK(y == std::vector<double>{3, 5, 7, 9, 1, -1, 1, -1});
  }
}

TEST_CASE("conv1d reference: finite-difference gradients (double)") {
  uint64_t seed = 20;
  for (const Conv1dShape s : kShapes)
    for (bool bias : {true, false}) {
      INFO(describe(s) << " bias=" << bias);
      auto x = random_vector<double>(xsize(s), seed++);
      auto w = random_vector<double>(wsize(s), seed++);
      auto b = random_vector<double>(static_cast<size_t>(s.COUT), seed++);
      const auto r = random_vector<double>(ysize(s), seed++);
      std::vector<double> y(r.size());
      auto f = [&] {
        dc::cpu::conv1d_forward_reference(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
        return dot(y, r);
      };
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite,
                                         bias ? db.data() : nullptr, GradMode::Overwrite, r.data(), x.data(), w.data(), s);
      // The DeepChrome shape has 3550 inputs: check a spread sample of them.
      const auto ix = sample_indices(x.size(), 80, 1), iw = sample_indices(w.size(), 80, 2),
                 ib = sample_indices(b.size(), 20, 3);
      // f is linear in each of x, w, b separately, so central differences are exact for any
      // step: a large one keeps the rounding error of f (|f| ~ 100 at the DeepChrome size)
      // far below the tolerance.
      const double eps = 1e-2;
      expect_close(pick(dx, ix), numeric_gradient_at(x, ix, f, eps), 1e-8, 1e-7, "dx");
      expect_close(pick(dw, iw), numeric_gradient_at(w, iw, f, eps), 1e-8, 1e-7, "dw");
      if (bias) expect_close(pick(db, ib), numeric_gradient_at(b, ib, f, eps), 1e-8, 1e-7, "db");
    }
}

TEST_CASE("conv1d reference: an input position no window reaches gets zero gradient") {
  // L = 10, K = 3, stride 2, no padding: windows cover positions 0..8, never 9.
  const Conv1dShape s{1, 2, 10, 2, 3, 2, 0};
  const auto x = random_vector<double>(xsize(s), 1), w = random_vector<double>(wsize(s), 2),
             dy = random_vector<double>(ysize(s), 3);
  std::vector<double> dx(x.size(), 7.0);
  dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Overwrite, static_cast<double*>(nullptr), GradMode::Overwrite,
                                     static_cast<double*>(nullptr), GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  CHECK(dx[9] == 0.0);
  CHECK(dx[19] == 0.0);
  CHECK(dx[8] != 0.0);
}

TEST_CASE("conv1d reference: Accumulate adds onto existing values") {
  const Conv1dShape s{2, 3, 11, 4, 3, 2, 1};
  const auto x = random_vector<double>(xsize(s), 1), w = random_vector<double>(wsize(s), 2),
             dy = random_vector<double>(ysize(s), 3);
  std::vector<double> dx0(x.size()), dw0(w.size()), db0(4);
  dc::cpu::conv1d_backward_reference(dx0.data(), GradMode::Overwrite, dw0.data(), GradMode::Overwrite, db0.data(),
                                     GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  const auto ex = random_vector<double>(x.size(), 4), ew = random_vector<double>(w.size(), 5),
             eb = random_vector<double>(4, 6);
  auto dx = ex, dw = ew, db = eb;
  dc::cpu::conv1d_backward_reference(dx.data(), GradMode::Accumulate, dw.data(), GradMode::Accumulate, db.data(),
                                     GradMode::Accumulate, dy.data(), x.data(), w.data(), s);
  for (size_t i = 0; i < dx.size(); ++i) CHECK(dx[i] == doctest::Approx(ex[i] + dx0[i]).epsilon(1e-14));
  for (size_t i = 0; i < dw.size(); ++i) CHECK(dw[i] == doctest::Approx(ew[i] + dw0[i]).epsilon(1e-14));
  for (size_t i = 0; i < db.size(); ++i) CHECK(db[i] == doctest::Approx(eb[i] + db0[i]).epsilon(1e-14));
}

TEST_CASE("conv1d fast kernels vs reference (im2col + GEMM)") {
  uint64_t seed = 200;
  for (const Conv1dShape s : kShapes) {
    const ConvData d = make_data(s, seed += 4);
    const Grads ref = reference_grads(d, s);
    CHECK(dc::cpu::conv1d_col_size(s) == 1LL * s.CIN * s.K * s.N * s.LOUT());
    for (bool bias : {true, false}) {
      INFO(describe(s) << " bias=" << bias);
      std::vector<float> y(ysize(s), NAN), col(static_cast<size_t>(dc::cpu::conv1d_col_size(s)), NAN);
      dc::cpu::conv1d_forward(y.data(), col.data(), d.x.data(), d.w.data(), bias ? d.b.data() : nullptr, s);
      expect_close(y, reference_forward(d, s, bias), kTol, kTol, "y");
      // Overwrite onto NaN garbage.
      std::vector<float> dx(d.x.size(), NAN), dw(d.w.size(), NAN), db(d.b.size(), NAN);
      dc::cpu::conv1d_backward(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite,
                               bias ? db.data() : nullptr, GradMode::Overwrite, d.dy.data(), col.data(), d.w.data(), s);
      expect_close(dx, ref.dx, kTol, kTol, "dx");
      expect_close(dw, ref.dw, kTol, kTol, "dw");
      if (bias) expect_close(db, ref.db, kTol, kTol, "db");
      // Accumulate onto existing values.
      const auto ex = random_vector<float>(dx.size(), 11), ew = random_vector<float>(dw.size(), 12),
                 eb = random_vector<float>(db.size(), 13);
      dx = ex, dw = ew, db = eb;
      dc::cpu::conv1d_backward(dx.data(), GradMode::Accumulate, dw.data(), GradMode::Accumulate, db.data(),
                               GradMode::Accumulate, d.dy.data(), col.data(), d.w.data(), s);
      auto plus = [](const std::vector<double>& a, const std::vector<float>& b) {
        std::vector<double> out(a.size());
        for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
        return out;
      };
      expect_close(dx, plus(ref.dx, ex), kTol, kTol, "dx (accumulate)");
      expect_close(dw, plus(ref.dw, ew), kTol, kTol, "dw (accumulate)");
      expect_close(db, plus(ref.db, eb), kTol, kTol, "db (accumulate)");
    }
  }
}

TEST_CASE("conv1d fast backward: null gradient pointers skip exactly that gradient") {
  const Conv1dShape s{2, 3, 11, 4, 3, 2, 1};
  const ConvData d = make_data(s, 77);
  const Grads ref = reference_grads(d, s);
  std::vector<float> y(ysize(s)), col(static_cast<size_t>(dc::cpu::conv1d_col_size(s)));
  dc::cpu::conv1d_forward(y.data(), col.data(), d.x.data(), d.w.data(), d.b.data(), s);
  for (int mask = 0; mask < 8; ++mask) {
    INFO("mask=" << mask);
    const bool want_dx = mask & 1, want_dw = mask & 2, want_db = mask & 4;
    std::vector<float> dx(d.x.size(), NAN), dw(d.w.size(), NAN), db(d.b.size(), NAN);
    dc::cpu::conv1d_backward(want_dx ? dx.data() : nullptr, GradMode::Overwrite, want_dw ? dw.data() : nullptr,
                             GradMode::Overwrite, want_db ? db.data() : nullptr, GradMode::Overwrite, d.dy.data(),
                             col.data(), d.w.data(), s);
    if (want_dx) expect_close(dx, ref.dx, kTol, kTol, "dx");
    if (want_dw) expect_close(dw, ref.dw, kTol, kTol, "dw");
    if (want_db) expect_close(db, ref.db, kTol, kTol, "db");
  }
}

TEST_CASE("conv1d fast kernels: bit-identical for 1 and 2 threads") {
  // Batch 16 at the DeepChrome shape is large enough for every parallel region to fork.
  for (const Conv1dShape s : {Conv1dShape{16, 5, 100, 50, 10, 1, 0}, Conv1dShape{16, 5, 100, 50, 10, 2, 2}}) {
    INFO(describe(s));
    const ConvData d = make_data(s, 900);
    struct Out {
      std::vector<float> y, dx, dw, db;
    };
    auto run = [&](int threads) {
      ThreadCount tc(threads);
      Out o{std::vector<float>(ysize(s)), std::vector<float>(d.x.size()), std::vector<float>(d.w.size()),
            std::vector<float>(d.b.size())};
      std::vector<float> col(static_cast<size_t>(dc::cpu::conv1d_col_size(s)));
      dc::cpu::conv1d_forward(o.y.data(), col.data(), d.x.data(), d.w.data(), d.b.data(), s);
      dc::cpu::conv1d_backward(o.dx.data(), GradMode::Overwrite, o.dw.data(), GradMode::Overwrite, o.db.data(),
                               GradMode::Overwrite, d.dy.data(), col.data(), d.w.data(), s);
      return o;
    };
    const Out a = run(1), b = run(2);
    CHECK(bit_identical(a.y, b.y));
    CHECK(bit_identical(a.dx, b.dx));
    CHECK(bit_identical(a.dw, b.dw));
    CHECK(bit_identical(a.db, b.db));
  }
}
