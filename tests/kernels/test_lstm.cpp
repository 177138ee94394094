// LSTM kernels: the double reference against a hand-checked case and central finite
// differences, the fast float kernels against the double reference on the AttentiveChrome
// sizes (forward, backward, Accumulate mode, skipped gradients) and across thread counts.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/contract/lstm.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;

using dc::GradOut;
using k::LstmParamGrads;
using k::LstmParams;
using k::LstmShape;
using namespace dc::test;

namespace {

std::string describe(LstmShape s) {
  return "G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " I=" +
         std::to_string(s.I) + " H=" + std::to_string(s.H) + " D=" + std::to_string(s.D);
}

size_t n_x(LstmShape s) { return static_cast<size_t>(s.G) * s.BT() * s.I; }
size_t n_y(LstmShape s) { return static_cast<size_t>(s.G) * s.BT() * s.D * s.H; }

// All pairs' weights, each kind concatenated over the pairs (pair p at p * size).
template <class T>
struct LstmData {
  LstmShape s;
  std::vector<T> x, w_ih, w_hh, b_ih, b_hh;

  LstmParams<T> params() const {
    LstmParams<T> p;
    const size_t G4 = 4 * static_cast<size_t>(s.H);
    for (int q = 0; q < s.P(); ++q) {
      p.w_ih.push_back(w_ih.data() + q * G4 * s.I);
      p.w_hh.push_back(w_hh.data() + q * G4 * s.H);
      p.b_ih.push_back(b_ih.data() + q * G4);
      p.b_hh.push_back(b_hh.data() + q * G4);
    }
    return p;
  }
};

// Weights U(-k, k) with torch's default k = 1/sqrt(H) times `wscale`; inputs U(-xscale, xscale).
LstmData<double> make_data(LstmShape s, uint64_t seed, double wscale = 1.0, double xscale = 1.0) {
  const double k = wscale / std::sqrt(static_cast<double>(s.H));
  const size_t G4 = 4 * static_cast<size_t>(s.H), P = static_cast<size_t>(s.P());
  return {s,
          random_vector<double>(n_x(s), seed, -xscale, xscale),
          random_vector<double>(P * G4 * s.I, seed + 1, -k, k),
          random_vector<double>(P * G4 * s.H, seed + 2, -k, k),
          random_vector<double>(P * G4, seed + 3, -k, k),
          random_vector<double>(P * G4, seed + 4, -k, k)};
}

LstmData<float> to_float(const LstmData<double>& d) {
  return {d.s, convert<float>(d.x), convert<float>(d.w_ih), convert<float>(d.w_hh), convert<float>(d.b_ih),
          convert<float>(d.b_hh)};
}

template <class T>
struct Grads {
  std::vector<T> dx, w_ih, w_hh, b_ih, b_hh;

  explicit Grads(const LstmData<double>& d, T fill = T(0))
      : dx(d.x.size(), fill), w_ih(d.w_ih.size(), fill), w_hh(d.w_hh.size(), fill), b_ih(d.b_ih.size(), fill),
        b_hh(d.b_hh.size(), fill) {}

  // mask bits: 1 w_ih, 2 w_hh, 4 b_ih, 8 b_hh (unset: null pointer, skipped)
  LstmParamGrads<T> outs(LstmShape s, GradMode mode, int mask = 15) {
    LstmParamGrads<T> g;
    const size_t G4 = 4 * static_cast<size_t>(s.H);
    for (int q = 0; q < s.P(); ++q) {
      g.w_ih.push_back({mask & 1 ? w_ih.data() + q * G4 * s.I : nullptr, mode});
      g.w_hh.push_back({mask & 2 ? w_hh.data() + q * G4 * s.H : nullptr, mode});
      g.b_ih.push_back({mask & 4 ? b_ih.data() + q * G4 : nullptr, mode});
      g.b_hh.push_back({mask & 8 ? b_hh.data() + q * G4 : nullptr, mode});
    }
    return g;
  }
};

struct Reference {
  std::vector<double> y;
  Grads<double> g;
};

// The double reference's forward and backward for dL/dy = dy.
Reference reference(const LstmData<double>& d, const std::vector<double>& dy) {
  const LstmShape s = d.s;
  Reference r{std::vector<double>(n_y(s)), Grads<double>(d)};
  std::vector<double> ws(static_cast<size_t>(k::lstm_workspace_size(s)));
  k::lstm_forward_reference(r.y.data(), ws.data(), d.x.data(), d.params(), s);
  k::lstm_backward_reference(out(r.g.dx), r.g.outs(s, GradMode::Overwrite), dy.data(), d.x.data(), r.y.data(),
                             d.params(), ws.data(), s);
  return r;
}

struct Fast {
  std::vector<float> y, ws;
  Grads<float> g;
};

// The fast kernels; gradients written with `mode` over buffers pre-filled with `fill`.
Fast fast(const LstmData<double>& d, const std::vector<float>& dy, GradMode mode, const Grads<float>* fill = nullptr,
          int mask = 15, bool want_dx = true) {
  const LstmShape s = d.s;
  const LstmData<float> f = to_float(d);
  Fast out{std::vector<float>(n_y(s), NAN), std::vector<float>(static_cast<size_t>(k::lstm_workspace_size(s)), NAN),
           fill ? *fill : Grads<float>(d, NAN)};
  k::cpu::lstm_forward(out.y.data(), out.ws.data(), f.x.data(), f.params(), s);
  k::cpu::lstm_backward({want_dx ? out.g.dx.data() : nullptr, mode}, out.g.outs(s, mode, mask), dy.data(), f.x.data(),
                         out.y.data(), f.params(), out.ws.data(), s);
  return out;
}

// Forward within 2e-6 + 2e-5 |r| of the double reference; gradients (sums over up to
// B*T = 1600 steps of products) within 1e-5 + 1e-4 |r|.
constexpr double kFwdTol = 2e-6, kFwdRel = 2e-5, kGradTol = 1e-5, kGradRel = 1e-4;

void check_fast_vs_reference(LstmShape s, uint64_t seed, double wscale, double xscale) {
  INFO(describe(s) << " wscale=" << wscale << " xscale=" << xscale);
  const LstmData<double> d = make_data(s, seed, wscale, xscale);
  const auto dyf = random_vector<float>(n_y(s), seed + 9);
  const Reference r = reference(d, convert<double>(dyf));
  const Fast f = fast(d, dyf, GradMode::Overwrite);
  expect_close(f.y, r.y, kFwdTol, kFwdRel, "y");
  expect_close(f.g.dx, r.g.dx, kGradTol, kGradRel, "dx");
  expect_close(f.g.w_ih, r.g.w_ih, kGradTol, kGradRel, "dw_ih");
  expect_close(f.g.w_hh, r.g.w_hh, kGradTol, kGradRel, "dw_hh");
  expect_close(f.g.b_ih, r.g.b_ih, kGradTol, kGradRel, "db_ih");
  expect_close(f.g.b_hh, r.g.b_hh, kGradTol, kGradRel, "db_hh");
  // The forward without a workspace (inference) gives the same bits.
  std::vector<float> y2(n_y(s), NAN);
  const LstmData<float> df = to_float(d);
  k::cpu::lstm_forward(y2.data(), nullptr, df.x.data(), df.params(), s);
  CHECK(bit_identical(y2, f.y));
}

}  // namespace

TEST_CASE("lstm reference: hand-checked T=1, H=1 (both directions)") {
  // x = 2, w_ih = [0.25, 0.5, 0, -0.5], b_ih + b_hh = [-0.5, 0, ln(3)/2, 1]
  //   a = [0, 1, ln(3)/2, 0] -> i = 1/2, f = sigmoid(1), g = tanh(ln(3)/2) = 1/2, o = 1/2
  //   c = f * 0 + i g = 1/4, h = o tanh(1/4) = tanh(0.25) / 2 = 0.12245933...
  // dy = 1: dc = o (1 - tanh(1/4)^2), da_i = dc g i (1-i) = dc / 8, da_f = dc c_prev ... = 0,
  //   da_g = dc i (1 - g^2) = 3 dc / 8, da_o = tanh(1/4) o (1-o) = tanh(1/4) / 4
  //   db = da, dw_ih = da x = 2 da, dw_hh = da h_prev = 0, dx = w_ih . da = da_i / 4 - da_o / 2
  const LstmShape s{1, 1, 1, 1, 1, 2};
  const double ln3h = std::log(3.0) / 2;
  const LstmData<double> d{s,
                           {2},
                           {0.25, 0.5, 0, -0.5, 0.25, 0.5, 0, -0.5},
                           {7, -3, 5, 9, 7, -3, 5, 9},  // w_hh: no effect at T = 1 (h_prev = 0)
                           {-1, 0.5, ln3h - 0.125, 0.75, -1, 0.5, ln3h - 0.125, 0.75},
                           {0.5, -0.5, 0.125, 0.25, 0.5, -0.5, 0.125, 0.25}};
  const double tc = std::tanh(0.25), h = tc / 2, dc = 0.5 * (1 - tc * tc);
  const std::vector<double> da = {dc / 8, 0, 3 * dc / 8, tc / 4};
  const Reference r = reference(d, {1, 1});
  CHECK(h == doctest::Approx(0.1224593311).epsilon(1e-9));
  expect_close(r.y, std::vector<double>{h, h}, 1e-15, 1e-14, "y");
  const std::vector<double> da2 = {da[0], da[1], da[2], da[3], da[0], da[1], da[2], da[3]};
  expect_close(r.g.b_ih, da2, 1e-15, 1e-14, "db_ih");
  expect_close(r.g.b_hh, da2, 1e-15, 1e-14, "db_hh");
  std::vector<double> dw_ih(8);
  for (int k = 0; k < 8; ++k) dw_ih[k] = 2 * da2[k];
  expect_close(r.g.w_ih, dw_ih, 1e-15, 1e-14, "dw_ih");
  expect_close(r.g.w_hh, std::vector<double>(8, 0.0), 0, 0, "dw_hh");
  expect_close(r.g.dx, std::vector<double>{2 * (da[0] / 4 - da[3] / 2)}, 1e-15, 1e-14, "dx");

  // The fast kernels on the same numbers.
  const Fast f = fast(d, {1, 1}, GradMode::Overwrite);
  expect_close(f.y, r.y, 1e-7, 1e-6, "fast y");
  expect_close(f.g.b_ih, r.g.b_ih, 1e-7, 1e-6, "fast db_ih");
  expect_close(f.g.w_ih, r.g.w_ih, 1e-7, 1e-6, "fast dw_ih");
  expect_close(f.g.w_hh, r.g.w_hh, 0, 0, "fast dw_hh");
  expect_close(f.g.dx, r.g.dx, 1e-7, 1e-6, "fast dx");
}

TEST_CASE("lstm reference: T=2 recurrence by hand (H=1, reverse direction sees x in reverse)") {
  // One unit, all gates' pre-activations = w x + u h_prev: w_ih = [1,1,1,1] * wi, w_hh = u.
  // Forward direction: step 0 reads x0, step 1 reads x1 with h_prev = h(x0).
  // Reverse direction: output at t = 1 is its first step (x1 alone), at t = 0 reads x0
  // with h_prev = its state at t = 1.
  const LstmShape s{1, 1, 2, 1, 1, 2};
  const double x0 = 0.7, x1 = -0.4, wi = 0.9, u = -1.3;
  const LstmData<double> d{s, {x0, x1}, {wi, wi, wi, wi, wi, wi, wi, wi}, {u, u, u, u, u, u, u, u},
                           std::vector<double>(8, 0.0), std::vector<double>(8, 0.0)};
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  auto cell = [&](double x, double h, double c, double* c_out) {
    const double a = wi * x + u * h;
    const double cn = sig(a) * c + sig(a) * std::tanh(a);
    *c_out = cn;
    return sig(a) * std::tanh(cn);
  };
  double cf0, cf1, cr1, cr0;
  const double hf0 = cell(x0, 0, 0, &cf0), hf1 = cell(x1, hf0, cf0, &cf1);
  const double hr1 = cell(x1, 0, 0, &cr1), hr0 = cell(x0, hr1, cr1, &cr0);
  std::vector<double> y(4), ws(static_cast<size_t>(k::lstm_workspace_size(s)));
  k::lstm_forward_reference(y.data(), ws.data(), d.x.data(), d.params(), s);
  // y (1, 1, 2, 2): [t=0: fwd, rev], [t=1: fwd, rev]
  expect_close(y, std::vector<double>{hf0, hr0, hf1, hr1}, 1e-15, 1e-13, "y");
  // workspace: c of pair 1 (reverse) at rows t = 0, 1 sits after pair 0's
  const size_t c_off = static_cast<size_t>(2 * 2 * 4);
  expect_close(std::vector<double>(ws.begin() + c_off, ws.begin() + c_off + 4), std::vector<double>{cf0, cf1, cr0, cr1},
               1e-15, 1e-13, "workspace c");
}

TEST_CASE("lstm fast kernels: every vector width (AVX-512, AVX2, SSE code paths) matches the reference") {
  // Runs the narrower code paths on a wider CPU too (each width is compiled for its own
  // instruction set, all of which a wider CPU also runs).
  struct Restore {
    ~Restore() { k::cpu::lstm_limit_lanes(0); }
  } restore;
  const int best = k::cpu::lstm_limit_lanes(0);
  for (int lanes : {16, 8, 4}) {
    if (lanes > best) continue;
    REQUIRE(k::cpu::lstm_limit_lanes(lanes) == lanes);
    INFO("vector lanes " << lanes);
    check_fast_vs_reference({5, 3, 100, 1, 32, 2}, 600, 1.0, 1.0);
    check_fast_vs_reference({1, 9, 5, 64, 16, 2}, 610, 1.0, 1.0);
    check_fast_vs_reference({2, 5, 7, 3, 20, 1}, 620, 1.0, 1.0);
    check_fast_vs_reference({1, 13, 6, 17, 44, 2}, 630, 1.0, 1.0);
  }
}

TEST_CASE("lstm fast kernels: every vector width gives the same bits for 1 and 2 threads") {
  struct Restore {
    ~Restore() { k::cpu::lstm_limit_lanes(0); }
  } restore;
  const int best = k::cpu::lstm_limit_lanes(0);
  for (int lanes : {16, 8, 4}) {
    if (lanes > best) continue;
    REQUIRE(k::cpu::lstm_limit_lanes(lanes) == lanes);
    INFO("vector lanes " << lanes);
    const LstmShape s{1, 16, 20, 5, 32, 2};
    const LstmData<double> d = make_data(s, 640);
    const auto dyf = random_vector<float>(n_y(s), 641);
    auto run = [&](int threads) {
      ThreadCount tc(threads);
      return fast(d, dyf, GradMode::Overwrite);
    };
    const Fast a = run(1), b = run(2);
    CHECK(bit_identical(a.y, b.y));
    CHECK(bit_identical(a.g.dx, b.g.dx));
    CHECK(bit_identical(a.g.w_hh, b.g.w_hh));
    CHECK(bit_identical(a.g.w_ih, b.g.w_ih));
    CHECK(bit_identical(a.g.b_ih, b.g.b_ih));
  }
}
