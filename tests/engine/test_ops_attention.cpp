// attention_pool, slice and concat through the engine: forward values vs the double
// reference kernels, gradients through backward() (probe loss sum(y * r)), accumulation,
// what records a graph and what does not, shape errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/autograd.h"
#include "kernels/base/error.h"
#include "engine/ops.h"
#include "engine/ops_attention.h"
#include "engine_util.h"
#include "kernels/contract/attention.h"

using namespace dc;
using namespace dc::test;

namespace {

struct AttnRef {
  std::vector<double> pooled, alpha, dh, dctx;  // dctx (G, F)
};

// The double reference for h (G,B,T,F) and per-group contexts, with dL/dpooled = dp.
AttnRef attention_reference(const Tensor& h, const std::vector<Tensor>& ctx, const std::vector<double>& dp) {
  const kernels::AttentionShape s{static_cast<int>(h.size(0)), static_cast<int>(h.size(1)), static_cast<int>(h.size(2)),
                              static_cast<int>(h.size(3))};
  const auto hd = to_double(h);
  std::vector<double> cd;
  for (const Tensor& c : ctx)
    for (double v : to_double(c)) cd.push_back(v);
  std::vector<const double*> cp;
  for (int g = 0; g < s.G; ++g) cp.push_back(cd.data() + static_cast<size_t>(g) * s.F);
  AttnRef r{std::vector<double>(static_cast<size_t>(s.rows()) * s.F), std::vector<double>(static_cast<size_t>(s.rows()) * s.T),
            std::vector<double>(hd.size()), std::vector<double>(cd.size())};
  kernels::attention_forward_reference(r.pooled.data(), r.alpha.data(), hd.data(), cp.data(), s);
  if (!dp.empty()) {
    std::vector<GradOut<double>> dcp;
    for (int g = 0; g < s.G; ++g) dcp.push_back({r.dctx.data() + static_cast<size_t>(g) * s.F, GradMode::Overwrite});
    kernels::attention_backward_reference<double>({r.dh.data(), GradMode::Overwrite}, dcp.data(), dp.data(), hd.data(),
                                                  r.alpha.data(), cp.data(), s);
  }
  return r;
}

std::vector<double> group_part(const std::vector<double>& v, int g, int F) {
  return {v.begin() + static_cast<ptrdiff_t>(g) * F, v.begin() + static_cast<ptrdiff_t>(g + 1) * F};
}

}  // namespace

TEST_CASE("op attention_pool: forward and gradients vs the double reference (bin and mark level shapes)") {
  struct Case {
    Shape shape;
    uint64_t seed;
  };
  for (const Case& c : {Case{{2, 3, 4, 3}, 1}, Case{{5, 2, 100, 64}, 2}, Case{{1, 4, 5, 32}, 3}}) {
    INFO("h " << shape_str(c.shape));
    const int G = static_cast<int>(c.shape[0]), F = static_cast<int>(c.shape[3]);
    Tensor h = random_param(c.shape, c.seed);
    std::vector<Tensor> ctx;
    for (int g = 0; g < G; ++g) ctx.push_back(random_param({F}, c.seed * 10 + static_cast<uint64_t>(g), -2, 2));
    const AttentionResult r = attention_pool(h, ctx);
    CHECK(r.pooled.shape() == Shape{c.shape[0], c.shape[1], c.shape[3]});
    CHECK(r.weights.shape() == Shape{c.shape[0], c.shape[1], c.shape[2]});
    CHECK(r.pooled.requires_grad());
    CHECK(!r.weights.requires_grad());
    CHECK(r.weights.impl()->grad_fn == nullptr);
    const std::vector<double> dp = backward_probe(r.pooled, c.seed + 100);
    const AttnRef ref = attention_reference(h, ctx, dp);
    expect_close(r.pooled.to_vector(), ref.pooled, 1e-5, 1e-5, "pooled");
    expect_close(r.weights.to_vector(), ref.alpha, 1e-5, 1e-5, "weights");
    // alpha sums to one over t for every (g, b).
    const int64_t T = c.shape[2];
    const auto w = r.weights.to_vector();
    for (int64_t row = 0; row < c.shape[0] * c.shape[1]; ++row) {
      double sum = 0;
      for (int64_t t = 0; t < T; ++t) sum += w[static_cast<size_t>(row * T + t)];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-5));
    }
    expect_close(grad_of(h), ref.dh, 1e-5, 1e-5, "dh");
    for (int g = 0; g < G; ++g) expect_close(grad_of(ctx[static_cast<size_t>(g)]), group_part(ref.dctx, g, F), 1e-4, 1e-4, "dcontext");
  }
}

TEST_CASE("op attention_pool: gradient only where asked; shared context; accumulation over uses") {
  SUBCASE("only the contexts require a gradient") {
    const Tensor h = random_tensor({2, 3, 4, 3}, 4);
    std::vector<Tensor> ctx{random_param({3}, 5), random_tensor({3}, 6)};
    const AttentionResult r = attention_pool(h, ctx);
    const auto dp = backward_probe(r.pooled, 7);
    const AttnRef ref = attention_reference(h, ctx, dp);
    CHECK(!h.grad().defined());
    CHECK(!ctx[1].grad().defined());
    expect_close(grad_of(ctx[0]), group_part(ref.dctx, 0, 3), 1e-5, 1e-5, "dcontext 0");
  }
  SUBCASE("nothing requires a gradient, or grad mode is off: no graph") {
    const Tensor h = random_tensor({1, 2, 3, 2}, 8);
    const AttentionResult r = attention_pool(h, {random_tensor({2}, 9)});
    CHECK(!r.pooled.requires_grad());
    Tensor hp = random_param({1, 2, 3, 2}, 10);
    NoGradGuard ng;
    CHECK(!attention_pool(hp, {random_param({2}, 11)}).pooled.requires_grad());
  }
  SUBCASE("one context tensor for two groups gets the sum of both groups' gradients") {
    Tensor h = random_param({2, 3, 5, 4}, 12);
    Tensor c = random_param({4}, 13, -2, 2);
    const AttentionResult r = attention_pool(h, {c, c});
    const auto dp = backward_probe(r.pooled, 14);
    const AttnRef ref = attention_reference(h, {c, c}, dp);
    std::vector<double> want(4);
    for (size_t f = 0; f < 4; ++f) want[f] = ref.dctx[f] + ref.dctx[4 + f];
    expect_close(grad_of(c), want, 1e-5, 1e-5, "shared context");
    expect_close(grad_of(h), ref.dh, 1e-5, 1e-5, "dh");
  }
  SUBCASE("h used twice, and a second backward without zero_grad, accumulate") {
    Tensor h = random_param({1, 2, 3, 2}, 15);
    Tensor c = random_param({2}, 16);
    const Tensor r = random_tensor({1, 2, 2}, 17);
    auto loss = [&] { return add(sum(mul(attention_pool(h, {c}).pooled, r)), sum(h)); };
    loss().backward();
    const AttnRef ref = attention_reference(h, {c}, to_double(r));
    std::vector<double> want(ref.dh);
    for (double& v : want) v += 1.0;  // d sum(h) / dh
    expect_close(grad_of(h), want, 1e-5, 1e-5, "dh (two uses)");
    const auto dc1 = grad_of(c);
    loss().backward();
    for (double& v : want) v *= 2;
    expect_close(grad_of(h), want, 1e-5, 1e-5, "dh (two backward passes)");
    std::vector<double> dc2(dc1);
    for (double& v : dc2) v *= 2;
    expect_close(grad_of(c), dc2, 1e-5, 1e-5, "dcontext (two backward passes)");
  }
}

TEST_CASE("op slice: values, negative dim, gradient band, slices of slices") {
  Tensor x = random_param({2, 5, 3}, 20);
  const auto xv = x.to_vector();
  const Tensor y = slice(x, -2, 1, 4);  // x[:, 1:4, :]
  CHECK(y.shape() == Shape{2, 3, 3});
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 3; ++k)
      for (int i = 0; i < 3; ++i) CHECK(y.data()[(o * 3 + k) * 3 + i] == xv[static_cast<size_t>((o * 5 + k + 1) * 3 + i)]);
  const auto r = backward_probe(y, 21);
  const auto g = grad_of(x);
  for (int o = 0; o < 2; ++o)
    for (int k = 0; k < 5; ++k)
      for (int i = 0; i < 3; ++i) {
        const double want = k >= 1 && k < 4 ? r[static_cast<size_t>((o * 3 + k - 1) * 3 + i)] : 0.0;
        CHECK(g[static_cast<size_t>((o * 5 + k) * 3 + i)] == want);
      }
  // The model's use: the last step's forward half and the first step's backward half of
  // a bi-LSTM output (G, B, T, 2H), joined along the features.
  Tensor h = random_param({2, 3, 4, 6}, 22);
  const Tensor last = slice(slice(h, 2, 3, 4), 3, 0, 3), first = slice(slice(h, 2, 0, 1), 3, 3, 6);
  const Tensor rep = concat({last, first}, 3);
  CHECK(rep.shape() == Shape{2, 3, 1, 6});
  const auto hv = h.to_vector();
  for (int gb = 0; gb < 6; ++gb)
    for (int f = 0; f < 3; ++f) {
      CHECK(rep.data()[gb * 6 + f] == hv[static_cast<size_t>((gb * 4 + 3) * 6 + f)]);
      CHECK(rep.data()[gb * 6 + 3 + f] == hv[static_cast<size_t>((gb * 4 + 0) * 6 + 3 + f)]);
    }
  const auto rr = backward_probe(rep, 23);
  const auto gh = grad_of(h);
  double nonzero = 0;
  for (int gb = 0; gb < 6; ++gb)
    for (int t = 0; t < 4; ++t)
      for (int f = 0; f < 6; ++f) {
        double want = 0;
        if (t == 3 && f < 3) want = rr[static_cast<size_t>(gb * 6 + f)];
        if (t == 0 && f >= 3) want = rr[static_cast<size_t>(gb * 6 + f)];
        CHECK(gh[static_cast<size_t>((gb * 4 + t) * 6 + f)] == want);
        nonzero += want != 0;
      }
  CHECK(nonzero == 36);
}

TEST_CASE("op concat: values, gradients, the same tensor twice, overlapping slices accumulate") {
  Tensor p = random_param({3, 2}, 30), q = random_param({3, 1}, 31);
  const Tensor k = random_tensor({3, 2}, 32);  // no gradient
  const Tensor pq = concat({p, q, k}, -1);
  CHECK(pq.shape() == Shape{3, 5});
  const auto pv = p.to_vector(), qv = q.to_vector(), kv = k.to_vector();
  for (int i = 0; i < 3; ++i) {
    CHECK(pq.data()[i * 5 + 0] == pv[static_cast<size_t>(i * 2)]);
    CHECK(pq.data()[i * 5 + 1] == pv[static_cast<size_t>(i * 2 + 1)]);
    CHECK(pq.data()[i * 5 + 2] == qv[static_cast<size_t>(i)]);
    CHECK(pq.data()[i * 5 + 4] == kv[static_cast<size_t>(i * 2 + 1)]);
  }
  const auto r = backward_probe(pq, 33);
  const auto gp = grad_of(p), gq = grad_of(q);
  for (int i = 0; i < 3; ++i) {
    CHECK(gp[static_cast<size_t>(i * 2)] == r[static_cast<size_t>(i * 5)]);
    CHECK(gp[static_cast<size_t>(i * 2 + 1)] == r[static_cast<size_t>(i * 5 + 1)]);
    CHECK(gq[static_cast<size_t>(i)] == r[static_cast<size_t>(i * 5 + 2)]);
  }
  CHECK(!k.grad().defined());

  Tensor a = random_param({2, 2}, 34);
  const Tensor aa = concat({a, a}, 0);  // (4, 2)
  const auto ra = backward_probe(aa, 35);
  const auto ga = grad_of(a);
  for (size_t i = 0; i < 4; ++i) CHECK(ga[i] == doctest::Approx(ra[i] + ra[4 + i]).epsilon(1e-6));

  // Overlapping slices of one tensor joined: each element's gradient sums its copies.
  Tensor x = random_param({4, 3}, 36);
  const Tensor j = concat({slice(x, 0, 0, 3), slice(x, 0, 1, 4)}, 0);  // rows 0,1,2,1,2,3
  const auto rj = backward_probe(j, 37);
  const auto gx = grad_of(x);
  for (int c = 0; c < 3; ++c) {
    auto at = [&](int row) { return rj[static_cast<size_t>(row * 3 + c)]; };
    CHECK(gx[static_cast<size_t>(0 * 3 + c)] == doctest::Approx(at(0)).epsilon(1e-6));
    CHECK(gx[static_cast<size_t>(1 * 3 + c)] == doctest::Approx(at(1) + at(3)).epsilon(1e-6));
    CHECK(gx[static_cast<size_t>(2 * 3 + c)] == doctest::Approx(at(2) + at(4)).epsilon(1e-6));
    CHECK(gx[static_cast<size_t>(3 * 3 + c)] == doctest::Approx(at(5)).epsilon(1e-6));
  }
}

TEST_CASE("op slice / concat: concat of slices is the original along every dim") {
  const Tensor x = random_tensor({3, 4, 5}, 40);
  for (int d = -3; d < 3; ++d) {
    INFO("dim " << d);
    const int64_t n = x.size(d);
    const Tensor joined = concat({slice(x, d, 0, 1), slice(x, d, 1, n - 1), slice(x, d, n - 1, n)}, d);
    CHECK(joined.shape() == x.shape());
    CHECK(joined.to_vector() == x.to_vector());
  }
  const Tensor whole = slice(x, 1, 0, 4);
  CHECK(whole.to_vector() == x.to_vector());
  CHECK(concat({x}, 2).to_vector() == x.to_vector());
}

TEST_CASE("attention_pool / slice / concat: shape errors quote the shapes") {
  const Tensor h = Tensor::zeros({2, 3, 4, 5});
  expect_shape_error([&] { attention_pool(h, {Tensor::zeros({5})}); }, {"(2, 3, 4, 5)", "2 groups", "1 context"});
  expect_shape_error([&] { attention_pool(h, {Tensor::zeros({5}), Tensor::zeros({4})}); }, {"context 1", "(5,)", "(4,)"});
  expect_shape_error([&] { attention_pool(h, {Tensor::zeros({5}), Tensor::zeros({1, 5})}); }, {"(1, 5)"});
  expect_shape_error([&] { attention_pool(h, {Tensor::zeros({5}), Tensor()}); }, {"undefined"});
  expect_shape_error([&] { attention_pool(Tensor::zeros({3, 4, 5}), {}); }, {"(G, B, T, F)", "(3, 4, 5)"});
  expect_shape_error([&] { attention_pool(Tensor::zeros({1, 2, 0, 5}), {Tensor::zeros({5})}); }, {"(1, 2, 0, 5)"});
  expect_shape_error([&] { attention_pool(Tensor(), {}); }, {"undefined"});
  expect_shape_error([&] { slice(h, 1, 2, 7); }, {"[2, 7)", "(2, 3, 4, 5)"});
  expect_shape_error([&] { slice(h, 1, 2, 2); }, {"[2, 2)"});
  expect_shape_error([&] { slice(h, 1, -1, 2); }, {"[-1, 2)"});
  expect_shape_error([&] { slice(h, 4, 0, 1); }, {"dim 4", "(2, 3, 4, 5)"});
  expect_shape_error([&] { slice(h, -5, 0, 1); }, {"dim -5"});
  expect_shape_error([&] { slice(Tensor(), 0, 0, 1); }, {"undefined"});
  expect_shape_error([&] { concat({Tensor::zeros({2, 3}), Tensor::zeros({3, 3})}, 1); }, {"(3, 3)", "(2, 3)", "dim 1"});
  expect_shape_error([&] { concat({Tensor::zeros({2, 3}), Tensor::zeros({2, 3, 1})}, 0); }, {"(2, 3, 1)"});
  expect_shape_error([&] { concat({Tensor::zeros({2, 3})}, 2); }, {"dim 2", "(2, 3)"});
  expect_shape_error([&] { concat({}, 0); }, {"no tensors"});
  expect_shape_error([&] { concat({Tensor::zeros({2}), Tensor()}, 0); }, {"input 1", "undefined"});
}
