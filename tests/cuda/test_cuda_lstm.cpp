// CUDA LSTM kernels against the double reference (kernels/contract/lstm.h) and the CPU fast
// kernels: forward outputs and every gradient, at the AttentiveChrome sizes and at odd
// ones (T = 1, B = 1, B = 33, H = 5, D = 1, wide inputs, large H), under every forced
// kernel configuration (sequences per thread, lanes per hidden unit, weights in shared or
// global memory), Accumulate mode, null gradient pointers, null biases, inference without
// a workspace, run-to-run determinism.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/base/error.h"
#include "kernels/contract/lstm.h"
#include "kernels/cuda/lstm.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
using dc::GradMode;
using dc::GradOut;
namespace cpu = dc::kernels::cpu;
using dc::kernels::LstmParamGrads;
using dc::kernels::LstmParams;
using dc::kernels::LstmShape;
using namespace dc::test;

namespace {

std::string describe(LstmShape s) {
  return "G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) + " I=" +
         std::to_string(s.I) + " H=" + std::to_string(s.H) + " D=" + std::to_string(s.D);
}

std::string describe(cu::LstmTuning t) {
  if (t.nb == 0) return std::string("automatic config") + (t.global_weights ? ", global weights" : "");
  return "nb=" + std::to_string(t.nb) + " ks=" + std::to_string(t.ks) + (t.global_weights ? " global weights" : "");
}

size_t n_x(LstmShape s) { return static_cast<size_t>(s.G) * s.BT() * s.I; }
size_t n_y(LstmShape s) { return static_cast<size_t>(s.G) * s.BT() * s.D * s.H; }
size_t n_ws(LstmShape s) { return static_cast<size_t>(dc::kernels::lstm_workspace_size(s)); }

// All pairs' weights, each kind concatenated over the pairs (pair p at p * size).
template <class T>
struct LstmData {
  LstmShape s;
  std::vector<T> x, w_ih, w_hh, b_ih, b_hh;
  bool biases = true;  // false: null bias pointers (count as zero)
};

// Weights U(-k, k) with torch's k = 1/sqrt(H) times `wscale`; inputs U(-xscale, xscale).
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

// Pointers to each pair's weights inside the concatenated buffers (host or device).
template <class T>
LstmParams<T> params_of(LstmShape s, const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, bool biases) {
  LstmParams<T> p;
  const size_t G4 = 4 * static_cast<size_t>(s.H);
  for (int q = 0; q < s.P(); ++q) {
    p.w_ih.push_back(w_ih + q * G4 * s.I);
    p.w_hh.push_back(w_hh + q * G4 * s.H);
    p.b_ih.push_back(biases ? b_ih + q * G4 : nullptr);
    p.b_hh.push_back(biases ? b_hh + q * G4 : nullptr);
  }
  return p;
}

template <class T>
struct Grads {
  std::vector<T> dx, w_ih, w_hh, b_ih, b_hh;
};

template <class T>
Grads<T> filled(const LstmData<double>& d, T v) {
  return {std::vector<T>(d.x.size(), v), std::vector<T>(d.w_ih.size(), v), std::vector<T>(d.w_hh.size(), v),
          std::vector<T>(d.b_ih.size(), v), std::vector<T>(d.b_hh.size(), v)};
}

// mask bits: 1 w_ih, 2 w_hh, 4 b_ih, 8 b_hh (unset: null pointer, skipped)
template <class T>
LstmParamGrads<T> grad_outs(LstmShape s, T* w_ih, T* w_hh, T* b_ih, T* b_hh, GradMode mode, int mask) {
  LstmParamGrads<T> g;
  const size_t G4 = 4 * static_cast<size_t>(s.H);
  for (int q = 0; q < s.P(); ++q) {
    g.w_ih.push_back({mask & 1 ? w_ih + q * G4 * s.I : nullptr, mode});
    g.w_hh.push_back({mask & 2 ? w_hh + q * G4 * s.H : nullptr, mode});
    g.b_ih.push_back({mask & 4 ? b_ih + q * G4 : nullptr, mode});
    g.b_hh.push_back({mask & 8 ? b_hh + q * G4 : nullptr, mode});
  }
  return g;
}

struct Reference {
  std::vector<double> y;
  Grads<double> g;
};

// The double reference's forward and backward for dL/dy = dy (Overwrite, every gradient).
Reference reference(const LstmData<double>& d, const std::vector<double>& dy) {
  const LstmShape s = d.s;
  Reference r{std::vector<double>(n_y(s)), filled<double>(d, 0.0)};
  std::vector<double> ws(n_ws(s));
  const auto p = params_of(s, d.w_ih.data(), d.w_hh.data(), d.b_ih.data(), d.b_hh.data(), d.biases);
  dc::kernels::lstm_forward_reference(r.y.data(), ws.data(), d.x.data(), p, s);
  dc::kernels::lstm_backward_reference(GradOut<double>{r.g.dx.data(), GradMode::Overwrite},
                                       grad_outs(s, r.g.w_ih.data(), r.g.w_hh.data(), r.g.b_ih.data(), r.g.b_hh.data(),
                                                 GradMode::Overwrite, 15),
                                       dy.data(), d.x.data(), r.y.data(), p, ws.data(), s);
  return r;
}

struct Result {
  std::vector<float> y, y_no_ws;
  Grads<float> g;
};

struct RunOptions {
  GradMode mode = GradMode::Overwrite;
  const Grads<float>* fill = nullptr;  // gradient buffers' initial contents (default NaN)
  int mask = 15;
  bool want_dx = true;
  bool inference_too = false;  // also run the forward without a workspace (y_no_ws)
};

// The CUDA kernels on device copies of the data; everything comes back to the host.
Result run_cuda(const LstmData<double>& d, const std::vector<float>& dy, const RunOptions& o = {}) {
  const LstmShape s = d.s;
  const Dev x(convert<float>(d.x)), w_ih(convert<float>(d.w_ih)), w_hh(convert<float>(d.w_hh)),
      b_ih(convert<float>(d.b_ih)), b_hh(convert<float>(d.b_hh)), ddy(dy);
  const auto p = params_of<float>(s, w_ih.get(), w_hh.get(), b_ih.get(), b_hh.get(), d.biases);
  const Dev y(n_y(s), NAN), ws(n_ws(s), NAN);
  const Grads<float> init = o.fill ? *o.fill : filled<float>(d, NAN);
  const Dev dx(init.dx), gw_ih(init.w_ih), gw_hh(init.w_hh), gb_ih(init.b_ih), gb_hh(init.b_hh);
  cu::lstm_forward(y.get(), ws.get(), x.get(), p, s);
  cu::lstm_backward({o.want_dx ? dx.get() : nullptr, o.mode},
                    grad_outs(s, gw_ih.get(), gw_hh.get(), gb_ih.get(), gb_hh.get(), o.mode, o.mask), ddy.get(), x.get(),
                    y.get(), p, ws.get(), s);
  Result r{y.host(), {}, {dx.host(), gw_ih.host(), gw_hh.host(), gb_ih.host(), gb_hh.host()}};
  if (o.inference_too) {
    const Dev y2(n_y(s), NAN);
    cu::lstm_forward(y2.get(), nullptr, x.get(), p, s);
    r.y_no_ws = y2.host();
  }
  cu::synchronize();  // surfaces any asynchronous fault here
  return r;
}

// Forward within 2e-6 + 2e-5 |r| of the double reference (as the CPU fast kernels);
// gradients (sums over B*T steps of products, with cancellation) within
// kGradTol * sqrt(B*T / 1600) + kGradScale * max|r| + 1e-4 |r|: float sums of terms of
// the gradient's own scale. (The CPU fast kernels need the max|r| term too: 2e-6 max|r|
// on dW_hh at B = 64, T = 100 with weights 3x torch's scale.)
constexpr double kFwdTol = 2e-6, kFwdRel = 2e-5, kGradTol = 1e-5, kGradScale = 1e-5, kGradRel = 1e-4;

double grad_tol(LstmShape s) { return kGradTol * std::max(1.0, std::sqrt(static_cast<double>(s.BT()) / 1600.0)); }

template <class R>
void expect_grad(const std::vector<float>& got, const std::vector<R>& ref, LstmShape s, const char* what) {
  double scale = 0;
  for (const R v : ref) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  expect_close(got, ref, grad_tol(s) + kGradScale * scale, kGradRel, what);
}

std::vector<double> plus(const std::vector<double>& a, const std::vector<float>& b) {
  std::vector<double> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] + b[i];
  return out;
}

void check_all(const Result& got, const Reference& r, LstmShape s) {
  expect_close(got.y, r.y, kFwdTol, kFwdRel, "y");
  expect_grad(got.g.dx, r.g.dx, s, "dx");
  expect_grad(got.g.w_ih, r.g.w_ih, s, "dw_ih");
  expect_grad(got.g.w_hh, r.g.w_hh, s, "dw_hh");
  expect_grad(got.g.b_ih, r.g.b_ih, s, "db_ih");
  expect_grad(got.g.b_hh, r.g.b_hh, s, "db_hh");
}

// Sets the kernels' configuration for a scope and restores the previous one.
class Tuning {
 public:
  explicit Tuning(cu::LstmTuning t) : previous_(cu::lstm_set_tuning(t)) {}
  ~Tuning() { cu::lstm_set_tuning(previous_); }
  Tuning(const Tuning&) = delete;
  Tuning& operator=(const Tuning&) = delete;

 private:
  cu::LstmTuning previous_;
};

// Every forced configuration, then the automatic one (weights and inputs staged in shared
// memory or read from global memory).
std::vector<cu::LstmTuning> all_tunings() {
  std::vector<cu::LstmTuning> v;
  for (int nb : {1, 2, 4})
    for (int ks : {1, 2, 4, 8})
      for (bool global : {false, true}) v.push_back({nb, ks, global});
  v.push_back({0, 1, false});
  v.push_back({0, 1, true});
  return v;
}

void check_vs_reference(LstmShape s, uint64_t seed, const std::vector<cu::LstmTuning>& tunings, double wscale = 1.0,
                        double xscale = 1.0, bool biases = true) {
  LstmData<double> d = make_data(s, seed, wscale, xscale);
  d.biases = biases;
  const auto dyf = random_vector<float>(n_y(s), seed + 9);
  const Reference r = reference(d, convert<double>(dyf));
  for (const cu::LstmTuning& t : tunings) {
    INFO(describe(s) << ", " << describe(t) << ", wscale=" << wscale << (biases ? "" : ", null biases"));
    const Tuning scope(t);
    RunOptions o;
    o.inference_too = true;
    const Result got = run_cuda(d, dyf, o);
    check_all(got, r, s);
    CHECK(bit_identical(got.y_no_ws, got.y));  // inference: the same bits without a workspace
  }
}

}  // namespace

TEST_CASE("cuda lstm vs double reference: AttentiveChrome sizes, automatic configuration") {
  const std::vector<cu::LstmTuning> automatic = {{0, 1, false}};
  // bin level (5 marks x 2 directions, I = 1, H = 32, T = 100) at batches that select each
  // automatic configuration on an H100 (132 SMs: 160, 400, 640 and 2560 sequences)
  check_vs_reference({5, 16, 100, 1, 32, 2}, 100, automatic);
  check_vs_reference({5, 40, 100, 1, 32, 2}, 110, automatic, 0.5, 3.0);
  check_vs_reference({5, 64, 100, 1, 32, 2}, 120, automatic, 3.0, 1.0);
  check_vs_reference({5, 256, 100, 1, 32, 2}, 130, automatic);
  // mark level (I = 64, H = 16, T = 5) and the `lstm` baseline (I = 5, H = 32)
  check_vs_reference({1, 16, 5, 64, 16, 2}, 140, automatic);
  check_vs_reference({1, 256, 5, 64, 16, 2}, 150, automatic, 2.0, 1.0);
  check_vs_reference({1, 16, 100, 5, 32, 2}, 160, automatic);
}

// Every forced configuration is split in two: small and odd sizes, cheap enough for
// compute-sanitizer racecheck (suite "small": with the other small cases they launch every
// instantiation of the recurrent kernels, both dx kernels, the weight-gradient reduction and
// the pointer-table split), and the AttentiveChrome sizes, the longest cases of the suite
// (suite "slow": left out of the memcheck run of scripts/gpu_check.sh).
TEST_CASE("cuda lstm vs double reference: every kernel configuration at small and odd sizes" *
          doctest::test_suite("small")) {
  const auto tunings = all_tunings();
  check_vs_reference({2, 5, 7, 3, 20, 1}, 220, tunings);       // T = 7, D = 1, H = 20
  check_vs_reference({3, 33, 7, 1, 5, 2}, 230, tunings, 2.0);  // H = 5 (4H not a multiple of 8), B = 33
  check_vs_reference({2, 1, 1, 1, 5, 2}, 240, tunings);        // T = 1, B = 1
  check_vs_reference({1, 1, 100, 1, 32, 1}, 250, tunings);     // B = 1, D = 1
  check_vs_reference({1, 13, 11, 17, 48, 1}, 260, tunings);    // I = 17 (dx: one thread per feature)
  check_vs_reference({1, 9, 6, 9, 40, 2}, 270, tunings);       // I = 9
  check_vs_reference({2, 7, 3, 8, 3, 2}, 280, tunings);        // I = 8 (the warp-per-row dx at its widest)
  check_vs_reference({9, 3, 4, 2, 6, 2}, 290, tunings);        // 18 pairs: two pointer-table launches
}

TEST_CASE("cuda lstm vs double reference: every kernel configuration at the AttentiveChrome sizes" *
          doctest::test_suite("slow")) {
  const auto tunings = all_tunings();
  check_vs_reference({5, 16, 100, 1, 32, 2}, 200, tunings);  // bin level
  check_vs_reference({1, 33, 5, 64, 16, 2}, 210, tunings);   // mark level, B = 33
}

TEST_CASE("cuda lstm vs double reference: large hidden sizes and wide inputs" * doctest::test_suite("small")) {
  const std::vector<cu::LstmTuning> some = {{0, 1, false}, {1, 1, false}, {1, 8, false}, {4, 1, true}};
  check_vs_reference({1, 2, 3, 64, 256, 2}, 300, some);  // weights do not fit in shared memory
  check_vs_reference({1, 2, 2, 1, 1024, 1}, 310, {{0, 1, false}, {1, 1, true}});  // 1024 threads per block
  check_vs_reference({1, 3, 4, 700, 8, 2}, 320, some);   // I*NB beyond the register prefetch of x
  check_vs_reference({1, 2, 300, 64, 8, 1}, 330, {{0, 1, false}});  // x too long to stage, weights staged
}

TEST_CASE("cuda lstm: null biases count as zero" * doctest::test_suite("small")) {
  check_vs_reference({5, 4, 20, 1, 32, 2}, 400, {{0, 1, false}}, 1.0, 1.0, false);
  check_vs_reference({1, 4, 5, 64, 16, 2}, 410, {{0, 1, false}}, 1.0, 1.0, false);
}

TEST_CASE("cuda lstm backward: Accumulate mode adds onto existing gradients") {
  for (const LstmShape s : {LstmShape{5, 16, 100, 1, 32, 2}, LstmShape{1, 16, 5, 64, 16, 2}, LstmShape{2, 5, 7, 3, 20, 1}}) {
    INFO(describe(s));
    const LstmData<double> d = make_data(s, 500 + s.I);
    const auto dyf = random_vector<float>(n_y(s), 501);
    const Reference r = reference(d, convert<double>(dyf));
    Grads<float> fill{random_vector<float>(d.x.size(), 502), random_vector<float>(d.w_ih.size(), 503),
                      random_vector<float>(d.w_hh.size(), 504), random_vector<float>(d.b_ih.size(), 505),
                      random_vector<float>(d.b_hh.size(), 506)};
    RunOptions o;
    o.mode = GradMode::Accumulate;
    o.fill = &fill;
    const Result got = run_cuda(d, dyf, o);
    expect_grad(got.g.dx, plus(r.g.dx, fill.dx), s, "dx");
    expect_grad(got.g.w_ih, plus(r.g.w_ih, fill.w_ih), s, "dw_ih");
    expect_grad(got.g.w_hh, plus(r.g.w_hh, fill.w_hh), s, "dw_hh");
    expect_grad(got.g.b_ih, plus(r.g.b_ih, fill.b_ih), s, "db_ih");
    expect_grad(got.g.b_hh, plus(r.g.b_hh, fill.b_hh), s, "db_hh");
  }
}

TEST_CASE("cuda lstm backward: null gradient pointers skip exactly that gradient" * doctest::test_suite("small")) {
  for (const LstmShape s : {LstmShape{2, 4, 6, 1, 16, 2}, LstmShape{1, 4, 5, 12, 16, 2}}) {
    const LstmData<double> d = make_data(s, 600 + s.I);
    const auto dyf = random_vector<float>(n_y(s), 601);
    const Reference r = reference(d, convert<double>(dyf));
    for (int mask = 0; mask < 32; ++mask) {
      INFO(describe(s) << " mask=" << mask);
      RunOptions o;
      o.mask = mask & 15;
      o.want_dx = (mask & 16) != 0;
      const Result got = run_cuda(d, dyf, o);  // buffers start as NaN
      expect_close(got.y, r.y, kFwdTol, kFwdRel, "y");
      auto check = [&](bool want, const std::vector<float>& v, const std::vector<double>& ref, const char* what) {
        INFO(what);
        if (want) {
          expect_grad(v, ref, s, what);
        } else {
          bool untouched = true;
          for (float e : v) untouched = untouched && std::isnan(e);
          CHECK(untouched);
        }
      };
      check(o.want_dx, got.g.dx, r.g.dx, "dx");
      check(mask & 1, got.g.w_ih, r.g.w_ih, "dw_ih");
      check(mask & 2, got.g.w_hh, r.g.w_hh, "dw_hh");
      check(mask & 4, got.g.b_ih, r.g.b_ih, "db_ih");
      check(mask & 8, got.g.b_hh, r.g.b_hh, "db_hh");
    }
  }
}

TEST_CASE("cuda lstm: agrees with the CPU fast kernels and is deterministic") {
  for (const LstmShape s : {LstmShape{5, 16, 100, 1, 32, 2}, LstmShape{5, 256, 100, 1, 32, 2}, LstmShape{1, 64, 5, 64, 16, 2},
                            LstmShape{1, 33, 100, 5, 32, 2}}) {
    INFO(describe(s));
    const LstmData<double> d = make_data(s, 700 + s.B);
    const auto dyf = random_vector<float>(n_y(s), 701);
    // The CPU fast kernels.
    const LstmData<float> f{s, convert<float>(d.x), convert<float>(d.w_ih), convert<float>(d.w_hh), convert<float>(d.b_ih),
                            convert<float>(d.b_hh)};
    const auto p = params_of(s, f.w_ih.data(), f.w_hh.data(), f.b_ih.data(), f.b_hh.data(), true);
    std::vector<float> y(n_y(s)), ws(n_ws(s));
    Grads<float> g = filled<float>(d, 0.0f);
    cpu::lstm_forward(y.data(), ws.data(), f.x.data(), p, s);
    cpu::lstm_backward({g.dx.data(), GradMode::Overwrite},
                       grad_outs(s, g.w_ih.data(), g.w_hh.data(), g.b_ih.data(), g.b_hh.data(), GradMode::Overwrite, 15),
                       dyf.data(), f.x.data(), y.data(), p, ws.data(), s);
    const Result a = run_cuda(d, dyf), b = run_cuda(d, dyf);
    const Reference cpu{convert<double>(y), {convert<double>(g.dx), convert<double>(g.w_ih), convert<double>(g.w_hh),
                                             convert<double>(g.b_ih), convert<double>(g.b_hh)}};
    check_all(a, cpu, s);
    CHECK(bit_identical(a.y, b.y));
    CHECK(bit_identical(a.g.dx, b.g.dx));
    CHECK(bit_identical(a.g.w_ih, b.g.w_ih));
    CHECK(bit_identical(a.g.w_hh, b.g.w_hh));
    CHECK(bit_identical(a.g.b_ih, b.g.b_ih));
    CHECK(bit_identical(a.g.b_hh, b.g.b_hh));
  }
}

TEST_CASE("cuda lstm: gradients of nothing is a no-op; hidden sizes beyond 1024 are an error" * doctest::test_suite("small")) {
  const LstmShape s{1, 2, 3, 2, 4, 2};
  const LstmData<double> d = make_data(s, 800);
  const auto dyf = random_vector<float>(n_y(s), 801);
  RunOptions o;
  o.mask = 0;
  o.want_dx = false;
  const Result got = run_cuda(d, dyf, o);
  bool untouched = true;
  for (const auto* v : {&got.g.dx, &got.g.w_ih, &got.g.w_hh, &got.g.b_ih, &got.g.b_hh})
    for (float e : *v) untouched = untouched && std::isnan(e);
  CHECK(untouched);
  CHECK(std::none_of(got.y.begin(), got.y.end(), [](float v) { return std::isnan(v); }));

  const LstmShape big{1, 1, 1, 1, 1025, 1};
  const Dev x(1, 0.0f), y(2 * 1025, 0.0f);
  LstmParams<float> p;
  p.w_ih = {x.get()};
  p.w_hh = {x.get()};
  p.b_ih = {nullptr};
  p.b_hh = {nullptr};
  CHECK_THROWS_AS(cu::lstm_forward(y.get(), nullptr, x.get(), p, big), dc::Error);
}
