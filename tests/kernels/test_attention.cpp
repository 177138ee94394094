// Attention pooling and slice / concat kernels: hand-computed cases, finite differences of
// the references in double, fast float path vs reference, GradMode / null-pointer
// handling, thread-count independence.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/attention.h"
#include "kernels/cpu/slice.h"
#include "test_util.h"

using dc::GradMode;
using dc::cpu::AttentionShape;
using dc::cpu::AxisView;
using namespace dc::test;

namespace {

// Float fast path vs the double reference: elementwise results, and dctx (a sum over B * T
// terms).
constexpr double kTol = 1e-5, kTolSum = 1e-4;

std::string describe(AttentionShape s) {
  return "G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " F=" + std::to_string(s.F);
}

size_t nh(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.T * s.F; }
size_t np(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.F; }
size_t na(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.T; }

// Per-group pointers into one (G, F) buffer.
template <class T>
std::vector<T*> groups(std::vector<T>& v, AttentionShape s) {
  std::vector<T*> p;
  for (int g = 0; g < s.G; ++g) p.push_back(v.data() + static_cast<size_t>(g) * s.F);
  return p;
}
template <class T>
std::vector<const T*> cgroups(const std::vector<T>& v, AttentionShape s) {
  std::vector<const T*> p;
  for (int g = 0; g < s.G; ++g) p.push_back(v.data() + static_cast<size_t>(g) * s.F);
  return p;
}

struct RefOut {
  std::vector<double> pooled, alpha, dh, dctx;
};

// The double reference: forward, and backward from dpooled (both gradients, Overwrite).
RefOut reference(const std::vector<double>& h, const std::vector<double>& ctx, const std::vector<double>& dp, AttentionShape s) {
  RefOut o{std::vector<double>(np(s)), std::vector<double>(na(s)), std::vector<double>(nh(s)),
           std::vector<double>(static_cast<size_t>(s.G) * s.F)};
  const auto cp = cgroups(ctx, s);
  dc::cpu::attention_forward_reference(o.pooled.data(), o.alpha.data(), h.data(), cp.data(), s);
  if (!dp.empty()) {
    auto dcp = groups(o.dctx, s);
    const std::vector<GradMode> modes(static_cast<size_t>(s.G), GradMode::Overwrite);
    dc::cpu::attention_backward_reference(o.dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), dp.data(), h.data(),
                                          o.alpha.data(), cp.data(), s);
  }
  return o;
}

struct Data {
  std::vector<float> h, ctx, dp;
};
Data make_data(AttentionShape s, uint64_t seed) {
  // Hidden states of a tanh LSTM lie in (-1, 1); contexts a bit larger so alpha is peaked.
  return {random_vector<float>(nh(s), seed, -1, 1), random_vector<float>(static_cast<size_t>(s.G) * s.F, seed + 1, -2, 2),
          random_vector<float>(np(s), seed + 2, -1, 1)};
}

}  // namespace

TEST_CASE("attention: hand-computed case (T = 2, F = 1)") {
  // h = [1, 3], ctx = [0.5]: scores 0.5, 1.5; alpha = softmax = [a0, a1] = [1/(1+e), e/(1+e)]
  // = [0.2689414, 0.7310586]; pooled P = a0*1 + a1*3 = (1 + 3e)/(1 + e) = 2.4621172.
  // Backward with dpooled = 1: dalpha = h = [1, 3]; sum alpha dalpha = P;
  // dscore_t = a_t (h_t - P) -> [-a0 a1 (3-1), +a0 a1 (3-1)] = [-0.3932239, 0.3932239];
  // dh_t = a_t * 1 + dscore_t * 0.5 -> [a0 - a0 a1, a1 + a0 a1] = [0.0723295, 0.9276705];
  // dctx = sum_t dscore_t h_t = a0 a1 (3 - 1) * (3 - 1) = 4 a0 a1 = 0.7864477 (the variance
  // of h under alpha, as d pooled / d ctx should be for F = 1).
  const AttentionShape s{1, 1, 2, 1};
  const double e = std::exp(1.0), a0 = 1 / (1 + e), a1 = e / (1 + e);
  const RefOut r = reference({1.0, 3.0}, {0.5}, {1.0}, s);
  CHECK(r.alpha[0] == doctest::Approx(a0).epsilon(1e-15));
  CHECK(r.alpha[1] == doctest::Approx(a1).epsilon(1e-15));
  CHECK(r.pooled[0] == doctest::Approx((1 + 3 * e) / (1 + e)).epsilon(1e-15));
  CHECK(r.pooled[0] == doctest::Approx(2.4621172).epsilon(1e-7));
  CHECK(r.dh[0] == doctest::Approx(0.0723295).epsilon(1e-6));
  CHECK(r.dh[1] == doctest::Approx(0.9276705).epsilon(1e-6));
  CHECK(r.dh[0] == doctest::Approx(a0 - a0 * a1).epsilon(1e-14));
  CHECK(r.dctx[0] == doctest::Approx(4 * a0 * a1).epsilon(1e-14));
  CHECK(r.dctx[0] == doctest::Approx(0.7864477).epsilon(1e-6));

  // The fast float path gives the same numbers.
  const std::vector<float> h{1.0f, 3.0f}, c{0.5f}, dp{1.0f};
  std::vector<float> pooled(1), alpha(2), dh(2), dc(1);
  const float* cp = c.data();
  float* dcp = dc.data();
  const GradMode ow = GradMode::Overwrite;
  dc::cpu::attention_forward(pooled.data(), alpha.data(), h.data(), &cp, s);
  dc::cpu::attention_backward(dh.data(), ow, &dcp, &ow, dp.data(), h.data(), alpha.data(), &cp, s);
  CHECK(alpha[1] == doctest::Approx(a1).epsilon(1e-6));
  CHECK(pooled[0] == doctest::Approx(2.4621172).epsilon(1e-6));
  CHECK(dh[0] == doctest::Approx(0.0723295).epsilon(1e-5));
  CHECK(dh[1] == doctest::Approx(0.9276705).epsilon(1e-6));
  CHECK(dc[0] == doctest::Approx(0.7864477).epsilon(1e-6));
}

TEST_CASE("attention: alpha sums to one, zero context gives the mean, T = 1 passes h through") {
  {
    const AttentionShape s{2, 3, 7, 4};
    // Scores up to +-600: exp would overflow without the max shift.
    const auto h = convert<double>(random_vector<float>(nh(s), 1, -50, 50));
    const auto ctx = convert<double>(random_vector<float>(8, 2, -3, 3));
    const RefOut r = reference(h, ctx, {}, s);
    for (int row = 0; row < 6; ++row) {
      double sum = 0;
      for (int t = 0; t < 7; ++t) sum += r.alpha[static_cast<size_t>(row) * 7 + t];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-14));
    }
    for (double v : r.pooled) CHECK(std::isfinite(v));
    // Same in float on the fast path.
    const auto hf = convert<float>(h), cf = convert<float>(ctx);
    std::vector<float> pooled(np(s)), alpha(na(s));
    dc::cpu::attention_forward(pooled.data(), alpha.data(), hf.data(), cgroups(cf, s).data(), s);
    for (int row = 0; row < 6; ++row) {
      double sum = 0;
      for (int t = 0; t < 7; ++t) sum += alpha[static_cast<size_t>(row) * 7 + t];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
    }
    expect_close(pooled, r.pooled, 1e-4, 1e-5, "pooled, large scores");
  }
  {
    const AttentionShape s{1, 2, 4, 3};
    const auto h = random_vector<double>(nh(s), 3);
    const RefOut r = reference(h, std::vector<double>(3, 0.0), {}, s);
    for (double a : r.alpha) CHECK(a == 0.25);
    for (int b = 0; b < 2; ++b)
      for (int f = 0; f < 3; ++f) {
        double mean = 0;
        for (int t = 0; t < 4; ++t) mean += h[(static_cast<size_t>(b) * 4 + t) * 3 + f] / 4;
        CHECK(r.pooled[static_cast<size_t>(b) * 3 + f] == doctest::Approx(mean).epsilon(1e-14));
      }
  }
  {
    // T = 1: alpha = 1, pooled = h, dh = dpooled, dctx = 0.
    const AttentionShape s{2, 3, 1, 5};
    const Data d = make_data(s, 4);
    std::vector<float> pooled(np(s)), alpha(na(s)), dh(nh(s), NAN), dctx(10, NAN);
    const auto cp = cgroups(d.ctx, s);
    auto dcp = groups(dctx, s);
    const std::vector<GradMode> modes(2, GradMode::Overwrite);
    dc::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
    dc::cpu::attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), d.dp.data(), d.h.data(), alpha.data(),
                                cp.data(), s);
    for (float a : alpha) CHECK(a == 1.0f);
    CHECK(pooled == d.h);
    CHECK(dh == d.dp);
    for (float v : dctx) CHECK(v == 0.0f);
  }
}

TEST_CASE("attention reference: finite-difference gradients in h and every context (double)") {
  const AttentionShape s{2, 3, 4, 3};
  auto h = random_vector<double>(nh(s), 5);
  auto ctx = random_vector<double>(6, 6, -2, 2);
  const auto dp = random_vector<double>(np(s), 7);  // loss = <pooled, dp>, so dL/dpooled = dp
  const RefOut r = reference(h, ctx, dp, s);
  auto loss = [&] { return dot(reference(h, ctx, {}, s).pooled, dp); };
  expect_close(r.dh, numeric_gradient(h, loss), 1e-9, 1e-7, "dh vs finite differences");
  expect_close(r.dctx, numeric_gradient(ctx, loss), 1e-9, 1e-7, "dctx vs finite differences");
}

TEST_CASE("attention reference: Accumulate, null pointers, a context buffer shared by two groups") {
  const AttentionShape s{2, 3, 4, 3};
  const auto h = random_vector<double>(nh(s), 8), ctx = random_vector<double>(6, 9), dp = random_vector<double>(np(s), 10);
  const RefOut r = reference(h, ctx, dp, s);
  const auto cp = cgroups(ctx, s);
  // Accumulate adds onto what is there (dh in Accumulate, group 0 Overwrite, group 1 Accumulate).
  std::vector<double> dh(nh(s), 1.0), dctx(6, 2.0);
  auto dcp = groups(dctx, s);
  const std::vector<GradMode> mixed{GradMode::Overwrite, GradMode::Accumulate};
  dc::cpu::attention_backward_reference(dh.data(), GradMode::Accumulate, dcp.data(), mixed.data(), dp.data(), h.data(),
                                        r.alpha.data(), cp.data(), s);
  for (size_t i = 0; i < dh.size(); ++i) CHECK(dh[i] == doctest::Approx(r.dh[i] + 1.0).epsilon(1e-14));
  for (size_t i = 0; i < 3; ++i) CHECK(dctx[i] == doctest::Approx(r.dctx[i]).epsilon(1e-14));
  for (size_t i = 3; i < 6; ++i) CHECK(dctx[i] == doctest::Approx(r.dctx[i] + 2.0).epsilon(1e-14));
  // Null dh, null dctx array, one null group: each skips exactly that gradient.
  std::vector<double> dh2(nh(s), 5.0), dctx2(6, 7.0);
  auto dcp2 = groups(dctx2, s);
  dcp2[0] = nullptr;
  const std::vector<GradMode> ow(2, GradMode::Overwrite);
  dc::cpu::attention_backward_reference<double>(nullptr, GradMode::Overwrite, dcp2.data(), ow.data(), dp.data(), h.data(),
                                                r.alpha.data(), cp.data(), s);
  for (double v : dh2) CHECK(v == 5.0);
  for (size_t i = 0; i < 3; ++i) CHECK(dctx2[i] == 7.0);
  for (size_t i = 3; i < 6; ++i) CHECK(dctx2[i] == doctest::Approx(r.dctx[i]).epsilon(1e-14));
  dc::cpu::attention_backward_reference(dh2.data(), GradMode::Overwrite, static_cast<double* const*>(nullptr), ow.data(), dp.data(),
                                        h.data(), r.alpha.data(), cp.data(), s);
  for (size_t i = 0; i < dh2.size(); ++i) CHECK(dh2[i] == doctest::Approx(r.dh[i]).epsilon(1e-14));
  // One buffer for both groups, Overwrite then Accumulate: the sum of both groups' gradients.
  std::vector<double> shared(3, NAN);
  std::vector<double*> both{shared.data(), shared.data()};
  dc::cpu::attention_backward_reference<double>(nullptr, GradMode::Overwrite, both.data(), mixed.data(), dp.data(), h.data(),
                                                r.alpha.data(), cp.data(), s);
  for (size_t f = 0; f < 3; ++f) CHECK(shared[f] == doctest::Approx(r.dctx[f] + r.dctx[3 + f]).epsilon(1e-14));
}

TEST_CASE("attention fast kernels vs reference: AttentiveChrome sizes and odd shapes") {
  uint64_t seed = 100;
  for (const AttentionShape s : {AttentionShape{5, 3, 100, 64}, AttentionShape{1, 16, 5, 32}, AttentionShape{1, 4, 100, 64},
                                 AttentionShape{3, 2, 7, 5}, AttentionShape{2, 1, 1, 17}, AttentionShape{1, 3, 33, 1}}) {
    INFO(describe(s));
    const Data d = make_data(s, seed += 10);
    const RefOut r = reference(convert<double>(d.h), convert<double>(d.ctx), convert<double>(d.dp), s);
    const auto cp = cgroups(d.ctx, s);
    // Forward onto NaN garbage.
    std::vector<float> pooled(np(s), NAN), alpha(na(s), NAN);
    dc::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
    expect_close(alpha, r.alpha, kTol, kTol, "alpha");
    expect_close(pooled, r.pooled, kTol, kTol, "pooled");
    // Backward, Overwrite onto NaN garbage (alpha of the fast forward, as the engine runs it).
    std::vector<float> dh(nh(s), NAN), dctx(static_cast<size_t>(s.G) * s.F, NAN);
    auto dcp = groups(dctx, s);
    std::vector<GradMode> modes(static_cast<size_t>(s.G), GradMode::Overwrite);
    dc::cpu::attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), d.dp.data(), d.h.data(), alpha.data(),
                                cp.data(), s);
    expect_close(dh, r.dh, kTol, kTol, "dh");
    expect_close(dctx, r.dctx, kTolSum, kTolSum, "dctx");
    // Accumulate onto existing values.
    const auto eh = random_vector<float>(dh.size(), seed + 5), ec = random_vector<float>(dctx.size(), seed + 6);
    dh = eh;
    dctx = ec;
    modes.assign(modes.size(), GradMode::Accumulate);
    dc::cpu::attention_backward(dh.data(), GradMode::Accumulate, dcp.data(), modes.data(), d.dp.data(), d.h.data(), alpha.data(),
                                cp.data(), s);
    std::vector<double> want_h(dh.size()), want_c(dctx.size());
    for (size_t i = 0; i < dh.size(); ++i) want_h[i] = r.dh[i] + eh[i];
    for (size_t i = 0; i < dctx.size(); ++i) want_c[i] = r.dctx[i] + ec[i];
    expect_close(dh, want_h, kTol, kTol, "dh (accumulate)");
    expect_close(dctx, want_c, kTolSum, kTolSum, "dctx (accumulate)");
  }
}

TEST_CASE("attention fast backward: null pointers skip exactly that gradient; shared context buffer") {
  const AttentionShape s{3, 4, 9, 6};
  const Data d = make_data(s, 300);
  const RefOut r = reference(convert<double>(d.h), convert<double>(d.ctx), convert<double>(d.dp), s);
  const auto cp = cgroups(d.ctx, s);
  std::vector<float> pooled(np(s)), alpha(na(s));
  dc::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
  const std::vector<GradMode> ow(3, GradMode::Overwrite);
  for (int mask = 0; mask < 16; ++mask) {
    INFO("mask=" << mask);
    const bool want_dh = mask & 1;
    std::vector<float> dh(nh(s), NAN), dctx(static_cast<size_t>(s.G) * s.F, NAN);
    auto dcp = groups(dctx, s);
    for (int g = 0; g < 3; ++g)
      if (!(mask & (2 << g))) dcp[static_cast<size_t>(g)] = nullptr;
    dc::cpu::attention_backward(want_dh ? dh.data() : nullptr, GradMode::Overwrite, dcp.data(), ow.data(), d.dp.data(), d.h.data(),
                                alpha.data(), cp.data(), s);
    if (want_dh) expect_close(dh, r.dh, kTol, kTol, "dh");
    else
      for (float v : dh) CHECK(std::isnan(v));
    for (int g = 0; g < 3; ++g)
      for (int f = 0; f < s.F; ++f) {
        const size_t i = static_cast<size_t>(g) * s.F + f;
        if (dcp[static_cast<size_t>(g)]) CHECK(dctx[i] == doctest::Approx(r.dctx[i]).epsilon(1e-4));
        else CHECK(std::isnan(dctx[i]));
      }
  }
  // A null dctx array.
  std::vector<float> dh(nh(s), NAN);
  dc::cpu::attention_backward(dh.data(), GradMode::Overwrite, nullptr, ow.data(), d.dp.data(), d.h.data(), alpha.data(), cp.data(), s);
  expect_close(dh, r.dh, kTol, kTol, "dh (no dctx)");
  // Groups 0 and 2 share one buffer: Overwrite then Accumulate sums them.
  std::vector<float> shared(static_cast<size_t>(s.F), NAN), other(static_cast<size_t>(s.F), NAN);
  std::vector<float*> dcp{shared.data(), other.data(), shared.data()};
  const std::vector<GradMode> modes{GradMode::Overwrite, GradMode::Overwrite, GradMode::Accumulate};
  dc::cpu::attention_backward(nullptr, GradMode::Overwrite, dcp.data(), modes.data(), d.dp.data(), d.h.data(), alpha.data(), cp.data(), s);
  for (int f = 0; f < s.F; ++f) {
    CHECK(shared[static_cast<size_t>(f)] == doctest::Approx(r.dctx[static_cast<size_t>(f)] + r.dctx[static_cast<size_t>(2 * s.F + f)]).epsilon(1e-4));
    CHECK(other[static_cast<size_t>(f)] == doctest::Approx(r.dctx[static_cast<size_t>(s.F + f)]).epsilon(1e-4));
  }
}

TEST_CASE("attention fast kernels: bit-identical for 1, 2 and 3 threads") {
  // Bin level at batch 16 (G * B * T * F = 512000 elements, well above the threshold where
  // the rows are split), and an F without a compile-time specialisation.
  for (const AttentionShape s : {AttentionShape{5, 16, 100, 64}, AttentionShape{2, 40, 50, 20}}) {
    INFO(describe(s));
    const Data d = make_data(s, 400);
    const auto cp = cgroups(d.ctx, s);
    auto run = [&](int threads) {
      ThreadCount tc(threads);
      std::vector<float> pooled(np(s)), alpha(na(s)), dh(nh(s)), dctx(static_cast<size_t>(s.G) * s.F);
      auto dcp = groups(dctx, s);
      const std::vector<GradMode> modes(static_cast<size_t>(s.G), GradMode::Overwrite);
      dc::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
      dc::cpu::attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), d.dp.data(), d.h.data(), alpha.data(),
                                  cp.data(), s);
      std::vector<float> all = pooled;
      all.insert(all.end(), alpha.begin(), alpha.end());
      all.insert(all.end(), dh.begin(), dh.end());
      all.insert(all.end(), dctx.begin(), dctx.end());
      return all;
    };
    const auto one = run(1);
    CHECK(bit_identical(one, run(2)));
    CHECK(bit_identical(one, run(3)));
  }
}

TEST_CASE("attention fast forward: a NaN in h poisons its own row only") {
  const AttentionShape s{2, 2, 6, 64};
  Data d = make_data(s, 500);
  d.h[(1 * 6 + 3) * 64 + 5] = NAN;  // row (g=0, b=1), step 3
  std::vector<float> pooled(np(s)), alpha(na(s));
  dc::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cgroups(d.ctx, s).data(), s);
  for (int row = 0; row < 4; ++row) {
    INFO("row " << row);
    for (int f = 0; f < 64; ++f) CHECK(std::isnan(pooled[static_cast<size_t>(row) * 64 + f]) == (row == 1));
  }
}

// ---- slice / concat ----------------------------------------------------------------------

TEST_CASE("slice: hand case, backward places the band and zeroes the rest") {
  // x (2, 3, 2) = 0..11; x[:, 1:3, :] = rows 1..2 of each outer block.
  std::vector<double> x(12);
  for (int i = 0; i < 12; ++i) x[static_cast<size_t>(i)] = i;
  const AxisView v{2, 3, 2};
  std::vector<double> y(8, NAN);
  dc::cpu::slice_forward(y.data(), x.data(), v, 1, 3);
  CHECK(y == std::vector<double>{2, 3, 4, 5, 8, 9, 10, 11});
  std::vector<double> dy{1, 2, 3, 4, 5, 6, 7, 8}, dx(12, NAN);
  dc::cpu::slice_backward(dx.data(), GradMode::Overwrite, dy.data(), v, 1, 3);
  CHECK(dx == std::vector<double>{0, 0, 1, 2, 3, 4, 0, 0, 5, 6, 7, 8});
  dc::cpu::slice_backward(dx.data(), GradMode::Accumulate, dy.data(), v, 1, 3);
  CHECK(dx == std::vector<double>{0, 0, 2, 4, 6, 8, 0, 0, 10, 12, 14, 16});
  // The first axis (outer = 1) and the last (inner = 1).
  std::vector<double> y2(6);
  dc::cpu::slice_forward(y2.data(), x.data(), AxisView{1, 2, 6}, 1, 2);
  CHECK(y2 == std::vector<double>{6, 7, 8, 9, 10, 11});
  std::vector<double> y3(6);
  dc::cpu::slice_forward(y3.data(), x.data(), AxisView{6, 2, 1}, 0, 1);
  CHECK(y3 == std::vector<double>{0, 2, 4, 6, 8, 10});
}

TEST_CASE("concat: hand case and backward bands; null and repeated gradient buffers") {
  // a (2, 1, 2) = [[0 1]], [[2 3]]; b (2, 2, 2) = 10..17; concat along axis 1 -> (2, 3, 2).
  const std::vector<double> a{0, 1, 2, 3}, b{10, 11, 12, 13, 14, 15, 16, 17};
  const double* xs[] = {a.data(), b.data()};
  const int64_t lens[] = {1, 2};
  std::vector<double> y(12, NAN);
  dc::cpu::concat_forward(y.data(), xs, lens, 2, 2, 2);
  CHECK(y == std::vector<double>{0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
  std::vector<double> dy(12);
  for (int i = 0; i < 12; ++i) dy[static_cast<size_t>(i)] = i + 1;
  std::vector<double> da(4, NAN), db(8, NAN);
  double* dxs[] = {da.data(), db.data()};
  const GradMode ow[] = {GradMode::Overwrite, GradMode::Overwrite};
  dc::cpu::concat_backward(dxs, ow, dy.data(), lens, 2, 2, 2);
  CHECK(da == std::vector<double>{1, 2, 7, 8});
  CHECK(db == std::vector<double>{3, 4, 5, 6, 9, 10, 11, 12});
  const GradMode acc[] = {GradMode::Accumulate, GradMode::Accumulate};
  double* only_b[] = {nullptr, db.data()};
  dc::cpu::concat_backward(only_b, acc, dy.data(), lens, 2, 2, 2);
  CHECK(db == std::vector<double>{6, 8, 10, 12, 18, 20, 22, 24});
  // The same tensor joined twice: one buffer, Overwrite then Accumulate -> both bands summed.
  const double* twice[] = {a.data(), a.data()};
  const int64_t ones[] = {1, 1};
  std::vector<double> yy(8), g(8), dd(4, NAN);
  dc::cpu::concat_forward(yy.data(), twice, ones, 2, 2, 2);
  CHECK(yy == std::vector<double>{0, 1, 0, 1, 2, 3, 2, 3});
  for (int i = 0; i < 8; ++i) g[static_cast<size_t>(i)] = i;
  double* same[] = {dd.data(), dd.data()};
  const GradMode ow_acc[] = {GradMode::Overwrite, GradMode::Accumulate};
  dc::cpu::concat_backward(same, ow_acc, g.data(), ones, 2, 2, 2);
  CHECK(dd == std::vector<double>{0 + 2, 1 + 3, 4 + 6, 5 + 7});
}

TEST_CASE("slice / concat: finite-difference gradients (double) and concat of slices is the original") {
  const AxisView v{3, 7, 4};
  auto x = random_vector<double>(84, 20);
  const auto r = random_vector<double>(3 * 3 * 4, 21);
  auto loss = [&] {
    std::vector<double> y(36);
    dc::cpu::slice_forward(y.data(), x.data(), v, 2, 5);
    return dot(y, r);
  };
  std::vector<double> dx(84, NAN);
  dc::cpu::slice_backward(dx.data(), GradMode::Overwrite, r.data(), v, 2, 5);
  expect_close(dx, numeric_gradient(x, loss), 1e-9, 1e-8, "slice dx");

  auto p = random_vector<double>(3 * 2 * 4, 22), q = random_vector<double>(3 * 5 * 4, 23);
  const auto rc = random_vector<double>(84, 24);
  const int64_t lens[] = {2, 5};
  auto closs = [&] {
    std::vector<double> y(84);
    const double* xs[] = {p.data(), q.data()};
    dc::cpu::concat_forward(y.data(), xs, lens, 2, 3, 4);
    return dot(y, rc);
  };
  std::vector<double> dp(p.size()), dq(q.size());
  double* dxs[] = {dp.data(), dq.data()};
  const GradMode ow[] = {GradMode::Overwrite, GradMode::Overwrite};
  dc::cpu::concat_backward(dxs, ow, rc.data(), lens, 2, 3, 4);
  expect_close(dp, numeric_gradient(p, closs), 1e-9, 1e-8, "concat dp");
  expect_close(dq, numeric_gradient(q, closs), 1e-9, 1e-8, "concat dq");

  // Slices [0,2), [2,3), [3,7) joined back: x exactly (float, large enough to split threads).
  const AxisView big{64, 7, 1000};
  const auto xf = random_vector<float>(64 * 7 * 1000, 25);
  std::vector<float> s0(64 * 2 * 1000), s1(64 * 1 * 1000), s2(64 * 4 * 1000), joined(xf.size(), NAN);
  dc::cpu::slice_forward(s0.data(), xf.data(), big, 0, 2);
  dc::cpu::slice_forward(s1.data(), xf.data(), big, 2, 3);
  dc::cpu::slice_forward(s2.data(), xf.data(), big, 3, 7);
  const float* parts[] = {s0.data(), s1.data(), s2.data()};
  const int64_t plens[] = {2, 1, 4};
  dc::cpu::concat_forward(joined.data(), parts, plens, 3, 64, 1000);
  CHECK(bit_identical(joined, xf));
}
