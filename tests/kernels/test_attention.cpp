// Attention pooling and slice / concat kernels on hand-computed cases and properties
// (alpha sums to one, a zero context averages, T = 1 passes h through, NaN stays in its row),
// for the reference and the fast float kernels. Finite differences, the model sizes,
// accumulation, null gradients and thread counts: the op table (tests/engine/test_op_table.cpp).
#include <cmath>
#include <string>
#include <vector>

#include "kernels/contract/attention.h"
#include "kernels/contract/layout.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;

using k::AttentionShape;
using k::AxisView;
using namespace dc::test;

namespace {

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
  k::attention_forward_reference(o.pooled.data(), o.alpha.data(), h.data(), cp.data(), s);
  if (!dp.empty()) {
    std::vector<GradOut<double>> dcp;
    for (double* g : groups(o.dctx, s)) dcp.push_back({g, GradMode::Overwrite});
    k::attention_backward_reference(out(o.dh), dcp.data(), dp.data(), h.data(), o.alpha.data(), cp.data(), s);
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
  const GradOut<float> dcp = out(dc);
  k::cpu::attention_forward(pooled.data(), alpha.data(), h.data(), &cp, s);
  k::cpu::attention_backward(out(dh), &dcp, dp.data(), h.data(), alpha.data(), &cp, s);
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
    k::cpu::attention_forward(pooled.data(), alpha.data(), hf.data(), cgroups(cf, s).data(), s);
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
    std::vector<GradOut<float>> dcp;
    for (float* g : groups(dctx, s)) dcp.push_back({g, GradMode::Overwrite});
    k::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
    k::cpu::attention_backward(out(dh), dcp.data(), d.dp.data(), d.h.data(), alpha.data(), cp.data(), s);
    for (float a : alpha) CHECK(a == 1.0f);
    CHECK(pooled == d.h);
    CHECK(dh == d.dp);
    for (float v : dctx) CHECK(v == 0.0f);
  }
}

TEST_CASE("attention fast forward: a NaN in h poisons its own row only") {
  const AttentionShape s{2, 2, 6, 64};
  Data d = make_data(s, 500);
  d.h[(1 * 6 + 3) * 64 + 5] = NAN;  // row (g=0, b=1), step 3
  std::vector<float> pooled(np(s)), alpha(na(s));
  k::cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cgroups(d.ctx, s).data(), s);
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
  k::slice_forward_reference(y.data(), x.data(), v, 1, 3);
  CHECK(y == std::vector<double>{2, 3, 4, 5, 8, 9, 10, 11});
  std::vector<double> dy{1, 2, 3, 4, 5, 6, 7, 8}, dx(12, NAN);
  k::slice_backward_reference(out(dx), dy.data(), v, 1, 3);
  CHECK(dx == std::vector<double>{0, 0, 1, 2, 3, 4, 0, 0, 5, 6, 7, 8});
  k::slice_backward_reference(acc(dx), dy.data(), v, 1, 3);
  CHECK(dx == std::vector<double>{0, 0, 2, 4, 6, 8, 0, 0, 10, 12, 14, 16});
  // The CPU kernel on the same values.
  const auto xf = convert<float>(x), dyf = convert<float>(dy);
  std::vector<float> yf(8, NAN), dxf(12, NAN);
  k::cpu::slice_forward(yf.data(), xf.data(), v, 1, 3);
  CHECK(yf == std::vector<float>{2, 3, 4, 5, 8, 9, 10, 11});
  k::cpu::slice_backward(out(dxf), dyf.data(), v, 1, 3);
  CHECK(dxf == std::vector<float>{0, 0, 1, 2, 3, 4, 0, 0, 5, 6, 7, 8});
  k::cpu::slice_backward(acc(dxf), dyf.data(), v, 1, 3);
  CHECK(dxf == std::vector<float>{0, 0, 2, 4, 6, 8, 0, 0, 10, 12, 14, 16});
  // The first axis (outer = 1) and the last (inner = 1).
  std::vector<float> y2(6);
  k::cpu::slice_forward(y2.data(), xf.data(), AxisView{1, 2, 6}, 1, 2);
  CHECK(y2 == std::vector<float>{6, 7, 8, 9, 10, 11});
  std::vector<float> y3(6);
  k::cpu::slice_forward(y3.data(), xf.data(), AxisView{6, 2, 1}, 0, 1);
  CHECK(y3 == std::vector<float>{0, 2, 4, 6, 8, 10});
}

TEST_CASE("concat: hand case and backward bands; null and repeated gradient buffers") {
  // a (2, 1, 2) = [[0 1]], [[2 3]]; b (2, 2, 2) = 10..17; concat along axis 1 -> (2, 3, 2).
  const std::vector<float> a{0, 1, 2, 3}, b{10, 11, 12, 13, 14, 15, 16, 17};
  const float* xs[] = {a.data(), b.data()};
  const int64_t lens[] = {1, 2};
  std::vector<float> y(12, NAN);
  k::cpu::concat_forward(y.data(), xs, lens, 2, 2, 2);
  CHECK(y == std::vector<float>{0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
  std::vector<double> yd(12, NAN);
  const auto ad = convert<double>(a), bd = convert<double>(b);
  const double* xsd[] = {ad.data(), bd.data()};
  k::concat_forward_reference(yd.data(), xsd, lens, 2, 2, 2);
  CHECK(yd == convert<double>(y));
  std::vector<float> dy(12);
  for (int i = 0; i < 12; ++i) dy[static_cast<size_t>(i)] = static_cast<float>(i + 1);
  std::vector<float> da(4, NAN), db(8, NAN);
  const GradOut<float> both[] = {out(da), out(db)};
  k::cpu::concat_backward(both, dy.data(), lens, 2, 2, 2);
  CHECK(da == std::vector<float>{1, 2, 7, 8});
  CHECK(db == std::vector<float>{3, 4, 5, 6, 9, 10, 11, 12});
  const GradOut<float> only_b[] = {{}, acc(db)};
  k::cpu::concat_backward(only_b, dy.data(), lens, 2, 2, 2);
  CHECK(db == std::vector<float>{6, 8, 10, 12, 18, 20, 22, 24});
  // The same tensor joined twice: one buffer, Overwrite then Accumulate -> both bands summed.
  const float* twice[] = {a.data(), a.data()};
  const int64_t ones[] = {1, 1};
  std::vector<float> yy(8), g(8), dd(4, NAN);
  k::cpu::concat_forward(yy.data(), twice, ones, 2, 2, 2);
  CHECK(yy == std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3});
  for (int i = 0; i < 8; ++i) g[static_cast<size_t>(i)] = static_cast<float>(i);
  const GradOut<float> same[] = {out(dd), acc(dd)};
  k::cpu::concat_backward(same, g.data(), ones, 2, 2, 2);
  CHECK(dd == std::vector<float>{0 + 2, 1 + 3, 4 + 6, 5 + 7});
}
