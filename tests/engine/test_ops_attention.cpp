// The attention_pool, slice and concat ops through the engine: forward vs the double
// reference, gradients through backward() vs finite differences, shape errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "test_util.h"

using namespace dc;

namespace {

Tensor param(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = Tensor::from_vector(shape, dc::test::random_vector<float>(static_cast<size_t>(shape_numel(shape)), seed, lo, hi));
  t.set_requires_grad(true);
  return t;
}

// Central differences in float of loss() with respect to t (step 1e-2; the checks use
// loose tolerances accordingly).
std::vector<double> fd(Tensor& t, const std::function<double()>& loss) {
  std::vector<double> g(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float keep = t.data()[i];
    t.data()[i] = keep + 1e-2f;
    const double up = loss();
    t.data()[i] = keep - 1e-2f;
    const double down = loss();
    t.data()[i] = keep;
    g[static_cast<size_t>(i)] = (up - down) / 2e-2;
  }
  return g;
}

double value_of(const Tensor& y, const Tensor& w) {
  double s = 0;
  for (int64_t i = 0; i < y.numel(); ++i) s += static_cast<double>(y.data()[i]) * w.data()[i];
  return s;
}

}  // namespace

TEST_CASE("op attention_pool: gradients in h and the contexts match finite differences") {
  Tensor h = param({2, 3, 5, 4}, 1);
  std::vector<Tensor> ctx{param({4}, 2), param({4}, 3)};
  const Tensor w = Tensor::from_vector({2, 3, 4}, dc::test::random_vector<float>(24, 4));
  AttentionResult r = attention_pool(h, ctx);
  CHECK(r.pooled.shape() == Shape{2, 3, 4});
  CHECK(r.weights.shape() == Shape{2, 3, 5});
  CHECK(!r.weights.requires_grad());
  sum(mul(r.pooled, w)).backward();
  auto loss = [&] {
    NoGradGuard ng;
    return value_of(attention_pool(h, ctx).pooled, w);
  };
  const auto gh = fd(h, loss);
  dc::test::expect_close(h.grad().data(), gh.data(), gh.size(), 2e-3, 2e-2, "dh");
  for (int g = 0; g < 2; ++g) {
    const auto gc = fd(ctx[g], loss);
    dc::test::expect_close(ctx[g].grad().data(), gc.data(), gc.size(), 2e-3, 2e-2, "dcontext");
  }
}

TEST_CASE("op attention_pool: one context tensor shared by two groups accumulates both") {
  Tensor h = param({2, 2, 3, 2}, 5);
  Tensor c = param({2}, 6);
  const Tensor w = Tensor::from_vector({2, 2, 2}, dc::test::random_vector<float>(8, 7));
  sum(mul(attention_pool(h, {c, c}).pooled, w)).backward();
  auto loss = [&] {
    NoGradGuard ng;
    return value_of(attention_pool(h, {c, c}).pooled, w);
  };
  const auto gc = fd(c, loss);
  dc::test::expect_close(c.grad().data(), gc.data(), gc.size(), 2e-3, 2e-2, "shared context");
}

TEST_CASE("op slice and concat: values, gradients, composition") {
  Tensor x = param({2, 5, 3}, 8);
  Tensor a = slice(x, 1, 0, 2), b = slice(x, -2, 2, 5);
  CHECK(a.shape() == Shape{2, 2, 3});
  CHECK(b.shape() == Shape{2, 3, 3});
  Tensor joined = concat({a, b}, 1);
  CHECK(joined.to_vector() == x.to_vector());  // concat of the slices is the original
  const Tensor w = Tensor::from_vector({2, 5, 3}, dc::test::random_vector<float>(30, 9));
  sum(mul(joined, w)).backward();
  // d/dx <concat(slices), w> = w.
  dc::test::expect_close(x.grad().data(), w.data(), 30, 1e-7, 0, "slice+concat gradient");

  Tensor p = param({3, 2}, 10), q = param({3, 1}, 11);
  Tensor pq = concat({p, q}, -1);
  CHECK(pq.shape() == Shape{3, 3});
  CHECK(pq.data()[2] == q.data()[0]);
  CHECK(pq.data()[3] == p.data()[2]);
  const Tensor w2 = Tensor::from_vector({3, 3}, dc::test::random_vector<float>(9, 12));
  sum(mul(pq, w2)).backward();
  CHECK(p.grad().data()[2] == w2.data()[3]);
  CHECK(q.grad().data()[1] == w2.data()[5]);
}

TEST_CASE("attention/slice/concat shape errors quote the shapes") {
  Tensor h = Tensor::zeros({2, 3, 4, 5});
  CHECK_THROWS_WITH_AS(attention_pool(h, {Tensor::zeros({5})}), doctest::Contains("(2, 3, 4, 5)"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_pool(h, {Tensor::zeros({5}), Tensor::zeros({4})}), doctest::Contains("(4,)"), ShapeError);
  CHECK_THROWS_WITH_AS(attention_pool(Tensor::zeros({3, 4}), {}), doctest::Contains("(3, 4)"), ShapeError);
  CHECK_THROWS_WITH_AS(slice(h, 1, 2, 7), doctest::Contains("(2, 3, 4, 5)"), ShapeError);
  CHECK_THROWS_WITH_AS(slice(h, 4, 0, 1), doctest::Contains("dim 4"), ShapeError);
  CHECK_THROWS_WITH_AS(concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1), doctest::Contains("(3, 3)"), ShapeError);
  CHECK_THROWS_AS(concat({}, 0), ShapeError);
}
