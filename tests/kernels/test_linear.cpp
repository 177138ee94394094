// Linear layer kernels: the double reference against finite differences and hand-computed
// values, and the fast float kernels (GEMM, gemv and rank-1 paths) against the reference.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/linear.h"
#include "test_util.h"

using dc::GradMode;
using dc::cpu::LinearShape;
using namespace dc::test;

namespace {

std::string describe(LinearShape s) {
  return "N=" + std::to_string(s.N) + " IN=" + std::to_string(s.IN) + " OUT=" + std::to_string(s.OUT);
}

struct LinearData {
  std::vector<float> x, w, b, dy;
};

// Weights scaled like the default init (U(-1/sqrt(IN), 1/sqrt(IN))) so outputs stay O(1).
LinearData make_data(LinearShape s, uint64_t seed) {
  const double k = 1.0 / std::sqrt(static_cast<double>(s.IN));
  return {random_vector<float>(static_cast<size_t>(s.N) * s.IN, seed),
          random_vector<float>(static_cast<size_t>(s.OUT) * s.IN, seed + 1, -k, k),
          random_vector<float>(static_cast<size_t>(s.OUT), seed + 2, -k, k),
          random_vector<float>(static_cast<size_t>(s.N) * s.OUT, seed + 3)};
}

struct Grads {
  std::vector<double> dx, dw, db;
};

Grads reference_grads(const LinearData& d, LinearShape s) {
  const auto x = convert<double>(d.x), w = convert<double>(d.w), dy = convert<double>(d.dy);
  Grads g{std::vector<double>(x.size()), std::vector<double>(w.size()), std::vector<double>(d.b.size())};
  dc::cpu::linear_backward_reference<double>(g.dx.data(), GradMode::Overwrite, g.dw.data(), GradMode::Overwrite,
                                             g.db.data(), GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  return g;
}

std::vector<double> reference_forward(const LinearData& d, LinearShape s, bool bias) {
  const auto x = convert<double>(d.x), w = convert<double>(d.w), b = convert<double>(d.b);
  std::vector<double> y(static_cast<size_t>(s.N) * s.OUT);
  dc::cpu::linear_forward_reference<double>(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
  return y;
}

constexpr double kTol = 1e-5;

}  // namespace

TEST_CASE("linear reference: hand-computed forward and backward") {
  // x = [[1, 2], [3, -1]], w = [[1, 0], [0, 1], [1, 1]], b = [0.5, -1, 2]
  // y[0] = [1 + 0.5, 2 - 1, 3 + 2] = [1.5, 1, 5]; y[1] = [3 + 0.5, -1 - 1, 2 + 2] = [3.5, -2, 4]
  // dy = [[1, 2, 3], [0, 1, -1]]
  // dx = dy w: row 0 = [1 + 3, 2 + 3] = [4, 5]; row 1 = [0 - 1, 1 - 1] = [-1, 0]
  // dw = dy^T x = [[1*1 + 0*3, 1*2 + 0*-1], [2*1 + 1*3, 2*2 + 1*-1], [3*1 - 1*3, 3*2 - 1*-1]]
  //    = [[1, 2], [5, 3], [0, 7]]
  // db = [1, 3, 2]
  const std::vector<double> x = {1, 2, 3, -1}, w = {1, 0, 0, 1, 1, 1}, b = {0.5, -1, 2}, dy = {1, 2, 3, 0, 1, -1};
  const LinearShape s{2, 2, 3};
  std::vector<double> y(6), dx(4), dw(6), db(3);
  dc::cpu::linear_forward_reference(y.data(), x.data(), w.data(), b.data(), s);
  CHECK(y == std::vector<double>{1.5, 1, 5, 3.5, -2, 4});
  dc::cpu::linear_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                                     GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  CHECK(dx == std::vector<double>{4, 5, -1, 0});
  CHECK(dw == std::vector<double>{1, 2, 5, 3, 0, 7});
  CHECK(db == std::vector<double>{1, 3, 2});

  // The fast float kernels on the same numbers: the batch of two (GEMM path) and the first
  // row alone (gemv / rank-1 path). All values are small integers or halves: exact.
  const auto xf = convert<float>(x), wf = convert<float>(w), bf = convert<float>(b), dyf = convert<float>(dy);
  std::vector<float> yf(6), dxf(4), dwf(6), dbf(3);
  dc::cpu::linear_forward(yf.data(), xf.data(), wf.data(), bf.data(), s);
  CHECK(yf == std::vector<float>{1.5f, 1, 5, 3.5f, -2, 4});
  dc::cpu::linear_backward(dxf.data(), GradMode::Overwrite, dwf.data(), GradMode::Overwrite, dbf.data(),
                           GradMode::Overwrite, dyf.data(), xf.data(), wf.data(), s);
  CHECK(dxf == std::vector<float>{4, 5, -1, 0});
  CHECK(dwf == std::vector<float>{1, 2, 5, 3, 0, 7});
  CHECK(dbf == std::vector<float>{1, 3, 2});
  // N = 1 (row 0): dw = dy0^T x0 = [[1, 2], [2, 4], [3, 6]], dx = [4, 5], db = [1, 2, 3]
  std::vector<float> y1(3), dx1(2), dw1(6), db1(3);
  dc::cpu::linear_forward(y1.data(), xf.data(), wf.data(), bf.data(), {1, 2, 3});
  CHECK(y1 == std::vector<float>{1.5f, 1, 5});
  dc::cpu::linear_backward(dx1.data(), GradMode::Overwrite, dw1.data(), GradMode::Overwrite, db1.data(),
                           GradMode::Overwrite, dyf.data(), xf.data(), wf.data(), {1, 2, 3});
  CHECK(dx1 == std::vector<float>{4, 5});
  CHECK(dw1 == std::vector<float>{1, 2, 2, 4, 3, 6});
  CHECK(db1 == std::vector<float>{1, 2, 3});
}

TEST_CASE("linear reference: finite-difference gradients (double)") {
  const LinearShape shapes[] = {{1, 3, 4}, {4, 7, 5}, {3, 1, 1}, {1, 1, 6}, {5, 6, 2}};
  uint64_t seed = 10;
  for (const LinearShape s : shapes)
    for (bool bias : {true, false}) {
      INFO(describe(s) << " bias=" << bias);
      auto x = random_vector<double>(static_cast<size_t>(s.N) * s.IN, seed++);
      auto w = random_vector<double>(static_cast<size_t>(s.OUT) * s.IN, seed++);
      auto b = random_vector<double>(static_cast<size_t>(s.OUT), seed++);
      const auto r = random_vector<double>(static_cast<size_t>(s.N) * s.OUT, seed++);
      std::vector<double> y(r.size());
      auto f = [&] {
        dc::cpu::linear_forward_reference(y.data(), x.data(), w.data(), bias ? b.data() : nullptr, s);
        return dot(y, r);
      };
      std::vector<double> dx(x.size()), dw(w.size()), db(b.size());
      dc::cpu::linear_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite,
                                         bias ? db.data() : nullptr, GradMode::Overwrite, r.data(), x.data(), w.data(), s);
      expect_close(dx, numeric_gradient(x, f), 1e-8, 1e-7, "dx");
      expect_close(dw, numeric_gradient(w, f), 1e-8, 1e-7, "dw");
      if (bias) expect_close(db, numeric_gradient(b, f), 1e-8, 1e-7, "db");
    }
}

TEST_CASE("linear reference: Accumulate adds onto existing values, Overwrite replaces them") {
  const LinearShape s{3, 4, 5};
  const auto x = random_vector<double>(12, 1), w = random_vector<double>(20, 2), dy = random_vector<double>(15, 3);
  std::vector<double> dx0(12), dw0(20), db0(5);
  dc::cpu::linear_backward_reference(dx0.data(), GradMode::Overwrite, dw0.data(), GradMode::Overwrite, db0.data(),
                                     GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  const auto ex = random_vector<double>(12, 4), ew = random_vector<double>(20, 5), eb = random_vector<double>(5, 6);
  auto dx = ex, dw = ew, db = eb;
  dc::cpu::linear_backward_reference(dx.data(), GradMode::Accumulate, dw.data(), GradMode::Accumulate, db.data(),
                                     GradMode::Accumulate, dy.data(), x.data(), w.data(), s);
  for (size_t i = 0; i < 12; ++i) CHECK(dx[i] == doctest::Approx(ex[i] + dx0[i]).epsilon(1e-14));
  for (size_t i = 0; i < 20; ++i) CHECK(dw[i] == doctest::Approx(ew[i] + dw0[i]).epsilon(1e-14));
  for (size_t i = 0; i < 5; ++i) CHECK(db[i] == doctest::Approx(eb[i] + db0[i]).epsilon(1e-14));
  // Overwrite ignores whatever was in the buffers (even NaN), mixed modes per buffer.
  dx.assign(12, NAN);
  dw = ew;
  dc::cpu::linear_backward_reference(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Accumulate, static_cast<double*>(nullptr),
                                     GradMode::Overwrite, dy.data(), x.data(), w.data(), s);
  CHECK(dx == dx0);
  for (size_t i = 0; i < 20; ++i) CHECK(dw[i] == doctest::Approx(ew[i] + dw0[i]).epsilon(1e-14));
}

TEST_CASE("linear fast kernels vs reference: batch sizes and DeepChrome sizes") {
  const int batches[] = {1, 2, 7, 64};
  const int dims[][2] = {{900, 625}, {625, 125}, {125, 2}, {3, 5}, {1, 1}, {130, 70}};
  uint64_t seed = 100;
  for (int N : batches)
    for (const auto& dm : dims) {
      const LinearShape s{N, dm[0], dm[1]};
      const LinearData d = make_data(s, seed += 4);
      const Grads ref = reference_grads(d, s);
      for (bool bias : {true, false}) {
        INFO(describe(s) << " bias=" << bias);
        std::vector<float> y(static_cast<size_t>(N) * s.OUT, NAN);
        dc::cpu::linear_forward(y.data(), d.x.data(), d.w.data(), bias ? d.b.data() : nullptr, s);
        expect_close(y, reference_forward(d, s, bias), kTol, kTol, "y");
      }
      INFO(describe(s));
      // Overwrite over NaN garbage: nothing may be read from the gradient buffers.
      std::vector<float> dx(d.x.size(), NAN), dw(d.w.size(), NAN), db(d.b.size(), NAN);
      dc::cpu::linear_backward(dx.data(), GradMode::Overwrite, dw.data(), GradMode::Overwrite, db.data(),
                               GradMode::Overwrite, d.dy.data(), d.x.data(), d.w.data(), s);
      expect_close(dx, ref.dx, kTol, kTol, "dx");
      expect_close(dw, ref.dw, kTol, kTol, "dw");
      expect_close(db, ref.db, kTol, kTol, "db");
    }
}

TEST_CASE("linear fast backward: Accumulate mode adds onto existing gradients") {
  for (int N : {1, 64}) {
    const LinearShape s{N, 900, 625};
    INFO(describe(s));
    const LinearData d = make_data(s, 300 + N);
    const Grads ref = reference_grads(d, s);
    const auto ex = random_vector<float>(d.x.size(), 7), ew = random_vector<float>(d.w.size(), 8),
               eb = random_vector<float>(d.b.size(), 9);
    auto dx = ex, dw = ew, db = eb;
    dc::cpu::linear_backward(dx.data(), GradMode::Accumulate, dw.data(), GradMode::Accumulate, db.data(),
                             GradMode::Accumulate, d.dy.data(), d.x.data(), d.w.data(), s);
    auto plus = [](const std::vector<double>& a, const std::vector<float>& b) {
      std::vector<double> out(a.size());
      for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
      return out;
    };
    expect_close(dx, plus(ref.dx, ex), kTol, kTol, "dx");
    expect_close(dw, plus(ref.dw, ew), kTol, kTol, "dw");
    expect_close(db, plus(ref.db, eb), kTol, kTol, "db");
  }
}

TEST_CASE("linear fast backward: null gradient pointers skip exactly that gradient") {
  for (int N : {1, 64}) {
    const LinearShape s{N, 125, 37};
    const LinearData d = make_data(s, 400 + N);
    const Grads ref = reference_grads(d, s);
    for (int mask = 0; mask < 8; ++mask) {
      INFO(describe(s) << " mask=" << mask);
      const bool want_dx = mask & 1, want_dw = mask & 2, want_db = mask & 4;
      std::vector<float> dx(d.x.size(), NAN), dw(d.w.size(), NAN), db(d.b.size(), NAN);
      dc::cpu::linear_backward(want_dx ? dx.data() : nullptr, GradMode::Overwrite, want_dw ? dw.data() : nullptr,
                               GradMode::Overwrite, want_db ? db.data() : nullptr, GradMode::Overwrite, d.dy.data(),
                               d.x.data(), d.w.data(), s);
      if (want_dx) expect_close(dx, ref.dx, kTol, kTol, "dx");
      if (want_dw) expect_close(dw, ref.dw, kTol, kTol, "dw");
      if (want_db) expect_close(db, ref.db, kTol, kTol, "db");
    }
  }
}

TEST_CASE("linear fast kernels: bit-identical for 1 and 2 threads") {
  for (int N : {1, 64}) {
    const LinearShape s{N, 900, 625};
    INFO(describe(s));
    const LinearData d = make_data(s, 500 + N);
    struct Out {
      std::vector<float> y, dx, dw, db;
    };
    auto run = [&](int threads) {
      ThreadCount tc(threads);
      Out o{std::vector<float>(static_cast<size_t>(N) * s.OUT), std::vector<float>(d.x.size()),
            std::vector<float>(d.w.size()), std::vector<float>(d.b.size())};
      dc::cpu::linear_forward(o.y.data(), d.x.data(), d.w.data(), d.b.data(), s);
      dc::cpu::linear_backward(o.dx.data(), GradMode::Overwrite, o.dw.data(), GradMode::Overwrite, o.db.data(),
                               GradMode::Overwrite, d.dy.data(), d.x.data(), d.w.data(), s);
      return o;
    };
    const Out a = run(1), b = run(2);
    CHECK(bit_identical(a.y, b.y));
    CHECK(bit_identical(a.dx, b.dx));
    CHECK(bit_identical(a.dw, b.dw));
    CHECK(bit_identical(a.db, b.db));
  }
}
