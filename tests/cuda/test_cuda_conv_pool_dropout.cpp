// CUDA conv1d, max-pool and dropout kernels against their CPU twins (kernels/contract), for
// what the op table's checks (test_cuda_op_table.cpp) do not reach:
//   conv1d : forward (with and without bias, with and without col) and dx / dw / db under
//            every GradMode combination and null gradients, at the DeepChrome sizes
//            (B = 1, 64, 256) and odd ones (strides 2, 3, 5, padding, K = 1, K = L, many
//            channels, a window too long for shared memory), under every forced kernel
//            configuration (Conv1dTuning), plus run-to-run determinism;
//   maxpool: outputs and argmax bit-identical (ties and NaN included), backward
//            bit-identical in both GradModes (overlapping windows, gaps, K = L);
//   dropout: outputs and masks bit-identical to the CPU for 64-bit keys, several p and sizes
//            around the Philox groups of four (the table's rows use one key);
//            gradients identical (Accumulate within one rounding: the CPU compiler may
//            fuse its multiply-add).
// Device outputs that a kernel must overwrite start as NaN; buffers a kernel must not touch
// (null gradients) start as a sentinel and are checked unchanged.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/contract/conv1d.h"
#include "kernels/contract/dropout.h"
#include "kernels/contract/pool.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
namespace cpu = dc::kernels::cpu;
using dc::GradMode;
using dc::kernels::Conv1dShape;
using dc::kernels::DropoutKey;
using dc::kernels::Pool1dShape;
using namespace dc::test;
using namespace dc::test::grad_check;

namespace {

// ---- conv1d -------------------------------------------------------------------------------

std::string describe(Conv1dShape s) {
  return "N=" + std::to_string(s.N) + " CIN=" + std::to_string(s.CIN) + " L=" + std::to_string(s.L) +
         " COUT=" + std::to_string(s.COUT) + " K=" + std::to_string(s.K) + " stride=" + std::to_string(s.stride) +
         " pad=" + std::to_string(s.pad);
}

std::string describe(cu::Conv1dTuning t) {
  return "forward=" + std::to_string(t.forward) + " dx=" + std::to_string(t.dx) + " dw_parts=" + std::to_string(t.dw_parts);
}

// Restores automatic configurations when a test case ends (also on failure).
struct TuningGuard {
  explicit TuningGuard(cu::Conv1dTuning t) { cu::set_conv1d_tuning(t); }
  ~TuningGuard() { cu::set_conv1d_tuning({}); }
};

// N, CIN, L, COUT, K, stride, pad. Small and odd shapes, cheap enough for racecheck: with the
// forced configurations they run every kernel (both tile sizes and the simple kernels, input
// and output channel chunks, dw written directly and through partial sums).
const Conv1dShape kSmallConvShapes[] = {
    {1, 5, 100, 50, 10, 1, 0},    // DeepChrome, batch 1 (small tiles, dw written directly)
    {1, 16, 120, 20, 100, 1, 2},  // a long window: input channel chunks (forward), output channel chunks (dx)
    {2, 3, 11, 4, 3, 2, 1},       // stride 2 (simple dx kernel), col holds x
    {2, 3, 20, 4, 2, 5, 0},       // stride > K: col holds the im2col layout
    {2, 2, 10, 3, 3, 3, 2},       // stride 3, padding 2
    {1, 1, 5, 1, 3, 1, 0},        // one channel each way
    {3, 6, 33, 70, 1, 1, 0},      // K = 1, COUT > 64 (two dw row tiles)
    {5, 2, 7, 3, 7, 1, 0},        // K = L: one output position
    {2, 2, 1600, 3, 1500, 1, 0},  // window too long for shared memory: simple kernels
    {7, 9, 45, 5, 4, 1, 3},       // CIN > 8 (two dx channel chunks), padding > 0
};

// The DeepChrome sizes at training batches, and many channels with several tiles of every kernel.
const Conv1dShape kModelConvShapes[] = {
    {64, 5, 100, 50, 10, 1, 0},   // DeepChrome, batch 64 (dw via partial sums)
    {256, 5, 100, 50, 10, 1, 0},  // DeepChrome, batch 256 (big tiles)
    {3, 64, 150, 100, 10, 1, 2},  // channel chunks, several tiles of every kernel, padding
};

// Every forced configuration (the automatic one first).
const cu::Conv1dTuning kConvTunings[] = {
    {0, 0, 0}, {1, 1, 1}, {2, 2, 2}, {3, 3, 5}, {1, 2, 3}, {2, 1, 0},
};

struct ConvData {
  std::vector<float> x, w, b, dy;
};

ConvData make_conv_data(Conv1dShape s, uint64_t seed) {
  const double k = 1.0 / std::sqrt(static_cast<double>(s.CIN * s.K));
  return {random_vector<float>(static_cast<size_t>(s.N) * s.CIN * s.L, seed),
          random_vector<float>(static_cast<size_t>(s.COUT) * s.CIN * s.K, seed + 1, -k, k),
          random_vector<float>(static_cast<size_t>(s.COUT), seed + 2, -k, k),
          random_vector<float>(static_cast<size_t>(s.N) * s.COUT * s.LOUT(), seed + 3)};
}

struct Want3 {
  Want dx, dw, db;
};
const Want3 kGradCombos[] = {
    {Want::Overwrite, Want::Overwrite, Want::Overwrite}, {Want::Accumulate, Want::Accumulate, Want::Accumulate},
    {Want::Accumulate, Want::Overwrite, Want::Accumulate}, {Want::Overwrite, Want::Accumulate, Want::Overwrite},
    {Want::Overwrite, Want::Null, Want::Null},           {Want::Null, Want::Overwrite, Want::Null},
    {Want::Null, Want::Null, Want::Accumulate},          {Want::Null, Want::Accumulate, Want::Overwrite},
};

void check_conv(Conv1dShape s, cu::Conv1dTuning tuning, uint64_t seed) {
  INFO(describe(s) << ", " << describe(tuning));
  TuningGuard guard(tuning);
  const ConvData d = make_conv_data(s, seed);
  const size_t ny = static_cast<size_t>(s.N) * s.COUT * s.LOUT();
  const size_t ncol = static_cast<size_t>(dc::kernels::conv1d_col_size(s));
  REQUIRE(ny > 0);

  // CPU twin.
  std::vector<float> y_cpu(ny), col_cpu(ncol), y_cpu_nobias(ny), col_scratch(ncol);
  cpu::conv1d_forward(y_cpu.data(), col_cpu.data(), d.x.data(), d.w.data(), d.b.data(), s);
  cpu::conv1d_forward(y_cpu_nobias.data(), col_scratch.data(), d.x.data(), d.w.data(), nullptr, s);
  REQUIRE(max_abs(y_cpu) > 1e-2);

  const DeviceVector<float> x(d.x), w(d.w), b(d.b), dy(d.dy);
  DeviceVector<float> y(ny, kNaN), col(ncol, kNaN);
  cu::conv1d_forward(y.get(), col.get(), x.get(), w.get(), b.get(), s);
  expect_close(y.host(), y_cpu, sum_atol(s.CIN * s.K), kRtol, "conv1d forward y");
  {
    DeviceVector<float> y2(ny, kNaN), col2(ncol, kNaN);
    cu::conv1d_forward(y2.get(), col2.get(), x.get(), w.get(), nullptr, s);
    expect_close(y2.host(), y_cpu_nobias, sum_atol(s.CIN * s.K), kRtol, "conv1d forward y without bias");
    DeviceVector<float> y3(ny, kNaN);
    cu::conv1d_forward(y3.get(), nullptr, x.get(), w.get(), b.get(), s);  // inference: no col
    CHECK_MESSAGE(bit_identical(y3.host(), y.host()), "forward without col differs from forward with col");
  }

  const size_t nx = d.x.size(), nw = d.w.size(), nb = d.b.size();
  const double dx_terms = static_cast<double>(s.COUT) * s.K, dw_terms = static_cast<double>(s.N) * s.LOUT();
  for (const Want3& g : kGradCombos) {
    INFO("dx " << want_name(g.dx) << ", dw " << want_name(g.dw) << ", db " << want_name(g.db));
    const std::vector<float> dx0 = initial(g.dx, nx, seed + 10), dw0 = initial(g.dw, nw, seed + 11),
                             db0 = initial(g.db, nb, seed + 12);
    std::vector<float> dx_cpu = dx0, dw_cpu = dw0, db_cpu = db0;
    cpu::conv1d_backward(grad_out(g.dx, dx_cpu.data()), grad_out(g.dw, dw_cpu.data()), grad_out(g.db, db_cpu.data()),
                         d.dy.data(), col_cpu.data(), d.w.data(), s);
    if (g.dx != Want::Null) REQUIRE(max_abs(dx_cpu) > 1e-2);
    if (g.dw != Want::Null) REQUIRE(max_abs(dw_cpu) > 1e-2);

    DeviceVector<float> dx(dx0), dw(dw0), db(db0);
    cu::conv1d_backward(grad_out(g.dx, dx.get()), grad_out(g.dw, dw.get()), grad_out(g.db, db.get()), dy.get(), col.get(),
                        w.get(), s);
    expect_grad(g.dx, dx.host(), dx_cpu, dx0, sum_atol(dx_terms), "conv1d dx");
    expect_grad(g.dw, dw.host(), dw_cpu, dw0, sum_atol(dw_terms), "conv1d dw");
    expect_grad(g.db, db.host(), db_cpu, db0, sum_atol(dw_terms), "conv1d db");
  }
}

// ---- max-pool -----------------------------------------------------------------------------

std::string describe(Pool1dShape s) {
  return "R=" + std::to_string(s.R) + " L=" + std::to_string(s.L) + " K=" + std::to_string(s.K) +
         " stride=" + std::to_string(s.stride);
}

// Values on a coarse grid (many ties), with a few NaN when asked.
std::vector<float> pool_input(size_t n, uint64_t seed, bool with_nan) {
  std::vector<float> v = random_vector<float>(n, seed, -2.0, 2.0);
  for (float& x : v) x = std::round(x * 2.0f) / 2.0f;
  if (with_nan)
    for (size_t i = 3; i < n; i += 37) v[i] = kNaN;
  return v;
}

// ---- dropout ------------------------------------------------------------------------------

// Nonzero inputs, so y == 0 exactly where the mask drops.
std::vector<float> nonzero_input(size_t n, uint64_t seed) {
  std::vector<float> v = random_vector<float>(n, seed, 0.5, 1.5), sign = random_vector<float>(n, seed + 1);
  for (size_t i = 0; i < n; ++i) v[i] = sign[i] < 0 ? -v[i] : v[i];
  return v;
}

}  // namespace

TEST_CASE("cuda conv1d: forward and every gradient match the CPU twin under every kernel configuration, small and odd sizes" *
          doctest::test_suite("small")) {
  uint64_t seed = 100;
  for (const Conv1dShape& s : kSmallConvShapes)
    for (const cu::Conv1dTuning& t : kConvTunings) check_conv(s, t, seed += 20);
}

TEST_CASE("cuda conv1d: forward and every gradient match the CPU twin under every kernel configuration, model sizes") {
  uint64_t seed = 2000;
  for (const Conv1dShape& s : kModelConvShapes)
    for (const cu::Conv1dTuning& t : kConvTunings) check_conv(s, t, seed += 20);
}

TEST_CASE("cuda conv1d: results are identical from run to run") {
  const Conv1dShape s{64, 5, 100, 50, 10, 1, 0};
  const ConvData d = make_conv_data(s, 7);
  const DeviceVector<float> x(d.x), w(d.w), b(d.b), dy(d.dy);
  const size_t ny = d.dy.size(), ncol = static_cast<size_t>(dc::kernels::conv1d_col_size(s));
  std::vector<float> first[4];
  for (int run = 0; run < 3; ++run) {
    DeviceVector<float> y(ny, kNaN), col(ncol, kNaN), dx(d.x.size(), kNaN), dw(d.w.size(), kNaN), db(d.b.size(), kNaN);
    cu::conv1d_forward(y.get(), col.get(), x.get(), w.get(), b.get(), s);
    cu::conv1d_backward({dx.get(), GradMode::Overwrite}, {dw.get(), GradMode::Overwrite}, {db.get(), GradMode::Overwrite},
                        dy.get(), col.get(), w.get(), s);
    const std::vector<float> now[4] = {y.host(), dx.host(), dw.host(), db.host()};
    for (int i = 0; i < 4; ++i) {
      REQUIRE(max_abs(now[i]) > 0);
      if (run == 0) first[i] = now[i];
      else CHECK(bit_identical(now[i], first[i]));
    }
  }
}

TEST_CASE("cuda maxpool1d: outputs, argmax and gradients are bit-identical to the CPU") {
  // R, L, K, stride
  const Pool1dShape shapes[] = {
      {64 * 50, 91, 5, 5},  // DeepChrome, batch 64
      {50, 91, 5, 5},       // DeepChrome, batch 1
      {7, 20, 3, 1},        // overlapping windows (each input in up to 3)
      {5, 33, 4, 2},        // overlapping, stride 2, a tail past the last window
      {3, 10, 10, 1},       // K = L
      {4, 17, 2, 3},        // stride > K: inputs in no window
      {2, 9, 1, 1},         // K = 1
  };
  uint64_t seed = 500;
  for (const Pool1dShape& s : shapes)
    for (bool with_nan : {false, true}) {
      INFO(describe(s) << (with_nan ? ", with NaN" : ""));
      seed += 10;
      const size_t nx = static_cast<size_t>(s.R) * s.L, ny = static_cast<size_t>(s.R) * s.LOUT();
      const std::vector<float> xv = pool_input(nx, seed, with_nan);
      std::vector<float> y_cpu(ny);
      std::vector<int32_t> arg_cpu(ny);
      cpu::maxpool1d_forward(y_cpu.data(), arg_cpu.data(), xv.data(), s);

      const DeviceVector<float> x(xv);
      DeviceVector<float> y(ny, kNaN);
      DeviceVector<int32_t> arg(ny, -1);
      cu::maxpool1d_forward(y.get(), arg.get(), x.get(), s);
      CHECK(bit_identical(y.host(), y_cpu));
      CHECK(arg.host() == arg_cpu);
      // Not vacuous: some windows were won by a position other than their first.
      bool later_winner = false;
      for (size_t i = 0; i < ny; ++i)
        later_winner |= arg_cpu[i] != static_cast<int32_t>(i % static_cast<size_t>(s.LOUT())) * s.stride;
      if (s.K > 1) CHECK(later_winner);

      const std::vector<float> dyv = random_vector<float>(ny, seed + 1);
      const DeviceVector<float> dy(dyv);
      for (GradMode mode : {GradMode::Overwrite, GradMode::Accumulate}) {
        INFO((mode == GradMode::Overwrite ? "overwrite" : "accumulate"));
        const std::vector<float> dx0 =
            mode == GradMode::Overwrite ? std::vector<float>(nx, kNaN) : random_vector<float>(nx, seed + 2);
        std::vector<float> dx_cpu = dx0;
        cpu::maxpool1d_backward({dx_cpu.data(), mode}, dyv.data(), arg_cpu.data(), s);
        DeviceVector<float> dx(dx0);
        cu::maxpool1d_backward({dx.get(), mode}, dy.get(), arg.get(), s);
        CHECK(bit_identical(dx.host(), dx_cpu));
        REQUIRE(max_abs(dx_cpu) > 0);
      }
    }
}

TEST_CASE("cuda dropout: masks and outputs are bit-identical to the CPU for 64-bit keys and every group tail") {
  const DropoutKey keys[] = {{12345, 7}, {0xDEADBEEFCAFEF00DULL, 0x123456789ABCDEF0ULL}};
  const int64_t sizes[] = {1, 63, 64, 65, 1000003};
  const float ps[] = {0.5f, 0.1f, 0.9f, 0.0f, 0.3333f};
  uint64_t seed = 900;
  for (const DropoutKey& key : keys)
    for (int64_t n : sizes)
      for (float p : ps) {
        INFO("n=" << n << " p=" << p << " seed=" << key.seed << " stream=" << key.stream);
        seed += 3;
        const size_t un = static_cast<size_t>(n);
        const std::vector<float> xv = nonzero_input(un, seed);
        std::vector<float> y_cpu(un);
        cpu::dropout_forward(y_cpu.data(), xv.data(), n, p, key);
        const DeviceVector<float> x(xv);
        DeviceVector<float> y(un, kNaN);
        cu::dropout_forward(y.get(), x.get(), n, p, key);
        const std::vector<float> y_dev = y.host();
        CHECK(bit_identical(y_dev, y_cpu));
        size_t kept = 0, mask_mismatch = 0;
        for (size_t i = 0; i < un; ++i) {
          kept += y_cpu[i] != 0.0f;
          mask_mismatch += (y_cpu[i] != 0.0f) != (y_dev[i] != 0.0f);
        }
        CHECK(mask_mismatch == 0);
        if (n >= 1000) {  // the mask is a real one: kept fraction near 1 - p
          const double frac = static_cast<double>(kept) / static_cast<double>(n);
          CHECK(std::fabs(frac - (1.0 - p)) < 0.05);
        }

        const std::vector<float> dyv = random_vector<float>(un, seed + 1);
        const DeviceVector<float> dy(dyv);
        for (GradMode mode : {GradMode::Overwrite, GradMode::Accumulate}) {
          INFO((mode == GradMode::Overwrite ? "overwrite" : "accumulate"));
          const std::vector<float> dx0 =
              mode == GradMode::Overwrite ? std::vector<float>(un, kNaN) : random_vector<float>(un, seed + 2);
          std::vector<float> dx_cpu = dx0;
          cpu::dropout_backward({dx_cpu.data(), mode}, dyv.data(), n, p, key);
          DeviceVector<float> dx(dx0);
          cu::dropout_backward({dx.get(), mode}, dy.get(), n, p, key);
          const std::vector<float> dx_dev = dx.host();
          if (mode == GradMode::Overwrite) {
            CHECK(bit_identical(dx_dev, dx_cpu));
          } else {
            // dx + dy * scale: the CPU compiler may fuse it into one FMA (one rounding less).
            expect_close(dx_dev, dx_cpu, 1e-6, 1e-6, "dropout dx (accumulate)");
            size_t changed = 0;  // not vacuous: kept elements moved away from dx0
            for (size_t i = 0; i < un; ++i) changed += dx_dev[i] != dx0[i];
            if (kept > 0) CHECK(changed > 0);
          }
        }
      }
}
