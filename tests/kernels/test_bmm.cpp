// Batched matmul kernels on hand-computed values: every transpose combination of the same
// product, batch entries kept apart, and one buffer for both gradients (x x^T). Finite
// differences, model sizes, accumulation, null gradients and thread counts: the op table
// (tests/engine/test_op_table.cpp).
#include <vector>

#include "kernels/contract/bmm.h"
#include "test_util.h"

using dc::GradMode;
using dc::GradOut;
using dc::kernels::BmmShape;
using dc::kernels::Trans;
namespace k = dc::kernels;
using namespace dc::test;

TEST_CASE("bmm: one product stored four ways, hand-computed forward and gradients") {
  // op(a) = [[1, 2, 3], [4, 5, 6]] (M 2, K 3), op(b) = [[1, 0], [0, 1], [1, 1]] (K 3, N 2)
  //   y = [[1 + 3, 2 + 3], [4 + 6, 5 + 6]] = [[4, 5], [10, 11]]
  // dy = [[1, 2], [0, -1]]:
  //   d op(a) = dy op(b)^T = [[1, 2, 3], [0, -1, -1]];  d op(b) = op(a)^T dy = [[1, -2], [2, -1], [3, 0]]
  // Batch entry 1 is entry 0 with a doubled: y and db double, da stays.
  const std::vector<float> a_n = {1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12};  // (2, 2, 3)
  const std::vector<float> a_t = {1, 4, 2, 5, 3, 6, 2, 8, 4, 10, 6, 12};  // (2, 3, 2), op(a) = a^T
  const std::vector<float> b_n = {1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1};    // (2, 3, 2)
  const std::vector<float> b_t = {1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1};    // (2, 2, 3), op(b) = b^T
  const std::vector<float> dy = {1, 2, 0, -1, 1, 2, 0, -1};
  const std::vector<float> y_want = {4, 5, 10, 11, 8, 10, 20, 22};
  const std::vector<float> da_n = {1, 2, 3, 0, -1, -1, 1, 2, 3, 0, -1, -1}, da_t = {1, 0, 2, -1, 3, -1, 1, 0, 2, -1, 3, -1};
  const std::vector<float> db_n = {1, -2, 2, -1, 3, 0, 2, -4, 4, -2, 6, 0}, db_t = {1, 2, 3, -2, -1, 0, 2, 4, 6, -4, -2, 0};
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const BmmShape s{2, 2, 2, 3, ta ? Trans::Yes : Trans::No, tb ? Trans::Yes : Trans::No};
      const std::vector<float>& a = ta ? a_t : a_n;
      const std::vector<float>& b = tb ? b_t : b_n;
      // The reference in double and the fast kernel in float: small integers, exact in both.
      std::vector<double> yd(8), dad(12), dbd(12);
      const auto ad = convert<double>(a), bd = convert<double>(b), dyd = convert<double>(dy);
      k::bmm_forward_reference(yd.data(), ad.data(), bd.data(), s);
      CHECK(yd == convert<double>(y_want));
      k::bmm_backward_reference(out(dad), out(dbd), dyd.data(), ad.data(), bd.data(), s);
      CHECK(dad == convert<double>(ta ? da_t : da_n));
      CHECK(dbd == convert<double>(tb ? db_t : db_n));

      std::vector<float> y(8, NAN), da(12, NAN), db(12, NAN);
      k::cpu::bmm_forward(y.data(), a.data(), b.data(), s);
      CHECK(y == y_want);
      k::cpu::bmm_backward(out(da), out(db), dy.data(), a.data(), b.data(), s);
      CHECK(da == (ta ? da_t : da_n));
      CHECK(db == (tb ? db_t : db_n));
      // A null gradient is skipped; Accumulate adds onto what is there.
      std::vector<float> db2 = db;
      k::cpu::bmm_backward(GradOut<float>{}, acc(db2), dy.data(), a.data(), b.data(), s);
      for (size_t i = 0; i < db.size(); ++i) CHECK(db2[i] == 2 * db[i]);
    }
}

TEST_CASE("bmm: x x^T with both gradients in one buffer") {
  // x = [[1, 2], [3, 4]]: y = x x^T = [[5, 11], [11, 25]]. dy = [[1, 0], [0, 0]]:
  // da = dy x = [[1, 2], [0, 0]], db = dy^T x = [[1, 2], [0, 0]]; one buffer (Overwrite, then
  // Accumulate, as the engine passes them for bmm(x, x)) holds their sum.
  const std::vector<float> x = {1, 2, 3, 4}, dy = {1, 0, 0, 0};
  const BmmShape s{1, 2, 2, 2, Trans::No, Trans::Yes};
  std::vector<float> y(4), g(4, NAN);
  k::cpu::bmm_forward(y.data(), x.data(), x.data(), s);
  CHECK(y == std::vector<float>{5, 11, 11, 25});
  k::cpu::bmm_backward(out(g), acc(g), dy.data(), x.data(), x.data(), s);
  CHECK(g == std::vector<float>{2, 4, 0, 0});
}

TEST_CASE("bmm: the GEMM descriptors name the right shapes and leading dimensions") {
  // a (B 3, M 4, K 5) stored transposed (3, 5, 4); b (K 5, N 6) stored (3, 5, 6).
  const BmmShape s{3, 4, 6, 5, Trans::Yes, Trans::No};
  const k::BatchedGemm f = k::bmm_forward_gemm(s);
  CHECK(f.M == 4);
  CHECK(f.N == 6);
  CHECK(f.K == 5);
  CHECK(f.lda == 4);  // a's stored rows have M entries
  CHECK(f.ldb == 6);
  CHECK(f.stride_a == 20);
  CHECK(f.stride_c == 24);
  // da is stored (K, M) = op(b) dy^T: a (5 x 4) product over N.
  const k::BmmProduct ga = k::bmm_grad_a_gemm(s);
  CHECK_FALSE(ga.dy_is_a);
  CHECK(ga.gemm.M == 5);
  CHECK(ga.gemm.N == 4);
  CHECK(ga.gemm.K == 6);
  CHECK(ga.gemm.ldc == 4);
  // db is stored (K, N) = op(a)^T dy = a dy (a stored (K, M)): a (5 x 6) product over M.
  const k::BmmProduct gb = k::bmm_grad_b_gemm(s);
  CHECK_FALSE(gb.dy_is_a);
  CHECK(gb.gemm.ta == Trans::No);
  CHECK(gb.gemm.M == 5);
  CHECK(gb.gemm.N == 6);
  CHECK(gb.gemm.K == 4);
}
