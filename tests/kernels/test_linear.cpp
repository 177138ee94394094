// Linear layer kernels on hand-computed values: the reference and the fast float kernels
// (GEMM path for a batch, gemv / rank-1 path for one example). Finite differences, the
// model sizes, accumulation, null gradients and thread counts: the op table
// (tests/engine/test_op_table.cpp).
#include <vector>

#include "kernels/contract/linear.h"
#include "test_util.h"

using dc::GradMode;
using dc::GradOut;
using dc::kernels::LinearShape;
namespace k = dc::kernels;
using namespace dc::test;

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
  k::linear_forward_reference(y.data(), x.data(), w.data(), b.data(), s);
  CHECK(y == std::vector<double>{1.5, 1, 5, 3.5, -2, 4});
  k::linear_backward_reference(out(dx), out(dw), out(db), dy.data(), x.data(), w.data(), s);
  CHECK(dx == std::vector<double>{4, 5, -1, 0});
  CHECK(dw == std::vector<double>{1, 2, 5, 3, 0, 7});
  CHECK(db == std::vector<double>{1, 3, 2});

  // The fast float kernels on the same numbers: the batch of two (GEMM path) and the first
  // row alone (gemv / rank-1 path). All values are small integers or halves: exact.
  const auto xf = convert<float>(x), wf = convert<float>(w), bf = convert<float>(b), dyf = convert<float>(dy);
  std::vector<float> yf(6), dxf(4), dwf(6), dbf(3);
  k::cpu::linear_forward(yf.data(), xf.data(), wf.data(), bf.data(), s);
  CHECK(yf == std::vector<float>{1.5f, 1, 5, 3.5f, -2, 4});
  k::cpu::linear_backward(out(dxf), out(dwf), out(dbf), dyf.data(), xf.data(), wf.data(), s);
  CHECK(dxf == std::vector<float>{4, 5, -1, 0});
  CHECK(dwf == std::vector<float>{1, 2, 5, 3, 0, 7});
  CHECK(dbf == std::vector<float>{1, 3, 2});
  // N = 1 (row 0): dw = dy0^T x0 = [[1, 2], [2, 4], [3, 6]], dx = [4, 5], db = [1, 2, 3]
  std::vector<float> y1(3), dx1(2), dw1(6), db1(3);
  k::cpu::linear_forward(y1.data(), xf.data(), wf.data(), bf.data(), {1, 2, 3});
  CHECK(y1 == std::vector<float>{1.5f, 1, 5});
  k::cpu::linear_backward(out(dx1), out(dw1), out(db1), dyf.data(), xf.data(), wf.data(), {1, 2, 3});
  CHECK(dx1 == std::vector<float>{4, 5});
  CHECK(dw1 == std::vector<float>{1, 2, 2, 4, 3, 6});
  CHECK(db1 == std::vector<float>{1, 2, 3});
}






