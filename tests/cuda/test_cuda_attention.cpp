// CUDA attention pooling against the double reference (kernels/contract/attention.h) and the
// CPU fast kernels, for what the op table's checks (test_cuda_op_table.cpp) do not reach:
// pooled, alpha, dh and every dctx at sizes that select each launch configuration (T = 1,
// T = 7, long T, B = 1, B = 33, F = 5, F wider than a block, more groups than one launch
// takes), Accumulate mode, null dh / dctx / single groups, a context gradient buffer shared
// by two groups, large scores (the max-shifted softmax), run-to-run determinism.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/contract/attention.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
namespace cpu = dc::kernels::cpu;
using dc::GradMode;
using dc::GradOut;
using dc::kernels::AttentionShape;
using namespace dc::test;

namespace {

// Elementwise results within 1e-5 (absolute and relative) of the double reference, as the
// CPU fast kernels; dctx (a sum over B*T terms) within 1e-4 * sqrt(B*T / 1600) + 1e-4 |r|.
constexpr double kTol = 1e-5, kTolSum = 1e-4;

double sum_tol(AttentionShape s) {
  return kTolSum * std::max(1.0, std::sqrt(static_cast<double>(s.B) * s.T / 1600.0));
}

std::string describe(AttentionShape s) {
  return "G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " F=" + std::to_string(s.F);
}

size_t nh(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.T * s.F; }
size_t np(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.F; }
size_t na(AttentionShape s) { return static_cast<size_t>(s.rows()) * s.T; }
size_t nc(AttentionShape s) { return static_cast<size_t>(s.G) * s.F; }

// Per-group pointers into one (G, F) buffer (host or device).
template <class T>
std::vector<T*> groups(T* base, AttentionShape s) {
  std::vector<T*> p;
  for (int g = 0; g < s.G; ++g) p.push_back(base + static_cast<size_t>(g) * s.F);
  return p;
}

// Gradient outputs per group into one (G, F) buffer, every group with `mode`.
template <class T>
std::vector<GradOut<T>> grad_groups(T* base, AttentionShape s, GradMode mode) {
  std::vector<GradOut<T>> p;
  for (T* g : groups<T>(base, s)) p.push_back({g, mode});
  return p;
}

struct RefOut {
  std::vector<double> pooled, alpha, dh, dctx;
};

// The double reference: forward, and backward from dpooled (both gradients, Overwrite).
RefOut reference(const std::vector<double>& h, const std::vector<double>& ctx, const std::vector<double>& dp, AttentionShape s) {
  RefOut o{std::vector<double>(np(s)), std::vector<double>(na(s)), std::vector<double>(nh(s)), std::vector<double>(nc(s))};
  const auto cp = groups<const double>(ctx.data(), s);
  dc::kernels::attention_forward_reference(o.pooled.data(), o.alpha.data(), h.data(), cp.data(), s);
  const auto dcp = grad_groups<double>(o.dctx.data(), s, GradMode::Overwrite);
  dc::kernels::attention_backward_reference(GradOut<double>{o.dh.data(), GradMode::Overwrite}, dcp.data(), dp.data(), h.data(),
                                            o.alpha.data(), cp.data(), s);
  return o;
}

struct Data {
  std::vector<float> h, ctx, dp;
};

// Hidden states of a tanh LSTM lie in (-1, 1); contexts a bit larger so alpha is peaked.
Data make_data(AttentionShape s, uint64_t seed, double hscale = 1.0) {
  return {random_vector<float>(nh(s), seed, -hscale, hscale), random_vector<float>(nc(s), seed + 1, -2, 2),
          random_vector<float>(np(s), seed + 2, -1, 1)};
}

// The CUDA forward and backward (Overwrite, both gradients) on device copies.
struct CudaOut {
  std::vector<float> pooled, alpha, dh, dctx;
};
CudaOut run_cuda(const Data& d, AttentionShape s) {
  const Dev h(d.h), ctx(d.ctx), dp(d.dp);
  const Dev pooled(np(s), NAN), alpha(na(s), NAN), dh(nh(s), NAN), dctx(nc(s), NAN);
  const auto cp = groups<const float>(ctx.get(), s);
  const auto dcp = grad_groups<float>(dctx.get(), s, GradMode::Overwrite);
  cu::attention_forward(pooled.get(), alpha.get(), h.get(), cp.data(), s);
  cu::attention_backward({dh.get(), GradMode::Overwrite}, dcp.data(), dp.get(), h.get(), alpha.get(), cp.data(), s);
  CudaOut o{pooled.host(), alpha.host(), dh.host(), dctx.host()};
  cu::synchronize();
  return o;
}

void check_vs_reference(AttentionShape s, uint64_t seed, double hscale = 1.0) {
  INFO(describe(s) << " hscale=" << hscale);
  const Data d = make_data(s, seed, hscale);
  const RefOut r = reference(convert<double>(d.h), convert<double>(d.ctx), convert<double>(d.dp), s);
  const CudaOut o = run_cuda(d, s);
  expect_close(o.alpha, r.alpha, kTol, kTol, "alpha");
  expect_close(o.pooled, r.pooled, kTol * hscale, kTol, "pooled");
  expect_close(o.dh, r.dh, kTol * hscale, kTol, "dh");
  expect_close(o.dctx, r.dctx, sum_tol(s) * hscale * hscale, kTolSum, "dctx");
}

}  // namespace

TEST_CASE("cuda attention vs double reference: odd sizes" * doctest::test_suite("small")) {
  check_vs_reference({3, 2, 7, 5}, 200);      // T = 7, F = 5
  check_vs_reference({2, 1, 1, 17}, 210);     // T = 1, B = 1
  check_vs_reference({1, 33, 33, 1}, 220);    // F = 1, B = 33
  check_vs_reference({2, 3, 300, 48}, 230);   // T > block size; F not dividing the block
  check_vs_reference({1, 2, 9, 100}, 240);    // F = 100: a single time split, idle threads
  check_vs_reference({2, 3, 20, 200}, 250);   // F wider than the block: two feature passes
  check_vs_reference({40, 3, 6, 8}, 260);     // 40 groups: two pointer-table launches
  check_vs_reference({1, 7, 2000, 3}, 270);   // long sequence
}

TEST_CASE("cuda attention: large scores (max-shifted softmax), T = 1 passes h through" * doctest::test_suite("small")) {
  {
    // Scores up to +-600: exp would overflow without the max shift.
    const AttentionShape s{2, 3, 7, 4};
    check_vs_reference(s, 300, 50.0);
    const Data d = make_data(s, 301, 50.0);
    const CudaOut o = run_cuda(d, s);
    for (int row = 0; row < 6; ++row) {
      double sum = 0;
      for (int t = 0; t < 7; ++t) sum += o.alpha[static_cast<size_t>(row) * 7 + t];
      CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));
    }
    for (float v : o.pooled) CHECK(std::isfinite(v));
  }
  {
    // T = 1: alpha = 1, pooled = h, dh = dpooled, dctx = 0.
    const AttentionShape s{2, 3, 1, 5};
    const Data d = make_data(s, 310);
    const CudaOut o = run_cuda(d, s);
    for (float a : o.alpha) CHECK(a == 1.0f);
    CHECK(o.pooled == d.h);
    CHECK(o.dh == d.dp);
    for (float v : o.dctx) CHECK(v == 0.0f);
  }
}

TEST_CASE("cuda attention backward: Accumulate adds onto existing gradients") {
  for (const AttentionShape s : {AttentionShape{5, 16, 100, 64}, AttentionShape{1, 33, 5, 32}, AttentionShape{3, 2, 7, 5}}) {
    INFO(describe(s));
    const Data d = make_data(s, 400 + s.F);
    const RefOut r = reference(convert<double>(d.h), convert<double>(d.ctx), convert<double>(d.dp), s);
    const auto eh = random_vector<float>(nh(s), 401), ec = random_vector<float>(nc(s), 402);
    const Dev h(d.h), ctx(d.ctx), dp(d.dp), pooled(np(s), NAN), alpha(na(s), NAN), dh(eh), dctx(ec);
    const auto cp = groups<const float>(ctx.get(), s);
    const auto dcp = grad_groups<float>(dctx.get(), s, GradMode::Accumulate);
    cu::attention_forward(pooled.get(), alpha.get(), h.get(), cp.data(), s);
    cu::attention_backward({dh.get(), GradMode::Accumulate}, dcp.data(), dp.get(), h.get(), alpha.get(), cp.data(), s);
    std::vector<double> want_h(nh(s)), want_c(nc(s));
    for (size_t i = 0; i < want_h.size(); ++i) want_h[i] = r.dh[i] + eh[i];
    for (size_t i = 0; i < want_c.size(); ++i) want_c[i] = r.dctx[i] + ec[i];
    expect_close(dh.host(), want_h, kTol, kTol, "dh (accumulate)");
    expect_close(dctx.host(), want_c, sum_tol(s), kTolSum, "dctx (accumulate)");
  }
}

TEST_CASE("cuda attention backward: null pointers skip exactly that gradient; shared context buffer" * doctest::test_suite("small")) {
  const AttentionShape s{3, 4, 9, 6};
  const Data d = make_data(s, 500);
  const RefOut r = reference(convert<double>(d.h), convert<double>(d.ctx), convert<double>(d.dp), s);
  const Dev h(d.h), ctx(d.ctx), dp(d.dp), pooled(np(s), NAN), alpha(na(s), NAN);
  const auto cp = groups<const float>(ctx.get(), s);
  cu::attention_forward(pooled.get(), alpha.get(), h.get(), cp.data(), s);
  for (int mask = 0; mask < 16; ++mask) {
    INFO("mask=" << mask);
    const bool want_dh = mask & 1;
    const Dev dh(nh(s), NAN), dctx(nc(s), NAN);
    auto dcp = grad_groups<float>(dctx.get(), s, GradMode::Overwrite);
    for (int g = 0; g < 3; ++g)
      if (!(mask & (2 << g))) dcp[g].data = nullptr;
    cu::attention_backward({want_dh ? dh.get() : nullptr, GradMode::Overwrite}, dcp.data(), dp.get(), h.get(), alpha.get(),
                           cp.data(), s);
    const auto got_h = dh.host(), got_c = dctx.host();
    if (want_dh) {
      expect_close(got_h, r.dh, kTol, kTol, "dh");
    } else {
      bool untouched = true;
      for (float v : got_h) untouched = untouched && std::isnan(v);
      CHECK(untouched);
    }
    for (int g = 0; g < 3; ++g) {
      INFO("group " << g);
      const size_t o = static_cast<size_t>(g) * s.F;
      const std::vector<float> got(got_c.begin() + o, got_c.begin() + o + s.F);
      if (mask & (2 << g)) {
        expect_close(got, std::vector<double>(r.dctx.begin() + o, r.dctx.begin() + o + s.F), kTolSum, kTolSum, "dctx");
      } else {
        bool untouched = true;
        for (float v : got) untouched = untouched && std::isnan(v);
        CHECK(untouched);
      }
    }
  }
  {
    // A null dctx array: dh only.
    const Dev dh(nh(s), NAN);
    cu::attention_backward({dh.get(), GradMode::Overwrite}, nullptr, dp.get(), h.get(), alpha.get(), cp.data(), s);
    expect_close(dh.host(), r.dh, kTol, kTol, "dh, null dctx array");
  }
  {
    // One buffer for all three groups: Overwrite, then Accumulate twice -> the sum.
    const Dev shared(static_cast<size_t>(s.F), NAN);
    const std::vector<GradOut<float>> all{
        {shared.get(), GradMode::Overwrite}, {shared.get(), GradMode::Accumulate}, {shared.get(), GradMode::Accumulate}};
    cu::attention_backward({}, all.data(), dp.get(), h.get(), alpha.get(), cp.data(), s);
    std::vector<double> want(static_cast<size_t>(s.F));
    for (int f = 0; f < s.F; ++f) want[f] = r.dctx[f] + r.dctx[s.F + f] + r.dctx[2 * s.F + f];
    expect_close(shared.host(), want, kTolSum, kTolSum, "shared dctx buffer");
  }
  {
    // Nothing wanted: a no-op.
    const Dev dh(nh(s), NAN);
    const std::vector<GradOut<float>> none(3);
    cu::attention_backward({}, none.data(), dp.get(), h.get(), alpha.get(), cp.data(), s);
    bool untouched = true;
    for (float v : dh.host()) untouched = untouched && std::isnan(v);
    CHECK(untouched);
  }
}

TEST_CASE("cuda attention: agrees with the CPU fast kernels and is deterministic") {
  for (const AttentionShape s : {AttentionShape{5, 64, 100, 64}, AttentionShape{1, 64, 5, 32}, AttentionShape{2, 5, 13, 9}}) {
    INFO(describe(s));
    const Data d = make_data(s, 600 + s.F);
    const auto cp = groups<const float>(d.ctx.data(), s);
    std::vector<float> pooled(np(s)), alpha(na(s)), dh(nh(s)), dctx(nc(s));
    const auto dcp = grad_groups<float>(dctx.data(), s, GradMode::Overwrite);
    cpu::attention_forward(pooled.data(), alpha.data(), d.h.data(), cp.data(), s);
    cpu::attention_backward({dh.data(), GradMode::Overwrite}, dcp.data(), d.dp.data(), d.h.data(), alpha.data(), cp.data(), s);
    const CudaOut a = run_cuda(d, s), b = run_cuda(d, s);
    expect_close(a.alpha, alpha, kTol, kTol, "alpha");
    expect_close(a.pooled, pooled, kTol, kTol, "pooled");
    expect_close(a.dh, dh, kTol, kTol, "dh");
    expect_close(a.dctx, dctx, sum_tol(s), kTolSum, "dctx");
    CHECK(bit_identical(a.alpha, b.alpha));
    CHECK(bit_identical(a.pooled, b.pooled));
    CHECK(bit_identical(a.dh, b.dh));
    CHECK(bit_identical(a.dctx, b.dctx));
  }
}
