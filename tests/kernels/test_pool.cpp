// Max-pooling kernels: hand-computed windows and argmax, torch tie and NaN semantics,
// finite-difference gradients in double (inputs without ties), GradMode semantics.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/contract/pool.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;

using k::Pool1dShape;
using namespace dc::test;

namespace {

// The reference; for float also the CPU kernel, which must agree with it bit for bit.
template <class T>
void forward(std::vector<T>& y, std::vector<int32_t>& argmax, const std::vector<T>& x, Pool1dShape s) {
  y.assign(static_cast<size_t>(s.R) * s.LOUT(), T(-999));
  argmax.assign(y.size(), -1);
  k::maxpool1d_forward_reference(y.data(), argmax.data(), x.data(), s);
  if constexpr (std::is_same_v<T, float>) {
    std::vector<float> yf(y.size(), -999.0f);
    std::vector<int32_t> af(y.size(), -1);
    k::cpu::maxpool1d_forward(yf.data(), af.data(), x.data(), s);
    CHECK(bit_identical(yf, y));
    CHECK(af == argmax);
  }
}

}  // namespace

TEST_CASE("max-pool: hand-computed windows, argmax and backward") {
  const std::vector<double> x = {1, 3, 2, 5, 4};
  std::vector<double> y;
  std::vector<int32_t> am;
  SUBCASE("K=2, stride 2 (position 4 is in no window)") {
    // windows [1, 3] -> 3 at 1; [2, 5] -> 5 at 3
    const Pool1dShape s{1, 5, 2, 2};
    REQUIRE(s.LOUT() == 2);
    forward(y, am, x, s);
    CHECK(y == std::vector<double>{3, 5});
    CHECK(am == std::vector<int32_t>{1, 3});
    // dy = [10, 20] -> dx = [0, 10, 0, 20, 0]
    const std::vector<double> dy = {10, 20};
    std::vector<double> dx(5, -1.0);
    k::maxpool1d_backward_reference(out(dx), dy.data(), am.data(), s);
    CHECK(dx == std::vector<double>{0, 10, 0, 20, 0});
  }
  SUBCASE("K=3, stride 1: overlapping windows share a maximum") {
    // windows [1, 3, 2] -> 3 at 1; [3, 2, 5] -> 5 at 3; [2, 5, 4] -> 5 at 3
    const Pool1dShape s{1, 5, 3, 1};
    forward(y, am, x, s);
    CHECK(y == std::vector<double>{3, 5, 5});
    CHECK(am == std::vector<int32_t>{1, 3, 3});
    // dy = [1, 2, 3] -> position 3 collects 2 + 3 = 5: dx = [0, 1, 0, 5, 0]
    const std::vector<double> dy = {1, 2, 3};
    std::vector<double> dx(5, 100.0);
    k::maxpool1d_backward_reference(out(dx), dy.data(), am.data(), s);
    CHECK(dx == std::vector<double>{0, 1, 0, 5, 0});
    // Accumulate adds onto what is there: 100 + [0, 1, 0, 5, 0]
    std::vector<double> sum(5, 100.0);
    k::maxpool1d_backward_reference(acc(sum), dy.data(), am.data(), s);
    CHECK(sum == std::vector<double>{100, 101, 100, 105, 100});
    // The CPU kernel on the same numbers.
    std::vector<float> sumf(5, 100.0f);
    const std::vector<float> dyf = convert<float>(dy);
    k::cpu::maxpool1d_backward(acc(sumf), dyf.data(), am.data(), s);
    CHECK(sumf == std::vector<float>{100, 101, 100, 105, 100});
  }
  SUBCASE("several rows, argmax is the position within the row") {
    // rows [1, 3, 2, 5, 4] and [9, 8, 7, 6, 10], K=2 stride 2
    const std::vector<double> x2 = {1, 3, 2, 5, 4, 9, 8, 7, 6, 10};
    const Pool1dShape s{2, 5, 2, 2};
    forward(y, am, x2, s);
    CHECK(y == std::vector<double>{3, 5, 9, 7});
    CHECK(am == std::vector<int32_t>{1, 3, 0, 2});
  }
}

TEST_CASE("max-pool: ties go to the first maximum (torch semantics)") {
  // x = [2, 2, 1, 2, 2, 2], K=2 stride 1: windows (0,1) -> 0; (1,2) -> 1; (2,3) -> 3; (3,4) -> 3; (4,5) -> 4
  const std::vector<float> x = {2, 2, 1, 2, 2, 2};
  std::vector<float> y;
  std::vector<int32_t> am;
  forward(y, am, x, {1, 6, 2, 1});
  CHECK(y == std::vector<float>{2, 2, 2, 2, 2});
  CHECK(am == std::vector<int32_t>{0, 1, 3, 3, 4});
  // A whole window of equal values: first position, and the gradient goes only there.
  const std::vector<float> c = {7, 7, 7, 7};
  forward(y, am, c, {1, 4, 4, 1});
  CHECK(am == std::vector<int32_t>{0});
  std::vector<float> dx(4);
  const float dy = 1.5f;
  k::cpu::maxpool1d_backward(out(dx), &dy, am.data(), {1, 4, 4, 1});
  CHECK(dx == std::vector<float>{1.5f, 0, 0, 0});
  // -0 and +0 compare equal: the first one wins and its sign is kept.
  const std::vector<float> z = {-0.0f, 0.0f};
  forward(y, am, z, {1, 2, 2, 2});
  CHECK(am[0] == 0);
  CHECK(std::signbit(y[0]));
}

TEST_CASE("max-pool: NaN propagates") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y;
  std::vector<int32_t> am;
  // NaN in the middle of a window with larger values after it.
  forward(y, am, std::vector<float>{1, nan, 3, 2}, {1, 4, 4, 1});
  CHECK(std::isnan(y[0]));
  CHECK(am[0] == 1);
  // NaN first.
  forward(y, am, std::vector<float>{nan, 5, 6}, {1, 3, 3, 1});
  CHECK(std::isnan(y[0]));
  CHECK(am[0] == 0);
  // NaN last.
  forward(y, am, std::vector<float>{4, 5, nan}, {1, 3, 3, 1});
  CHECK(std::isnan(y[0]));
  CHECK(am[0] == 2);
  // Only the windows containing the NaN are NaN: [0, nan, 2, 3], K=2 stride 1 -> [nan, nan, 3]
  const std::vector<float> x = {0, nan, 2, 3};
  forward(y, am, x, {1, 4, 2, 1});
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(y[1]));
  CHECK(y[2] == 3.0f);
  CHECK(am == std::vector<int32_t>{1, 1, 3});
  // Several NaNs in one window: the result is NaN and the argmax points at one of them.
  const std::vector<float> two = {1, nan, 9, nan};
  forward(y, am, two, {1, 4, 4, 1});
  CHECK(std::isnan(y[0]));
  CHECK(std::isnan(two[static_cast<size_t>(am[0])]));
}

