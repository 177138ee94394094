// Conv1d kernels on hand-computed values: the reference and the fast im2col + GEMM float
// kernels. Finite differences, the model sizes, accumulation, null gradients and thread
// counts: the op table (tests/engine/test_op_table.cpp).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/contract/conv1d.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;

using k::Conv1dShape;
using namespace dc::test;

TEST_CASE("conv1d reference: hand-computed 1x3 kernel on a length-5 input") {
  // x = [1, 2, 3, 4, 5], w = [1, 2, -1], b = 0.5
  const std::vector<double> x = {1, 2, 3, 4, 5}, w = {1, 2, -1}, b = {0.5};
  SUBCASE("stride 1, no padding") {
    // y[l] = x[l] + 2 x[l+1] - x[l+2] + 0.5: [1+4-3, 2+6-4, 3+8-5] + 0.5 = [2.5, 4.5, 6.5]
    const Conv1dShape s{1, 1, 5, 1, 3, 1, 0};
    REQUIRE(s.LOUT() == 3);
    std::vector<double> y(3);
    k::conv1d_forward_reference(y.data(), x.data(), w.data(), b.data(), s);
    CHECK(y == std::vector<double>{2.5, 4.5, 6.5});
    // dy = [1, 2, 3]
    // dx[p] = sum_{l + k = p} w[k] dy[l]:
    //   p0: w0 dy0 = 1; p1: w0 dy1 + w1 dy0 = 2 + 2 = 4; p2: w0 dy2 + w1 dy1 + w2 dy0 = 3 + 4 - 1 = 6
    //   p3: w1 dy2 + w2 dy1 = 6 - 2 = 4; p4: w2 dy2 = -3
    // dw[k] = sum_l dy[l] x[l + k]: k0: 1 + 4 + 9 = 14; k1: 2 + 6 + 12 = 20; k2: 3 + 8 + 15 = 26
    // db = 1 + 2 + 3 = 6
    const std::vector<double> dy = {1, 2, 3};
    std::vector<double> dx(5), dw(3), db(1);
    k::conv1d_backward_reference(out(dx), out(dw), out(db), dy.data(), x.data(), w.data(), s);
    CHECK(dx == std::vector<double>{1, 4, 6, 4, -3});
    CHECK(dw == std::vector<double>{14, 20, 26});
    CHECK(db == std::vector<double>{6});
    // The fast kernel on the same numbers (all exact in float).
    std::vector<float> yf(3), col(static_cast<size_t>(k::conv1d_col_size(s)));
    const auto xf = convert<float>(x), wf = convert<float>(w), bf = convert<float>(b), dyf = convert<float>(dy);
    k::cpu::conv1d_forward(yf.data(), col.data(), xf.data(), wf.data(), bf.data(), s);
    CHECK(yf == std::vector<float>{2.5f, 4.5f, 6.5f});
    std::vector<float> dxf(5), dwf(3), dbf(1);
    k::cpu::conv1d_backward(out(dxf), out(dwf), out(dbf), dyf.data(), col.data(), wf.data(), s);
    CHECK(dxf == std::vector<float>{1, 4, 6, 4, -3});
    CHECK(dwf == std::vector<float>{14, 20, 26});
    CHECK(dbf == std::vector<float>{6});
  }
  SUBCASE("padding 1, stride 1 and 2") {
    // Padded input [0, 1, 2, 3, 4, 5, 0]; y[l] = xp[l] + 2 xp[l+1] - xp[l+2] + 0.5:
    //   l0: 0 + 2 - 2 = 0; l1: 1 + 4 - 3 = 2; l2: 2 + 6 - 4 = 4; l3: 3 + 8 - 5 = 6; l4: 4 + 10 - 0 = 14
    std::vector<double> y(5);
    k::conv1d_forward_reference(y.data(), x.data(), w.data(), b.data(), {1, 1, 5, 1, 3, 1, 1});
    CHECK(y == std::vector<double>{0.5, 2.5, 4.5, 6.5, 14.5});
    // Stride 2 keeps l = 0, 2, 4: LOUT = (5 + 2 - 3) / 2 + 1 = 3.
    const Conv1dShape s2{1, 1, 5, 1, 3, 2, 1};
    REQUIRE(s2.LOUT() == 3);
    std::vector<double> y2(3);
    k::conv1d_forward_reference(y2.data(), x.data(), w.data(), b.data(), s2);
    CHECK(y2 == std::vector<double>{0.5, 4.5, 14.5});
    // Backward with dy = [1, 1, 1]: output l reads x[2l + k - 1] for k = 0, 1, 2.
    //   dx[p] = sum of w[k] over the (l, k) with 2l + k - 1 = p:
    //   p0: (l0,k1) = 2; p1: (l0,k2) + (l1,k0) = -1 + 1 = 0; p2: (l1,k1) = 2;
    //   p3: (l1,k2) + (l2,k0) = -1 + 1 = 0; p4: (l2,k1) = 2
    //   dw[k] = sum_l x[2l + k - 1]: k0: 0 + 2 + 4 = 6; k1: 1 + 3 + 5 = 9; k2: 2 + 4 + 0 = 6
    const std::vector<double> dy = {1, 1, 1};
    std::vector<double> dx(5), dw(3), db(1);
    k::conv1d_backward_reference(out(dx), out(dw), out(db), dy.data(), x.data(), w.data(), s2);
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
    k::conv1d_forward_reference(y.data(), x2.data(), w2.data(), static_cast<const double*>(nullptr),
                                      {1, 2, 5, 2, 2, 1, 0});
    CHECK(y == std::vector<double>{3, 5, 7, 9, 1, -1, 1, -1});
  }
}

TEST_CASE("conv1d reference: an input position no window reaches gets zero gradient") {
  // L = 10, K = 3, stride 2, no padding: windows cover positions 0..8, never 9.
  const Conv1dShape s{1, 2, 10, 2, 3, 2, 0};
  const auto x = random_vector<double>(20, 1), w = random_vector<double>(2 * 2 * 3, 2), dy = random_vector<double>(2 * 4, 3);
  std::vector<double> dx(x.size(), 7.0);
  k::conv1d_backward_reference(out(dx), GradOut<double>{},
                                     GradOut<double>{}, dy.data(), x.data(), w.data(), s);
  CHECK(dx[9] == 0.0);
  CHECK(dx[19] == 0.0);
  CHECK(dx[8] != 0.0);
}


TEST_CASE("conv1d CPU: the direct GEMM's wide and narrow register blocks give the same bits") {
  // DeepChrome's layer at batch 1 and 64 (the forward by row blocks at 1, by panels of
  // columns at 64; the weight gradient's 50 columns padded to 64, the bias gradient in column
  // 50) and three odd shapes (the last: panels, the last one ending in a 15-column tail); the narrow
  // blocks are the AVX2 machines' path, the wide ones AVX-512's (where this CPU has none,
  // both runs are narrow). The bias gradient alone (no dw: its own loop) has the same bits
  // as the one the weight gradient's ones column gives.
  for (const Conv1dShape s : {Conv1dShape{1, 5, 100, 50, 10, 1, 0}, Conv1dShape{64, 5, 100, 50, 10, 1, 0},
                              Conv1dShape{3, 7, 40, 70, 3, 1, 1}, Conv1dShape{2, 3, 30, 17, 5, 2, 2},
                              Conv1dShape{13, 3, 30, 5, 4, 1, 0}}) {
    CAPTURE(s.N);
    CAPTURE(s.COUT);
    const int CK = s.CIN * s.K, LOUT = s.LOUT();
    const std::vector<float> x = random_vector<float>(static_cast<size_t>(s.N) * s.CIN * s.L, 1, -1.0, 1.0),
                             w = random_vector<float>(static_cast<size_t>(s.COUT) * CK, 2, -1.0, 1.0),
                             b = random_vector<float>(static_cast<size_t>(s.COUT), 3, -1.0, 1.0),
                             dy = random_vector<float>(static_cast<size_t>(s.N) * s.COUT * LOUT, 4, -1.0, 1.0);
    struct Out {
      std::vector<float> y, dw, db;
    };
    auto run = [&](bool wide) {
      k::cpu::conv1d_allow_wide_blocks(wide);
      Out o{std::vector<float>(dy.size()), std::vector<float>(w.size()), std::vector<float>(b.size())};
      std::vector<float> col(static_cast<size_t>(k::conv1d_col_size(s)));
      k::cpu::conv1d_forward(o.y.data(), col.data(), x.data(), w.data(), b.data(), s);
      k::cpu::conv1d_backward(GradOut<float>{}, GradOut<float>{o.dw.data(), GradMode::Overwrite},
                              GradOut<float>{o.db.data(), GradMode::Overwrite}, dy.data(), col.data(), w.data(), s);
      k::cpu::conv1d_allow_wide_blocks(true);
      return o;
    };
    const Out wide = run(true), narrow = run(false);
    CHECK(bit_identical(wide.y, narrow.y));
    CHECK(bit_identical(wide.dw, narrow.dw));
    CHECK(bit_identical(wide.db, narrow.db));
    std::vector<float> db_alone(b.size(), 7.0f);
    {
      std::vector<float> col(static_cast<size_t>(k::conv1d_col_size(s)));
      std::vector<float> y(dy.size());
      k::cpu::conv1d_forward(y.data(), col.data(), x.data(), w.data(), b.data(), s);
      k::cpu::conv1d_backward(GradOut<float>{}, GradOut<float>{}, GradOut<float>{db_alone.data(), GradMode::Overwrite},
                              dy.data(), col.data(), w.data(), s);
    }
    CHECK(bit_identical(wide.db, db_alone));
    // And both near the double reference (the weight gradient's long sums included).
    std::vector<double> dw_ref(w.size()), db_ref(b.size());
    const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), dyd(dy.begin(), dy.end());
    k::conv1d_backward_reference(GradOut<double>{}, GradOut<double>{dw_ref.data(), GradMode::Overwrite},
                                 GradOut<double>{db_ref.data(), GradMode::Overwrite}, dyd.data(), xd.data(), wd.data(), s);
    for (size_t i = 0; i < dw_ref.size(); ++i) REQUIRE(std::fabs(wide.dw[i] - dw_ref[i]) < 1e-4 * (1 + std::fabs(dw_ref[i])) * std::sqrt(s.N * LOUT));
    for (size_t i = 0; i < db_ref.size(); ++i) REQUIRE(std::fabs(wide.db[i] - db_ref[i]) < 1e-4 * (1 + std::fabs(db_ref[i])) * std::sqrt(s.N * LOUT));
    std::vector<double> y_ref(dy.size());
    const std::vector<double> bd(b.begin(), b.end());
    k::conv1d_forward_reference(y_ref.data(), xd.data(), wd.data(), bd.data(), s);
    for (size_t i = 0; i < y_ref.size(); ++i) REQUIRE(std::fabs(wide.y[i] - y_ref[i]) < 1e-5 * (1 + std::fabs(y_ref[i])) * std::sqrt(CK));
    // The same bits on one thread as on the team (panels or rows split across it).
    {
      ThreadCount one(1);
      std::vector<float> y1(dy.size()), col(static_cast<size_t>(k::conv1d_col_size(s)));
      k::cpu::conv1d_forward(y1.data(), col.data(), x.data(), w.data(), b.data(), s);
      CHECK(bit_identical(wide.y, y1));
    }
  }
}
