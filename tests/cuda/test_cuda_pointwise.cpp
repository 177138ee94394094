// The CUDA pointwise, loss, sum and concat kernels where they go beyond the op table's
// checks (tests/cuda/test_cuda_op_table.cpp, which runs every op through the engine on both
// devices): pointers off 16-byte alignment (the scalar path against the float4 path), one
// buffer as both gradients of x + x and x * x, log-softmax of rows far from zero and of one
// class, the loss and sum reductions at sizes around their block limits (R = 1 / 257 / 6600
// rows, n up to 4M) and their run-to-run determinism, NLL with an out-of-range target, and
// concat over more inputs than one launch takes, with null and repeated gradients.
//
// Tolerances: copies, selects, adds and the products the kernels round separately are
// compared exactly (0 ulp) -- except a multiply-add whose CPU twin may be contracted into
// an FMA when the host is built with FMA (-march=native), then a few ulps. exp / log come
// from different math libraries (CUDA's and glibc's, each within 1-2 ulps), and the loss
// sums run in a different order (double tree on the device, float sequence on the CPU):
// those use the relative tolerances written at each check.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "kernels/contract/elementwise.h"
#include "kernels/contract/layout.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/reduce.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
namespace kern = dc::kernels;
namespace cpu = dc::kernels::cpu;
using dc::GradMode;
using dc::GradOut;
using dc::test::expect_close;
using dc::test::random_vector;
using Dev = dc::test::DeviceVector<float>;

namespace {

#ifdef __FMA__
constexpr double kMaddAtol = 3e-7, kMaddRtol = 4e-7;  // the CPU twin may fuse a*b + c; the device never does
#else
constexpr double kMaddAtol = 0.0, kMaddRtol = 0.0;
#endif

const float kNaN = std::numeric_limits<float>::quiet_NaN();

size_t count_nonzero(const std::vector<float>& v) {
  return static_cast<size_t>(std::count_if(v.begin(), v.end(), [](float x) { return x != 0.0f; }));
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(float)) == 0; }

// Activation inputs: U(-4, 4), exact zeros every 17th element (relu's kink), +-40 every
// 101st (sigmoid's both branches far out, tanh saturated).
std::vector<float> activation_input(size_t n, uint64_t seed) {
  std::vector<float> x = random_vector<float>(n, seed, -4.0, 4.0);
  for (size_t i = 0; i < n; i += 17) x[i] = 0.0f;
  for (size_t i = 5; i < n; i += 101) x[i] = (i / 101) % 2 ? 40.0f : -40.0f;
  return x;
}

}  // namespace

TEST_CASE("cuda pointwise: activations, add and mul give the same bits off 16-byte alignment (the scalar path) as the float4 path") {
  for (size_t n : {size_t{7}, size_t{1000003}}) {
    const int64_t N = static_cast<int64_t>(n);
    const std::vector<float> x = activation_input(n, 11 + n), b = random_vector<float>(n, 13 + n, -2.0, 2.0),
                             dy = random_vector<float>(n, 17 + n), acc = random_vector<float>(n, 19 + n);
    // Every kernel at both alignments; `run(offset)` returns each output in turn.
    auto run = [&](size_t offset) {
      std::vector<std::vector<float>> outs;
      Dev d_x(x, offset), d_b(b, offset), d_dy(dy, offset);
      for (kern::Activation a : {kern::Activation::Relu, kern::Activation::Tanh, kern::Activation::Sigmoid}) {
        Dev d_y(n, kNaN, offset), d_dx(n, kNaN, offset), d_acc(acc, offset);
        cu::activation_forward(d_y.get(), d_x.get(), N, a);
        cu::activation_backward({d_dx.get(), GradMode::Overwrite}, d_dy.get(), d_y.get(), N, a);
        cu::activation_backward({d_acc.get(), GradMode::Accumulate}, d_dy.get(), d_y.get(), N, a);
        outs.push_back(d_y.host());
        outs.push_back(d_dx.host());
        outs.push_back(d_acc.host());
      }
      for (kern::Binary op : {kern::Binary::Add, kern::Binary::Mul}) {
        Dev d_y(n, kNaN, offset), d_da(n, kNaN, offset), d_db(acc, offset);
        cu::binary_forward(d_y.get(), d_x.get(), d_b.get(), N, op);
        cu::binary_backward({d_da.get(), GradMode::Overwrite}, {d_db.get(), GradMode::Accumulate}, d_dy.get(), d_x.get(),
                            d_b.get(), N, op);
        outs.push_back(d_y.host());
        outs.push_back(d_da.host());
        outs.push_back(d_db.host());
      }
      return outs;
    };
    const auto aligned = run(0), offset = run(1);
    REQUIRE(aligned.size() == offset.size());
    for (size_t k = 0; k < aligned.size(); ++k) {
      CAPTURE(n);
      CAPTURE(k);  // (activation relu/tanh/sigmoid: y, dx, dx accumulated; then add/mul: y, da, db accumulated)
      if (n > 100) REQUIRE(count_nonzero(aligned[k]) > n / 3);
      CHECK(dc::test::bit_identical(offset[k], aligned[k]));
    }
    // And the float4 path is the CPU twin's (relu forward exactly; the others under the op
    // table's tolerances, as tests/cuda/test_cuda_op_table.cpp checks at the model sizes).
    std::vector<float> relu(n);
    cpu::activation_forward(relu.data(), x.data(), N, kern::Activation::Relu);
    CHECK(dc::test::bit_identical(aligned[0], relu));
  }
}

TEST_CASE("cuda pointwise: x + x and x * x (da and db the same buffer) sum both terms as on the CPU") {
  for (kern::Binary op : {kern::Binary::Add, kern::Binary::Mul})
    for (size_t offset : {size_t{0}, size_t{1}}) {
      const size_t n = 1001;
      const int64_t N = static_cast<int64_t>(n);
      const std::vector<float> x = random_vector<float>(n, 61), dy = random_vector<float>(n, 67);
      Dev d_x(x, offset), d_dy(dy, offset), d_g(n, kNaN, offset);
      std::vector<float> g_ref(n, 0.0f);
      // The engine hands out one buffer twice: first Overwrite, then Accumulate.
      cpu::binary_backward({g_ref.data(), GradMode::Overwrite}, {g_ref.data(), GradMode::Accumulate}, dy.data(), x.data(),
                           x.data(), N, op);
      cu::binary_backward({d_g.get(), GradMode::Overwrite}, {d_g.get(), GradMode::Accumulate}, d_dy.get(), d_x.get(), d_x.get(),
                          N, op);
      for (size_t i = 0; i < n; ++i) {  // the reference really is the sum of both terms
        const float term = op == kern::Binary::Add ? dy[i] : dy[i] * x[i];
        REQUIRE(std::fabs(g_ref[i] - 2.0f * term) <= 1e-6f * (1.0f + std::fabs(term)));
      }
      expect_close(d_g.host(), g_ref, 0.0, 0.0,
                   std::string(op == kern::Binary::Add ? "x + x" : "x * x") + " offset " + std::to_string(offset));
    }
}

TEST_CASE("cuda pointwise: log_softmax of rows far from zero (the max shift) and of one class, every row width" *
          doctest::test_suite("small")) {
  struct RC {
    int R, C;
  };
  for (RC s : {RC{1, 2}, RC{257, 2}, RC{257, 7}, RC{64, 33}, RC{3, 1000}, RC{5, 1}, RC{1, 1}}) {
    const std::string what = "R=" + std::to_string(s.R) + " C=" + std::to_string(s.C);
    CAPTURE(what);
    const size_t n = static_cast<size_t>(s.R) * s.C;
    std::vector<float> x = random_vector<float>(n, 71 + n, -5.0, 5.0);
    // Row 0 far out: exp(x) overflows float unless the row max is subtracted first.
    for (int c = 0; c < s.C; ++c) x[static_cast<size_t>(c)] += 100.0f;
    std::vector<float> y_ref(n);
    cpu::log_softmax_forward(y_ref.data(), x.data(), s.R, s.C);
    for (float v : y_ref) REQUIRE(std::isfinite(v));

    Dev d_x(x), d_y(n, kNaN);
    cu::log_softmax_forward(d_y.get(), d_x.get(), s.R, s.C);
    const std::vector<float> y = d_y.host();
    // y = x - lse: lse is rounded at the scale of |x| (up to 105 in row 0).
    size_t bad = 0, first_bad = n;
    for (size_t i = 0; i < n; ++i) {
      const double tol = 1e-6 + 2.5e-7 * std::fabs(x[i]) + 1e-6 * std::fabs(y_ref[i]);
      if (!(std::fabs(static_cast<double>(y[i]) - y_ref[i]) <= tol)) {
        if (bad++ == 0) first_bad = i;
      }
    }
    INFO("forward: " << bad << " mismatches; first at " << first_bad << ": got " << (bad ? y[first_bad] : 0.0f)
                     << ", expected " << (bad ? y_ref[first_bad] : 0.0f));
    CHECK(bad == 0);
    if (s.C == 1)
      for (float v : y) CHECK(v == 0.0f);  // log_softmax of one class is exactly 0

    const std::vector<float> dy = random_vector<float>(n, 73 + n);
    Dev d_dy(dy), d_yref(y_ref);
    for (GradMode mode : {GradMode::Overwrite, GradMode::Accumulate}) {
      const bool acc = mode == GradMode::Accumulate;
      std::vector<float> dx_ref = acc ? random_vector<float>(n, 79 + n) : std::vector<float>(n, 0.0f);
      Dev d_dx(acc ? dx_ref : std::vector<float>(n, kNaN));
      cpu::log_softmax_backward({dx_ref.data(), mode}, dy.data(), y_ref.data(), s.R, s.C);
      cu::log_softmax_backward({d_dx.get(), mode}, d_dy.get(), d_yref.get(), s.R, s.C);
      if (s.C > 1 && n > 2) REQUIRE(count_nonzero(dx_ref) > n / 2);
      expect_close(d_dx.host(), dx_ref, 1e-6, 1e-5, what + (acc ? " backward accumulate" : " backward overwrite"));
    }
    cu::log_softmax_backward({}, d_dy.get(), d_yref.get(), s.R, s.C);
    cu::synchronize();
  }
}

TEST_CASE("cuda pointwise: nll_loss forward and backward match the CPU, deterministically" * doctest::test_suite("small")) {
  struct RC {
    int R, C;
  };
  for (RC s : {RC{1, 2}, RC{257, 2}, RC{257, 7}, RC{6600, 2}}) {
    const std::string what = "R=" + std::to_string(s.R) + " C=" + std::to_string(s.C);
    CAPTURE(what);
    const size_t n = static_cast<size_t>(s.R) * s.C;
    const std::vector<float> x = random_vector<float>(n, 83 + n, -3.0, 3.0);
    std::vector<float> logp(n);
    cpu::log_softmax_forward(logp.data(), x.data(), s.R, s.C);
    std::vector<float> target = random_vector<float>(static_cast<size_t>(s.R), 89 + n, 0.0, s.C);
    for (float& t : target) t = std::min(std::floor(t), static_cast<float>(s.C - 1));

    float loss_ref = 0;
    cpu::nll_loss_forward(&loss_ref, logp.data(), target.data(), s.R, s.C);
    REQUIRE(loss_ref > 0.0f);
    Dev d_logp(logp), d_target(target), d_loss(1, kNaN);
    cu::nll_loss_forward(d_loss.get(), d_logp.get(), d_target.get(), s.R, s.C);
    const float loss = d_loss.scalar();
    // CPU: float running sum; device: double tree, rounded once.
    CHECK(std::fabs(loss - loss_ref) <= 2e-5 * std::fabs(loss_ref));
    for (int rep = 0; rep < 3; ++rep) {
      cu::nll_loss_forward(d_loss.get(), d_logp.get(), d_target.get(), s.R, s.C);
      CHECK(same_bits(d_loss.scalar(), loss));
    }

    const float dloss = 1.7f;
    Dev d_dloss(1, dloss);
    for (GradMode mode : {GradMode::Overwrite, GradMode::Accumulate}) {
      const bool acc = mode == GradMode::Accumulate;
      std::vector<float> d_ref = acc ? random_vector<float>(n, 97 + n) : std::vector<float>(n, 0.0f);
      Dev d_d(acc ? d_ref : std::vector<float>(n, kNaN));
      cpu::nll_loss_backward({d_ref.data(), mode}, &dloss, target.data(), s.R, s.C);
      cu::nll_loss_backward({d_d.get(), mode}, d_dloss.get(), d_target.get(), s.R, s.C);
      if (!acc) REQUIRE(count_nonzero(d_ref) == static_cast<size_t>(s.R));
      expect_close(d_d.host(), d_ref, 0.0, 0.0, what + (acc ? " backward accumulate" : " backward overwrite"));
    }
    cu::nll_loss_backward({}, d_dloss.get(), d_target.get(), s.R, s.C);
    cu::synchronize();
  }
}

TEST_CASE("cuda pointwise: nll_loss with a target outside [0, C) is NaN, not an out-of-bounds read" * doctest::test_suite("small")) {
  const std::vector<float> logp = {-0.1f, -2.3f, -0.7f, -0.7f};
  Dev d_logp(logp), d_target(std::vector<float>{0.0f, 2.0f}), d_loss(1, 0.0f);
  cu::nll_loss_forward(d_loss.get(), d_logp.get(), d_target.get(), 2, 2);
  CHECK(std::isnan(d_loss.scalar()));
}

TEST_CASE("cuda pointwise: bce_with_logits forward and backward match the CPU, deterministically" * doctest::test_suite("small")) {
  for (int R : {1, 16, 257, 6600}) {
    const std::string what = "R=" + std::to_string(R);
    CAPTURE(what);
    const size_t n = static_cast<size_t>(R);
    std::vector<float> z = random_vector<float>(n, 101 + n, -10.0, 10.0);
    for (size_t i = 3; i < n; i += 50) z[i] = (i / 50) % 2 ? 50.0f : -50.0f;  // log1p(exp(-|z|)) underflow side
    std::vector<float> t = random_vector<float>(n, 103 + n, 0.0, 1.0);
    for (size_t i = 0; i < n; ++i)
      if (i % 3 != 2) t[i] = t[i] < 0.5f ? 0.0f : 1.0f;  // mostly hard labels, some soft

    float loss_ref = 0;
    cpu::bce_with_logits_forward(&loss_ref, z.data(), t.data(), R);
    REQUIRE(loss_ref > 0.0f);
    Dev d_z(z), d_t(t), d_loss(1, kNaN);
    cu::bce_with_logits_forward(d_loss.get(), d_z.get(), d_t.get(), R);
    const float loss = d_loss.scalar();
    CHECK(std::fabs(loss - loss_ref) <= 2e-5 * std::fabs(loss_ref));
    for (int rep = 0; rep < 3; ++rep) {
      cu::bce_with_logits_forward(d_loss.get(), d_z.get(), d_t.get(), R);
      CHECK(same_bits(d_loss.scalar(), loss));
    }

    const float dloss = 0.8f;
    Dev d_dloss(1, dloss);
    for (GradMode mode : {GradMode::Overwrite, GradMode::Accumulate}) {
      const bool acc = mode == GradMode::Accumulate;
      std::vector<float> d_ref = acc ? random_vector<float>(n, 107 + n, -0.01, 0.01) : std::vector<float>(n, 0.0f);
      Dev d_d(acc ? d_ref : std::vector<float>(n, kNaN));
      cpu::bce_with_logits_backward({d_ref.data(), mode}, &dloss, z.data(), t.data(), R);
      cu::bce_with_logits_backward({d_d.get(), mode}, d_dloss.get(), d_z.get(), d_t.get(), R);
      if (n > 1) REQUIRE(count_nonzero(d_ref) > n / 2);
      // sigmoid from expf on each side (1-2 ulps apart); values ~ 1 / R.
      expect_close(d_d.host(), d_ref, 1e-7 / R, 1e-5, what + (acc ? " backward accumulate" : " backward overwrite"));
    }
    cu::bce_with_logits_backward({}, d_dloss.get(), d_z.get(), d_t.get(), R);
    cu::synchronize();
  }
}

TEST_CASE("cuda pointwise: sum matches the CPU and is bit-identical run to run" * doctest::test_suite("small")) {
  // Sizes around the one-block limit (4096) and the most-blocks limit (1024 * 4096), odd tails.
  for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{4096}, size_t{4097}, size_t{1000003}, size_t{4194304 + 5}})
    for (size_t offset : {size_t{0}, size_t{1}}) {
      const std::string what = "n=" + std::to_string(n) + " offset=" + std::to_string(offset);
      CAPTURE(what);
      const std::vector<float> x = random_vector<float>(n, 109 + n, -1.0, 3.0);
      float ref = 0;
      cpu::sum_forward(&ref, x.data(), static_cast<int64_t>(n), 1.0f);
      Dev d_x(x, offset), d_out(1, kNaN);
      cu::sum_forward(d_out.get(), d_x.get(), static_cast<int64_t>(n), 1.0f);
      const float got = d_out.scalar();
      if (n == 0) {
        CHECK(got == 0.0f);
        continue;
      }
      REQUIRE(ref != 0.0f);
      // Both sum in double and round once: equal up to the last bit near a rounding tie.
      CHECK(std::fabs(got - ref) <= 2.5e-7 * std::fabs(ref));
      for (int rep = 0; rep < 3; ++rep) {
        cu::sum_forward(d_out.get(), d_x.get(), static_cast<int64_t>(n), 1.0f);
        CHECK(same_bits(d_out.scalar(), got));
      }
    }
  // Exact when every partial sum is an integer below 2^53.
  const size_t n = 1000003;
  Dev ones(n, 1.0f), d_out(1, kNaN);
  cu::sum_forward(d_out.get(), ones.get(), static_cast<int64_t>(n), 1.0f);
  CHECK(d_out.scalar() == static_cast<float>(n));
}

TEST_CASE("cuda pointwise: concat forward and backward match the CPU (batches, null and repeated gradients)") {
  struct Case {
    std::vector<int64_t> lens;
    int64_t outer, inner;
  };
  std::vector<int64_t> eleven;
  for (int i = 0; i < 11; ++i) eleven.push_back(i % 3 + 1);  // more inputs than one launch takes (8)
  for (const Case& c : {Case{{2, 5, 1}, 4, 3}, Case{eleven, 3, 5}, Case{{1, 2}, 1000, 1}, Case{{1}, 1, 1}, Case{{7, 9}, 64, 64}}) {
    // The inputs, then input 0 once more when there are several (one tensor joined twice).
    const int n = static_cast<int>(c.lens.size());
    const bool repeat = n > 1;
    std::vector<int64_t> lens = c.lens;
    if (repeat) lens.push_back(c.lens[0]);
    const int nf = static_cast<int>(lens.size());
    int64_t total = 0;
    for (int64_t l : lens) total += l;
    const size_t ny = static_cast<size_t>(c.outer * total * c.inner);
    const std::string what = "inputs=" + std::to_string(nf) + " outer=" + std::to_string(c.outer) + " inner=" +
                             std::to_string(c.inner);
    CAPTURE(what);
    auto numel = [&](int i) { return static_cast<size_t>(c.outer * lens[static_cast<size_t>(i)] * c.inner); };

    std::vector<std::vector<float>> xs;
    std::vector<std::unique_ptr<Dev>> d_xs;
    std::vector<const float*> h_ptrs, d_ptrs;
    for (int i = 0; i < n; ++i) {
      xs.push_back(random_vector<float>(numel(i), 139 + static_cast<uint64_t>(i)));
      d_xs.push_back(std::make_unique<Dev>(xs.back()));
    }
    for (int i = 0; i < n; ++i) {
      h_ptrs.push_back(xs[static_cast<size_t>(i)].data());
      d_ptrs.push_back(d_xs[static_cast<size_t>(i)]->get());
    }
    if (repeat) {
      h_ptrs.push_back(h_ptrs[0]);
      d_ptrs.push_back(d_ptrs[0]);
    }
    std::vector<float> y_ref(ny);
    cpu::concat_forward(y_ref.data(), h_ptrs.data(), lens.data(), nf, c.outer, c.inner);
    Dev d_y(ny, kNaN);
    cu::concat_forward(d_y.get(), d_ptrs.data(), lens.data(), nf, c.outer, c.inner);
    expect_close(d_y.host(), y_ref, 0.0, 0.0, what + " forward");

    // Backward: input i's gradient Overwrite (even i) or Accumulate (odd i); input 1's
    // gradient null when there are three or more inputs; the repeated entry writes into
    // input 0's buffer with Accumulate, as the engine hands it out the second time.
    const std::vector<float> dy = random_vector<float>(ny, 149 + ny);
    Dev d_dy(dy);
    std::vector<std::vector<float>> g_ref;
    std::vector<std::unique_ptr<Dev>> d_g;
    std::vector<GradOut<float>> h_dxs, d_dxs;
    std::vector<GradMode> modes;
    for (int i = 0; i < n; ++i) {
      const GradMode mode = i % 2 ? GradMode::Accumulate : GradMode::Overwrite;
      const bool acc = mode == GradMode::Accumulate;
      g_ref.push_back(acc ? random_vector<float>(numel(i), 151 + static_cast<uint64_t>(i)) : std::vector<float>(numel(i), 0.0f));
      d_g.push_back(std::make_unique<Dev>(acc ? g_ref.back() : std::vector<float>(numel(i), kNaN)));
      modes.push_back(mode);
    }
    const bool has_null = n > 2;
    for (int i = 0; i < n; ++i) {
      const bool null = has_null && i == 1;
      const GradMode mode = modes[static_cast<size_t>(i)];
      h_dxs.push_back({null ? nullptr : g_ref[static_cast<size_t>(i)].data(), mode});
      d_dxs.push_back({null ? nullptr : d_g[static_cast<size_t>(i)]->get(), mode});
    }
    if (repeat) {  // input 0's buffer once more, as the engine hands it out the second time
      h_dxs.push_back({h_dxs[0].data, GradMode::Accumulate});
      d_dxs.push_back({d_dxs[0].data, GradMode::Accumulate});
    }
    const std::vector<float> null_start = has_null ? d_g[1]->host() : std::vector<float>{};
    cpu::concat_backward(h_dxs.data(), dy.data(), lens.data(), nf, c.outer, c.inner);
    cu::concat_backward(d_dxs.data(), d_dy.get(), lens.data(), nf, c.outer, c.inner);
    if (repeat)  // the reference really holds both bands: dy's first element plus the repeated band's first
      REQUIRE(g_ref[0][0] == dy[0] + dy[static_cast<size_t>((total - lens[0]) * c.inner)]);
    for (int i = 0; i < n; ++i) {
      const std::string gw = what + " backward, input " + std::to_string(i);
      if (has_null && i == 1) {
        expect_close(d_g[1]->host(), null_start, 0.0, 0.0, gw + " (null: left alone)");
        continue;
      }
      expect_close(d_g[static_cast<size_t>(i)]->host(), g_ref[static_cast<size_t>(i)], 0.0, 0.0, gw);
    }
  }
}
