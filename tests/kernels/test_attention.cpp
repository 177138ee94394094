// Attention pooling and slice/concat kernels: hand-computed cases, finite differences in
// double, thread-count independence.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/slice.h"
#include "test_util.h"

using namespace dc;
using namespace dc::cpu;
using dc::test::dot;
using dc::test::numeric_gradient;
using dc::test::random_vector;

namespace {

struct AttnRun {
  std::vector<double> pooled, alpha;
};

AttnRun forward(const std::vector<double>& h, const std::vector<double>& ctx, AttentionShape s) {
  AttnRun r;
  r.pooled.resize(static_cast<size_t>(s.G) * s.B * s.F);
  r.alpha.resize(static_cast<size_t>(s.G) * s.B * s.T);
  std::vector<const double*> cp;
  for (int g = 0; g < s.G; ++g) cp.push_back(ctx.data() + static_cast<size_t>(g) * s.F);
  attention_forward(r.pooled.data(), r.alpha.data(), h.data(), cp.data(), s);
  return r;
}

}  // namespace

TEST_CASE("attention: hand-computed case") {
  // G=1, B=1, T=2, F=1: h = [1, 3], ctx = [0.5] -> scores 0.5, 1.5; alpha = softmax =
  // [1/(1+e), e/(1+e)]; pooled = alpha . h = (1 + 3e) / (1 + e).
  const AttentionShape s{1, 1, 2, 1};
  const AttnRun r = forward({1.0, 3.0}, {0.5}, s);
  const double e = std::exp(1.0);
  CHECK(r.alpha[0] == doctest::Approx(1 / (1 + e)));
  CHECK(r.alpha[1] == doctest::Approx(e / (1 + e)));
  CHECK(r.pooled[0] == doctest::Approx((1 + 3 * e) / (1 + e)));
}

TEST_CASE("attention: alpha sums to one per (group, example); large scores stay finite") {
  const AttentionShape s{2, 3, 7, 4};
  auto h = random_vector<double>(2 * 3 * 7 * 4, 1, -50, 50);
  auto ctx = random_vector<double>(2 * 4, 2, -3, 3);
  const AttnRun r = forward(h, ctx, s);
  for (int gb = 0; gb < 6; ++gb) {
    double sum = 0;
    for (int t = 0; t < 7; ++t) sum += r.alpha[gb * 7 + t];
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-12));
  }
  for (double v : r.pooled) CHECK(std::isfinite(v));
}

TEST_CASE("attention reference: finite-difference gradients in h and every context (double)") {
  const AttentionShape s{2, 3, 4, 3};
  auto h = random_vector<double>(2 * 3 * 4 * 3, 3);
  auto ctx = random_vector<double>(2 * 3, 4);
  const auto weights = random_vector<double>(2 * 3 * 3, 5);  // loss = <pooled, weights>
  auto loss = [&] { return dot(forward(h, ctx, s).pooled, weights); };
  const AttnRun r = forward(h, ctx, s);
  std::vector<double> dh(h.size()), dctx(ctx.size()), scratch(2 * 3 * 4);
  std::vector<const double*> cp{ctx.data(), ctx.data() + 3};
  std::vector<double*> dcp{dctx.data(), dctx.data() + 3};
  attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), GradMode::Overwrite, weights.data(), h.data(), r.alpha.data(),
                     cp.data(), scratch.data(), s);
  const auto nh = numeric_gradient(h, loss), nc = numeric_gradient(ctx, loss);
  dc::test::expect_close(dh.data(), nh.data(), nh.size(), 1e-8, 1e-6, "dh");
  dc::test::expect_close(dctx.data(), nc.data(), nc.size(), 1e-8, 1e-6, "dctx");

  // Accumulate adds onto what is there; null pointers skip.
  std::vector<double> dh2(h.size(), 1.0), dctx2(ctx.size(), 2.0);
  std::vector<double*> dcp2{dctx2.data(), dctx2.data() + 3};
  attention_backward(dh2.data(), GradMode::Accumulate, dcp2.data(), GradMode::Accumulate, weights.data(), h.data(), r.alpha.data(),
                     cp.data(), scratch.data(), s);
  for (size_t i = 0; i < dh.size(); ++i) CHECK(dh2[i] == doctest::Approx(dh[i] + 1.0));
  for (size_t i = 0; i < dctx.size(); ++i) CHECK(dctx2[i] == doctest::Approx(dctx[i] + 2.0));
  std::vector<double> dh3(h.size());
  attention_backward(dh3.data(), GradMode::Overwrite, static_cast<double* const*>(nullptr), GradMode::Overwrite, weights.data(),
                     h.data(), r.alpha.data(), cp.data(), scratch.data(), s);
  for (size_t i = 0; i < dh.size(); ++i) CHECK(dh3[i] == doctest::Approx(dh[i]));
}

TEST_CASE("attention: float results identical for 1 and 2 threads (AttentiveChrome bin level)") {
  const AttentionShape s{5, 16, 100, 64};
  const auto h = random_vector<float>(5 * 16 * 100 * 64, 6);
  const auto ctx = random_vector<float>(5 * 64, 7);
  const auto dp = random_vector<float>(5 * 16 * 64, 8);
  std::vector<const float*> cp;
  for (int g = 0; g < 5; ++g) cp.push_back(ctx.data() + g * 64);
  auto run = [&](int threads) {
    dc::test::ThreadCount tc(threads);
    std::vector<float> pooled(5 * 16 * 64), alpha(5 * 16 * 100), dh(h.size()), dctx(ctx.size()), scratch(alpha.size());
    std::vector<float*> dcp;
    for (int g = 0; g < 5; ++g) dcp.push_back(dctx.data() + g * 64);
    attention_forward(pooled.data(), alpha.data(), h.data(), cp.data(), s);
    attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), GradMode::Overwrite, dp.data(), h.data(), alpha.data(), cp.data(),
                       scratch.data(), s);
    pooled.insert(pooled.end(), dh.begin(), dh.end());
    pooled.insert(pooled.end(), dctx.begin(), dctx.end());
    return pooled;
  };
  CHECK(dc::test::bit_identical(run(1), run(2)));
}

TEST_CASE("slice / place: hand case and adjointness") {
  // x (2, 3, 2) = 0..11; slice dim 1 [1, 3) -> rows 1..2 of each outer block.
  std::vector<double> x(12);
  for (int i = 0; i < 12; ++i) x[i] = i;
  std::vector<double> y(8);
  slice_copy(y.data(), x.data(), 2, 3, 2, 1, 3);
  CHECK(y == std::vector<double>{2, 3, 4, 5, 8, 9, 10, 11});
  // <slice(x), r> = <x, place(r)>: the backward is the adjoint of the forward.
  const auto r = random_vector<double>(8, 9);
  std::vector<double> back(12, 7.0);
  zero_outside(back.data(), 2, 3, 2, 1, 3);
  slice_place(back.data(), GradMode::Overwrite, r.data(), 2, 3, 2, 1, 3);
  auto xr = random_vector<double>(12, 10);
  std::vector<double> yr(8);
  slice_copy(yr.data(), xr.data(), 2, 3, 2, 1, 3);
  CHECK(dot(yr, r) == doctest::Approx(dot(xr, back)));
}
