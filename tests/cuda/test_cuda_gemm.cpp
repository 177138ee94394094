// The CUDA GEMMs: sgemm (cuBLAS, behind linear and conv1d) and sgemm_tiled (ours, which the
// benchmarks time against cuBLAS; automatic and both block tiles forced) against
// gemm_reference (kernels/contract/gemm.h) in double at odd sizes (1x1x1, 17x33x65,
// 128x640x900, 1537x1539x33, the DeepChrome layer shapes), every transpose combination,
// leading dimensions larger than the rows (padding that must stay untouched), beta = 0 with C
// full of NaN (C must not be read), beta != 0, K = 0, and more column tiles than one grid row
// holds. (The linear layer itself is checked by the op table: test_cuda_op_table.cpp.)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/contract/gemm.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/runtime.h"
#include "cuda/cuda_test_util.h"
#include "test_util.h"

namespace cu = dc::kernels::cuda;
using dc::kernels::Trans;
using namespace dc::test;
using namespace dc::test::grad_check;

namespace {

// ---- GEMM ---------------------------------------------------------------------------------

const char* tname(Trans t) { return t == Trans::No ? "N" : "T"; }

// Restores the automatic tile choice when a test case ends.
struct TileGuard {
  explicit TileGuard(int tile) { cu::set_sgemm_tiled_tile(tile); }
  ~TileGuard() { cu::set_sgemm_tiled_tile(0); }
};

using GemmFn = void (*)(Trans, Trans, int, int, int, float, const float*, int, const float*, int, float, float*, int);

struct GemmImpl {
  const char* name;
  GemmFn fn;
  int tile;  // forced sgemm_tiled tile (0: automatic / not applicable)
};
const GemmImpl kGemmImpls[] = {
    {"cublas sgemm", cu::sgemm, 0},
    {"sgemm_tiled auto", cu::sgemm_tiled, 0},
    {"sgemm_tiled 64x64", cu::sgemm_tiled, 64},
    {"sgemm_tiled 128x128", cu::sgemm_tiled, 128},
};

// C (M x N, ldc = N + 2) = alpha op(A) op(B) + beta C for every implementation, both betas,
// against the double reference; A and B stored with 3 floats of row padding.
void check_gemm(Trans ta, Trans tb, int M, int N, int K, uint64_t seed) {
  INFO(tname(ta) << tname(tb) << " M=" << M << " N=" << N << " K=" << K);
  const int a_rows = ta == Trans::No ? M : K, a_cols = ta == Trans::No ? K : M;
  const int b_rows = tb == Trans::No ? K : N, b_cols = tb == Trans::No ? N : K;
  const int lda = a_cols + 3, ldb = b_cols + 3, ldc = N + 2;
  const std::vector<float> A = random_vector<float>(static_cast<size_t>(a_rows) * lda, seed);
  const std::vector<float> B = random_vector<float>(static_cast<size_t>(b_rows) * ldb, seed + 1);
  const std::vector<float> C0 = random_vector<float>(static_cast<size_t>(M) * ldc, seed + 2);
  const float alpha = 1.25f;

  // alpha op(A) op(B) in double (the reference with beta = 0), padding columns zero.
  std::vector<double> ab(static_cast<size_t>(M) * ldc, 0.0);
  {
    const auto Ad = convert<double>(A), Bd = convert<double>(B);
    dc::kernels::gemm_reference<double>(ta, tb, M, N, K, alpha, Ad.data(), lda, Bd.data(), ldb, 0.0, ab.data(), ldc);
  }
  double ab_max = 0;
  for (double v : ab) ab_max = std::max(ab_max, std::fabs(v));
  REQUIRE(ab_max > 1e-3);

  const Dev dA(A), dB(B);
  for (const GemmImpl& impl : kGemmImpls) {
    TileGuard guard(impl.tile);
    for (float beta : {0.0f, 0.5f}) {
      INFO(impl.name << ", beta=" << beta);
      // beta == 0: C starts as NaN and must not be read; its padding must stay NaN.
      const std::vector<float> c_init = beta == 0.0f ? std::vector<float>(C0.size(), kNaN) : C0;
      Dev dC(c_init);
      impl.fn(ta, tb, M, N, K, alpha, dA.get(), lda, dB.get(), ldb, beta, dC.get(), ldc);
      const std::vector<float> C = dC.host();
      std::vector<double> expect(C.size());
      std::vector<float> got(C.size());
      size_t padding_touched = 0;
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < ldc; ++j) {
          const size_t idx = static_cast<size_t>(i) * ldc + j;
          if (j >= N) {  // padding: untouched (NaN stays NaN)
            padding_touched += !bit_identical({C[idx]}, {c_init[idx]});
            expect[idx] = 0;
            got[idx] = 0;
            continue;
          }
          expect[idx] = ab[idx] + (beta == 0.0f ? 0.0 : static_cast<double>(beta) * C0[idx]);
          got[idx] = C[idx];
        }
      CHECK(padding_touched == 0);
      expect_close(got.data(), expect.data(), got.size(), sum_atol(K), kRtol, "C");
    }
  }
}

}  // namespace

TEST_CASE("cuda sgemm and sgemm_tiled: every transpose combination at small odd sizes against the double reference" *
          doctest::test_suite("small")) {
  // M, N, K: one partial tile each way (both forced tile sizes), a long K
  const int sizes[][3] = {{1, 1, 1}, {17, 33, 65}, {2, 3, 1000}, {70, 130, 20}};
  uint64_t seed = 1000;
  for (const auto& mnk : sizes)
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) check_gemm(ta, tb, mnk[0], mnk[1], mnk[2], seed += 5);
}

TEST_CASE("cuda sgemm and sgemm_tiled: every transpose combination at large and DeepChrome sizes against the double reference") {
  // M, N, K: many tiles each way; the DeepChrome layers
  const int sizes[][3] = {{128, 640, 900}, {1537, 1539, 33}, {64, 625, 900}, {64, 125, 625}, {625, 900, 64}};
  uint64_t seed = 2000;
  for (const auto& mnk : sizes)
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) check_gemm(ta, tb, mnk[0], mnk[1], mnk[2], seed += 5);
}

TEST_CASE("cuda sgemm and sgemm_tiled: K = 0 gives C = beta * C, and beta = 0 does not read C" * doctest::test_suite("small")) {
  const int M = 5, N = 7, ldc = 9;
  const std::vector<float> C0 = random_vector<float>(static_cast<size_t>(M) * ldc, 77);
  const Dev dA(std::vector<float>(4, 1.0f)), dB(std::vector<float>(4, 1.0f));
  for (const GemmImpl& impl : kGemmImpls) {
    TileGuard guard(impl.tile);
    INFO(impl.name);
    for (float beta : {0.0f, 0.5f}) {
      INFO("beta=" << beta);
      const std::vector<float> c_init = beta == 0.0f ? std::vector<float>(C0.size(), kNaN) : C0;
      Dev dC(c_init);
      impl.fn(Trans::No, Trans::No, M, N, 0, 2.0f, dA.get(), 1, dB.get(), N, beta, dC.get(), ldc);
      const std::vector<float> C = dC.host();
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < ldc; ++j) {
          const size_t idx = static_cast<size_t>(i) * ldc + j;
          if (j >= N) CHECK(bit_identical({C[idx]}, {c_init[idx]}));
          else CHECK(C[idx] == (beta == 0.0f ? 0.0f : beta * C0[idx]));
        }
    }
  }
}

TEST_CASE("cuda sgemm_tiled: more column tiles than one grid row holds (65535)") {
  // 128x128 tiles: N = 8.4M columns are 65,625 column tiles; the kernel loops over the rest.
  TileGuard guard(128);
  const int M = 1, N = 8400000, K = 2;
  const std::vector<float> A = {0.5f, -2.0f};
  std::vector<float> B(static_cast<size_t>(K) * N);
  for (size_t i = 0; i < B.size(); ++i) B[i] = static_cast<float>(static_cast<int>(i % 1009) - 504);
  const Dev dA(A), dB(B);
  Dev dC(static_cast<size_t>(N), kNaN);
  cu::sgemm_tiled(Trans::No, Trans::No, M, N, K, 1.0f, dA.get(), K, dB.get(), N, 0.0f, dC.get(), N);
  const std::vector<float> C = dC.host();
  size_t bad = 0, first_bad = C.size();
  for (int j = 0; j < N; ++j) {
    const float expect = 0.5f * B[static_cast<size_t>(j)] - 2.0f * B[static_cast<size_t>(N) + j];  // exact in float
    if (C[static_cast<size_t>(j)] != expect) {
      ++bad;
      first_bad = std::min(first_bad, static_cast<size_t>(j));
    }
  }
  INFO("first wrong column " << first_bad);
  CHECK(bad == 0);
}
