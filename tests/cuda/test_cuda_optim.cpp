// CUDA optimizer kernels against their CPU twins (kernels/contract/optim.h; not in the op
// table, which holds the differentiable ops): several SGD and
// Adam steps (momentum / none, weight decay, a step without a gradient), at n = 1, 7, the
// AttentiveChrome parameter count (55681) and 1000003, aligned and off 16-byte alignment;
// the gradient sum of squares (accumulating into one device double, deterministic run to
// run) and clip_scale both when it clips and when it does not, as engine/optim.cpp uses them.
//
// The device evaluates the CPU's formulas in the CPU's order with separately rounded
// operations, so the updates are bit-identical to the CPU twin when the host build has no
// FMA; with FMA (-march=native) the CPU may fuse a multiply-add, and a few ulps are allowed.
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/contract/optim.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
namespace cpu = dc::kernels::cpu;
using dc::test::expect_close;
using dc::test::random_vector;
using Dev = dc::test::DeviceVector<float>;

namespace {

#ifdef __FMA__
constexpr double kAtol = 1e-7, kRtol = 2e-6;
#else
constexpr double kAtol = 0.0, kRtol = 0.0;
#endif

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// One device double (allocated as two floats' worth and more).
class DevDouble {
 public:
  explicit DevDouble(double v) : p_(static_cast<double*>(cu::raw_malloc(sizeof(double)))) { set(v); }
  ~DevDouble() {
    try {
      cu::raw_free(p_);
    } catch (...) {
    }
  }
  DevDouble(const DevDouble&) = delete;
  DevDouble& operator=(const DevDouble&) = delete;
  double* get() const { return p_; }
  void set(double v) { cu::copy_to_device(p_, &v, sizeof(double)); }
  double value() const {
    double v = 0;
    cu::copy_to_host(&v, p_, sizeof(double));
    return v;
  }

 private:
  double* p_;
};

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof(double)) == 0; }

// The CPU twin's sum of squares of g, from zero.
double sum_squares(const std::vector<float>& g) {
  double total = 0;
  cpu::sum_squares_accumulate(&total, g.data(), static_cast<int64_t>(g.size()));
  return total;
}

size_t count_changed(const std::vector<float>& a, const std::vector<float>& b) {
  size_t k = 0;
  for (size_t i = 0; i < a.size(); ++i) k += a[i] != b[i];
  return k;
}

const std::vector<size_t> kSizes = {1, 7, 55681, 1000003};

}  // namespace

TEST_CASE("cuda optim: sgd_update matches the CPU over several steps") {
  struct Config {
    float momentum, weight_decay;
    bool with_buf;
  };
  for (Config cfg : {Config{0.0f, 0.0f, false}, Config{0.0f, 1e-2f, false}, Config{0.9f, 0.0f, true}, Config{0.9f, 1e-2f, true}})
    for (size_t n : kSizes)
      for (size_t offset : {size_t{0}, size_t{1}}) {
        const std::string what = "momentum=" + std::to_string(cfg.momentum) + " wd=" + std::to_string(cfg.weight_decay) +
                                 " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
        CAPTURE(what);
        const int64_t N = static_cast<int64_t>(n);
        std::vector<float> p = random_vector<float>(n, 211 + n), buf(n, kNaN);  // the first step must not read buf
        const std::vector<float> p0 = p;
        Dev d_p(p, offset), d_buf(buf, offset), d_g(std::vector<float>(n, 0.0f), offset);
        const float lr = 0.05f;
        for (int step = 0; step < 4; ++step) {
          const bool no_grad = step == 2;  // "no gradient this step": g is null
          const std::vector<float> g = random_vector<float>(n, 223 + n + static_cast<uint64_t>(step), -2.0, 2.0);
          d_g.upload(g);
          cpu::sgd_update(p.data(), no_grad ? nullptr : g.data(), cfg.with_buf ? buf.data() : nullptr, N, lr, cfg.momentum,
                          cfg.weight_decay, step == 0);
          cu::sgd_update(d_p.get(), no_grad ? nullptr : d_g.get(), cfg.with_buf ? d_buf.get() : nullptr, N, lr, cfg.momentum,
                         cfg.weight_decay, step == 0);
          expect_close(d_p.host(), p, kAtol, kRtol, what + " p after step " + std::to_string(step));
          if (cfg.with_buf) expect_close(d_buf.host(), buf, kAtol, kRtol, what + " momentum after step " + std::to_string(step));
        }
        REQUIRE(count_changed(p, p0) == n);  // every parameter moved
        if (!cfg.with_buf) {                 // an unused buffer is never touched
          const std::vector<float> b = d_buf.host();
          for (float v : b) REQUIRE(std::isnan(v));
        }
      }
}

TEST_CASE("cuda optim: adam_update matches the CPU over several steps") {
  for (float weight_decay : {0.0f, 1e-2f})
    for (size_t n : kSizes)
      for (size_t offset : {size_t{0}, size_t{1}}) {
        const std::string what = "wd=" + std::to_string(weight_decay) + " n=" + std::to_string(n) + " offset=" + std::to_string(offset);
        CAPTURE(what);
        const int64_t N = static_cast<int64_t>(n);
        std::vector<float> p = random_vector<float>(n, 307 + n, -0.1, 0.1), m(n, 0.0f), v(n, 0.0f);
        const std::vector<float> p0 = p;
        Dev d_p(p, offset), d_m(m, offset), d_v(v, offset), d_g(std::vector<float>(n, 0.0f), offset);
        const float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
        for (int64_t step = 1; step <= 5; ++step) {
          const bool no_grad = step == 3;
          // Mixed scales: tiny gradients make eps and the sqrt matter, large ones the moments.
          std::vector<float> g = random_vector<float>(n, 311 + n + static_cast<uint64_t>(step), -1.0, 1.0);
          for (size_t i = 0; i < n; i += 3) g[i] *= 1e-6f;
          d_g.upload(g);
          cpu::adam_update(p.data(), no_grad ? nullptr : g.data(), m.data(), v.data(), N, lr, beta1, beta2, eps, weight_decay, step);
          cu::adam_update(d_p.get(), no_grad ? nullptr : d_g.get(), d_m.get(), d_v.get(), N, lr, beta1, beta2, eps, weight_decay,
                          step);
          const std::string at = " after step " + std::to_string(step);
          expect_close(d_m.host(), m, kAtol, kRtol, what + " m" + at);
          expect_close(d_v.host(), v, kAtol * 0.1, kRtol, what + " v" + at);
          expect_close(d_p.host(), p, kAtol * 0.1, kRtol, what + " p" + at);
        }
        REQUIRE(count_changed(p, p0) == n);
      }
}

TEST_CASE("cuda optim: rmsprop_update matches the CPU over several steps") {
  for (size_t n : kSizes)
    for (size_t offset : {size_t{0}, size_t{1}}) {
      const std::string what = "n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      CAPTURE(what);
      const int64_t N = static_cast<int64_t>(n);
      std::vector<float> p = random_vector<float>(n, 401 + n, 0.0, 1.0), m(n, 0.0f);
      const std::vector<float> p0 = p;
      Dev d_p(p, offset), d_m(m, offset), d_g(std::vector<float>(n, 0.0f), offset);
      for (int step = 1; step <= 5; ++step) {
        const bool no_grad = step == 3;
        std::vector<float> g = random_vector<float>(n, 409 + n + static_cast<uint64_t>(step), -1.0, 1.0);
        for (size_t i = 0; i < n; i += 3) g[i] *= 1e-6f;
        d_g.upload(g);
        cpu::rmsprop_update(p.data(), no_grad ? nullptr : g.data(), m.data(), N, 0.1f, 0.99f, 1e-8f);
        cu::rmsprop_update(d_p.get(), no_grad ? nullptr : d_g.get(), d_m.get(), N, 0.1f, 0.99f, 1e-8f);
        const std::string at = " after step " + std::to_string(step);
        expect_close(d_m.host(), m, kAtol * 0.1, kRtol, what + " m" + at);
        expect_close(d_p.host(), p, kAtol, kRtol, what + " p" + at);
      }
      REQUIRE(count_changed(p, p0) == n);
    }
}

TEST_CASE("cuda optim: sum_squares_accumulate matches the CPU, accumulates, and is bit-identical run to run" * doctest::test_suite("small")) {
  for (size_t n : {size_t{1}, size_t{7}, size_t{4096}, size_t{4097}, size_t{55681}, size_t{1000003}, size_t{4194304 + 3}})
    for (size_t offset : {size_t{0}, size_t{1}}) {
      const std::string what = "n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      CAPTURE(what);
      const std::vector<float> g = random_vector<float>(n, 401 + n, -3.0, 3.0), h = random_vector<float>(n / 2 + 1, 409 + n);
      const double ref_g = sum_squares(g), ref_h = sum_squares(h);
      REQUIRE(ref_g > 0.0);
      Dev d_g(g, offset), d_h(h, offset);
      DevDouble total(2.5);
      cu::sum_squares_accumulate(total.get(), d_g.get(), static_cast<int64_t>(n));
      const double once = total.value();
      CHECK(std::fabs(once - (2.5 + ref_g)) <= 1e-10 * (2.5 + ref_g));
      cu::sum_squares_accumulate(total.get(), d_h.get(), static_cast<int64_t>(h.size()));
      CHECK(std::fabs(total.value() - (2.5 + ref_g + ref_h)) <= 1e-10 * (2.5 + ref_g + ref_h));
      for (int rep = 0; rep < 3; ++rep) {
        total.set(2.5);
        cu::sum_squares_accumulate(total.get(), d_g.get(), static_cast<int64_t>(n));
        CHECK(same_bits(total.value(), once));
      }
      // n = 0 adds nothing.
      total.set(2.5);
      cu::sum_squares_accumulate(total.get(), d_g.get(), 0);
      CHECK(total.value() == 2.5);
    }
}

TEST_CASE("cuda optim: clip_scale scales by max_norm / (norm + 1e-6) only when that is below 1") {
  for (size_t n : {size_t{1}, size_t{7}, size_t{55681}, size_t{1000003}})
    for (size_t offset : {size_t{0}, size_t{1}}) {
      const std::string what = "n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      CAPTURE(what);
      const std::vector<float> g = random_vector<float>(n, 503 + n, -2.0, 2.0);
      const double norm_ref = std::sqrt(sum_squares(g));
      REQUIRE(norm_ref > 0.0);
      for (double ratio : {0.25, 0.999, 1.5, 1e6}) {  // max_norm relative to the gradient's norm
        const double max_norm = ratio * norm_ref;
        CAPTURE(ratio);
        Dev d_g(g, offset);
        DevDouble total(0.0);
        cu::sum_squares_accumulate(total.get(), d_g.get(), static_cast<int64_t>(n));
        cu::clip_scale(d_g.get(), static_cast<int64_t>(n), total.get(), max_norm);
        // The reference: the CPU twin's clip_scale on the device's total (bit-exact), and
        // that total agrees with the CPU's sum of squares.
        const double t = total.value();
        CHECK(std::fabs(std::sqrt(t) - norm_ref) <= 1e-10 * norm_ref);
        std::vector<float> ref = g;
        cpu::clip_scale(ref.data(), static_cast<int64_t>(n), &t, max_norm);
        const std::vector<float> got = d_g.host();
        expect_close(got, ref, 0.0, 0.0, what + " clip");
        if (ratio < 1.0) {
          REQUIRE(count_changed(ref, g) > 0);  // clipping really happened
          double s = 0;
          for (float x : got) s += static_cast<double>(x) * x;
          const double expected = max_norm * norm_ref / (norm_ref + 1e-6);  // the clipped norm
          CHECK(std::fabs(std::sqrt(s) - expected) <= 1e-5 * expected);
        } else {
          CHECK(std::memcmp(got.data(), g.data(), n * sizeof(float)) == 0);  // untouched, bit for bit
        }
      }
    }
}

TEST_CASE("cuda optim: clipping several gradients through one device total, as the engine does" * doctest::test_suite("small")) {
  const std::vector<size_t> sizes = {4480, 128, 1, 5248, 32, 1000003};
  std::vector<std::vector<float>> gs;
  double total_ref = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    gs.push_back(random_vector<float>(sizes[i], 601 + i, -0.5, 0.5));
    total_ref += sum_squares(gs.back());
  }
  const double max_norm = 1.0;
  REQUIRE(std::sqrt(total_ref) > 10 * max_norm);
  std::vector<std::unique_ptr<Dev>> d;
  for (const auto& g : gs) d.push_back(std::make_unique<Dev>(g));
  DevDouble total(0.0);
  for (size_t i = 0; i < gs.size(); ++i) cu::sum_squares_accumulate(total.get(), d[i]->get(), static_cast<int64_t>(sizes[i]));
  for (size_t i = 0; i < gs.size(); ++i) cu::clip_scale(d[i]->get(), static_cast<int64_t>(sizes[i]), total.get(), max_norm);
  const double t = total.value();
  CHECK(std::fabs(t - total_ref) <= 1e-10 * total_ref);
  double s = 0;
  for (size_t i = 0; i < gs.size(); ++i) {
    std::vector<float> ref = gs[i];
    cpu::clip_scale(ref.data(), static_cast<int64_t>(ref.size()), &t, max_norm);
    const std::vector<float> got = d[i]->host();
    expect_close(got, ref, 0.0, 0.0, "gradient " + std::to_string(i));
    for (float x : got) s += static_cast<double>(x) * x;
  }
  CHECK(std::fabs(std::sqrt(s) - max_norm) <= 1e-5);
}
