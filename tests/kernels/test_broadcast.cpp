// Broadcasting add / mul: the merged view the kernels see (shapes, strides, incompatible
// shapes), and hand-computed forward values and gradients (sums over the broadcast
// dimensions) through both of the CPU's gradient paths: the operand read along the innermost
// dimension (a bias) and broadcast along it (a per-row scale). Finite differences, model
// sizes, accumulation, null gradients and thread counts: the op table
// (tests/engine/test_op_table.cpp).
#include <vector>

#include "kernels/contract/broadcast.h"
#include "test_util.h"

using dc::GradMode;
using dc::GradOut;
using dc::kernels::Binary;
using dc::kernels::BroadcastShape;
namespace k = dc::kernels;
using namespace dc::test;
using Dims = std::vector<int64_t>;

namespace {
Dims sizes(const BroadcastShape& s) { return Dims(s.size, s.size + s.rank); }
Dims strides_a(const BroadcastShape& s) { return Dims(s.stride_a, s.stride_a + s.rank); }
Dims strides_b(const BroadcastShape& s) { return Dims(s.stride_b, s.stride_b + s.rank); }
}  // namespace

TEST_CASE("broadcast: output shapes, merged dimensions and strides") {
  CHECK(k::broadcast_result({16, 100, 64}, {100, 64}).shape == Dims{16, 100, 64});
  CHECK(k::broadcast_result({3, 1}, {1, 4}).shape == Dims{3, 4});
  CHECK(k::broadcast_result({4, 3}, {2, 1, 3}).shape == Dims{2, 4, 3});
  CHECK(k::broadcast_result({2, 3}, {}).shape == Dims{2, 3});
  const k::BroadcastResult bad = k::broadcast_result({2, 3}, {3, 2});
  CHECK_FALSE(bad.ok);
  CHECK(bad.bad_dim_from_right == 1);
  CHECK(k::broadcast_result({5, 2, 3}, {4, 3}).bad_dim_from_right == 2);

  // (16, 100, 64) + (100, 64): 16 x 6400, b broadcast along the 16.
  BroadcastShape s = k::broadcast_view({16, 100, 64}, {100, 64});
  CHECK(sizes(s) == Dims{16, 6400});
  CHECK(strides_a(s) == Dims{6400, 1});
  CHECK(strides_b(s) == Dims{0, 1});
  // (16, 4, 100, 100) + (16, 1, 1, 100): the heads and queries merge into one broadcast 400.
  s = k::broadcast_view({16, 4, 100, 100}, {16, 1, 1, 100});
  CHECK(sizes(s) == Dims{16, 400, 100});
  CHECK(strides_a(s) == Dims{40000, 100, 1});
  CHECK(strides_b(s) == Dims{100, 0, 1});
  // Both sides broadcast: (3, 1) + (1, 4).
  s = k::broadcast_view({3, 1}, {1, 4});
  CHECK(sizes(s) == Dims{3, 4});
  CHECK(strides_a(s) == Dims{1, 0});
  CHECK(strides_b(s) == Dims{0, 1});
  // A scalar, and a one-element output (no dimensions left).
  s = k::broadcast_view({2, 3}, {});
  CHECK(sizes(s) == Dims{6});
  CHECK(strides_b(s) == Dims{0});
  CHECK(k::broadcast_view({1, 1}, {1}).rank == 0);
  // Output element (1, 2, 3) of (2, 3, 4) + (3, 1): a at 1*12 + 2*4 + 3 = 23, b at 2.
  s = k::broadcast_view({2, 3, 4}, {3, 1});
  int64_t ia = -1, ib = -1;
  s.offsets(23, &ia, &ib);
  CHECK(ia == 23);
  CHECK(ib == 2);
}

TEST_CASE("broadcast add / mul: hand-computed values and gradient sums") {
  // a = [[1, 2, 3], [4, 5, 6]]
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  {  // + bias [10, 20, 30]: rows + bias; dbias = the column sums of dy (the "rows" path)
    const std::vector<float> bias = {10, 20, 30}, dy = {1, 2, 3, 4, 5, 6};
    const BroadcastShape s = k::broadcast_view({2, 3}, {3});
    std::vector<float> y(6), da(6, NAN), db(3, NAN);
    k::cpu::broadcast_forward(y.data(), a.data(), bias.data(), s, Binary::Add);
    CHECK(y == std::vector<float>{11, 22, 33, 14, 25, 36});
    k::cpu::broadcast_backward(out(da), out(db), dy.data(), a.data(), bias.data(), s, Binary::Add);
    CHECK(da == dy);
    CHECK(db == std::vector<float>{5, 7, 9});
    k::cpu::broadcast_backward(GradOut<float>{}, acc(db), dy.data(), a.data(), bias.data(), s, Binary::Add);
    CHECK(db == std::vector<float>{10, 14, 18});
  }
  {  // * per-row scale [[2], [3]]: dscale = the row sums of dy a (the "runs" path)
    const std::vector<float> scale = {2, 3}, dy = {1, 1, 1, 1, 0, -1};
    const BroadcastShape s = k::broadcast_view({2, 3}, {2, 1});
    std::vector<float> y(6), da(6), db(2);
    k::cpu::broadcast_forward(y.data(), a.data(), scale.data(), s, Binary::Mul);
    CHECK(y == std::vector<float>{2, 4, 6, 12, 15, 18});
    k::cpu::broadcast_backward(out(da), out(db), dy.data(), a.data(), scale.data(), s, Binary::Mul);
    CHECK(da == std::vector<float>{2, 2, 2, 3, 0, -3});  // dy * scale
    CHECK(db == std::vector<float>{6, 4 - 6});           // [1 + 2 + 3, 4 + 0 - 6]
    // The reference agrees (in double).
    std::vector<double> dad(6), dbd(2);
    k::broadcast_backward_reference(out(dad), out(dbd), convert<double>(dy).data(), convert<double>(a).data(),
                                    convert<double>(scale).data(), s, Binary::Mul);
    CHECK(dad == convert<double>(da));
    CHECK(dbd == convert<double>(db));
  }
  {  // (3, 1) * (1, 4): an outer product; each gradient sums over the other's axis
    const std::vector<float> u = {1, 2, 3}, v = {1, 0, -1, 2};
    const std::vector<float> dy(12, 1.0f);
    const BroadcastShape s = k::broadcast_view({3, 1}, {1, 4});
    std::vector<float> y(12), du(3), dv(4);
    k::cpu::broadcast_forward(y.data(), u.data(), v.data(), s, Binary::Mul);
    CHECK(y == std::vector<float>{1, 0, -1, 2, 2, 0, -2, 4, 3, 0, -3, 6});
    k::cpu::broadcast_backward(out(du), out(dv), dy.data(), u.data(), v.data(), s, Binary::Mul);
    CHECK(du == std::vector<float>{2, 2, 2});  // sum of v
    CHECK(dv == std::vector<float>{6, 6, 6, 6});  // sum of u
  }
  {  // + a scalar: its gradient is the sum of dy
    const std::vector<float> c = {0.5f}, dy = {1, 2, 3, 4, 5, 6};
    const BroadcastShape s = k::broadcast_view({2, 3}, {});
    std::vector<float> y(6), dc(1);
    k::cpu::broadcast_forward(y.data(), a.data(), c.data(), s, Binary::Add);
    CHECK(y == std::vector<float>{1.5f, 2.5f, 3.5f, 4.5f, 5.5f, 6.5f});
    k::cpu::broadcast_backward(GradOut<float>{}, out(dc), dy.data(), a.data(), c.data(), s, Binary::Add);
    CHECK(dc[0] == 21.0f);
  }
}
