// sgemm (packed, register-blocked) against the plain triple-loop gemm_reference in double.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "test_util.h"

namespace k = dc::kernels;
using k::Trans;
using namespace dc::test;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

struct GemmCase {
  Trans ta, tb;
  int M, N, K;
  float alpha, beta;
  int pad_a = 0, pad_b = 0, pad_c = 0;  // extra elements per row beyond the minimum leading dimension
};

std::string describe(const GemmCase& c) {
  return std::string("sgemm ta=") + (c.ta == Trans::Yes ? "T" : "N") + " tb=" + (c.tb == Trans::Yes ? "T" : "N") +
         " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) + " K=" + std::to_string(c.K) +
         " alpha=" + std::to_string(c.alpha) + " beta=" + std::to_string(c.beta) + " pads=" + std::to_string(c.pad_a) +
         "," + std::to_string(c.pad_b) + "," + std::to_string(c.pad_c);
}

struct GemmBuffers {
  int lda, ldb, ldc, a_rows, b_rows;
  std::vector<float> A, B, C;
};

// Operands with NaN in every padding element of A and B (a kernel that reads past a row's
// logical end poisons its result) and a sentinel in C's padding (must stay untouched).
// With beta == 0 the logical part of C is NaN garbage that must not be read.
GemmBuffers make_buffers(const GemmCase& c, uint64_t seed) {
  GemmBuffers g;
  const int a_cols = c.ta == Trans::No ? c.K : c.M;
  g.a_rows = c.ta == Trans::No ? c.M : c.K;
  const int b_cols = c.tb == Trans::No ? c.N : c.K;
  g.b_rows = c.tb == Trans::No ? c.K : c.N;
  g.lda = a_cols + c.pad_a;
  g.ldb = b_cols + c.pad_b;
  g.ldc = c.N + c.pad_c;
  const auto ra = random_vector<float>(static_cast<size_t>(g.a_rows) * a_cols, seed);
  const auto rb = random_vector<float>(static_cast<size_t>(g.b_rows) * b_cols, seed + 1);
  const auto rc = random_vector<float>(static_cast<size_t>(c.M) * c.N, seed + 2);
  g.A.assign(static_cast<size_t>(g.a_rows) * g.lda, kNaN);
  g.B.assign(static_cast<size_t>(g.b_rows) * g.ldb, kNaN);
  g.C.assign(static_cast<size_t>(c.M) * g.ldc, 123.0f);
  for (int i = 0; i < g.a_rows; ++i)
    for (int j = 0; j < a_cols; ++j) g.A[static_cast<size_t>(i) * g.lda + j] = ra[static_cast<size_t>(i) * a_cols + j];
  for (int i = 0; i < g.b_rows; ++i)
    for (int j = 0; j < b_cols; ++j) g.B[static_cast<size_t>(i) * g.ldb + j] = rb[static_cast<size_t>(i) * b_cols + j];
  for (int i = 0; i < c.M; ++i)
    for (int j = 0; j < c.N; ++j)
      g.C[static_cast<size_t>(i) * g.ldc + j] = c.beta == 0.0f ? kNaN : rc[static_cast<size_t>(i) * c.N + j];
  return g;
}

std::vector<float> logical_c(const std::vector<float>& C, int M, int N, int ldc) {
  std::vector<float> out;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) out.push_back(C[static_cast<size_t>(i) * ldc + j]);
  return out;
}

void check_case(const GemmCase& c, uint64_t seed) {
  INFO(describe(c));
  GemmBuffers g = make_buffers(c, seed);
  // Reference in double on the same inputs. NaN padding is never read by the reference either.
  std::vector<double> Ad = convert<double>(g.A), Bd = convert<double>(g.B), Cd = convert<double>(g.C);
  k::gemm_reference<double>(c.ta, c.tb, c.M, c.N, c.K, c.alpha, Ad.data(), g.lda, Bd.data(), g.ldb, c.beta,
                                  Cd.data(), g.ldc);
  std::vector<float> C = g.C;
  k::cpu::sgemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, g.A.data(), g.lda, g.B.data(), g.ldb, c.beta, C.data(), g.ldc);
  const auto got = logical_c(C, c.M, c.N, g.ldc);
  std::vector<double> want_d;
  for (int i = 0; i < c.M; ++i)
    for (int j = 0; j < c.N; ++j) want_d.push_back(Cd[static_cast<size_t>(i) * g.ldc + j]);
  // Float accumulation error grows like sqrt(K) times the partial sums (entries are O(1)).
  const double atol = 2e-6 * std::sqrt(static_cast<double>(std::max(c.K, 1))) * std::max(1.0f, std::fabs(c.alpha));
  expect_close(got, want_d, atol, 1e-5, "C");
  // Padding columns of C are untouched.
  bool pad_ok = true;
  for (int i = 0; i < c.M; ++i)
    for (int j = c.N; j < g.ldc; ++j) pad_ok = pad_ok && C[static_cast<size_t>(i) * g.ldc + j] == 123.0f;
  CHECK(pad_ok);
}

const Trans kBoth[] = {Trans::No, Trans::Yes};

}  // namespace

TEST_CASE("gemm: hand-computed 2x3 times 3x2, with alpha and beta") {
  // A = [[1,2,3],[4,5,6]], B = [[7,8],[9,10],[11,12]]
  // A B = [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]] = [[58, 64], [139, 154]]
  const std::vector<float> A = {1, 2, 3, 4, 5, 6}, B = {7, 8, 9, 10, 11, 12};
  // A^T stored (3, 2) and B^T stored (2, 3) for the transposed variants.
  const std::vector<float> At = {1, 4, 2, 5, 3, 6}, Bt = {7, 9, 11, 8, 10, 12};
  for (Trans ta : kBoth)
    for (Trans tb : kBoth) {
      CAPTURE(static_cast<int>(ta));
      CAPTURE(static_cast<int>(tb));
      const float* a = ta == Trans::No ? A.data() : At.data();
      const float* b = tb == Trans::No ? B.data() : Bt.data();
      const int lda = ta == Trans::No ? 3 : 2, ldb = tb == Trans::No ? 2 : 3;
      std::vector<float> C(4, kNaN);
      k::cpu::sgemm(ta, tb, 2, 2, 3, 1.0f, a, lda, b, ldb, 0.0f, C.data(), 2);
      CHECK(C == std::vector<float>{58, 64, 139, 154});
      // alpha = 2, beta = 1 onto C = 1: 2 * [[58,64],[139,154]] + 1 = [[117,129],[279,309]]
      std::vector<float> C1(4, 1.0f);
      k::cpu::sgemm(ta, tb, 2, 2, 3, 2.0f, a, lda, b, ldb, 1.0f, C1.data(), 2);
      CHECK(C1 == std::vector<float>{117, 129, 279, 309});
      // The double reference agrees on the same case.
      std::vector<double> ad(a, a + 6), bd(b, b + 6), cd(4, 1.0);
      k::gemm_reference<double>(ta, tb, 2, 2, 3, 2.0, ad.data(), lda, bd.data(), ldb, 1.0, cd.data(), 2);
      CHECK(cd == std::vector<double>{117, 129, 279, 309});
    }
}

TEST_CASE("gemm: all transpose combinations and odd sizes vs reference") {
  const int sizes[][3] = {{1, 1, 1}, {7, 13, 5}, {6, 16, 256}, {65, 33, 300}, {5, 17, 257}, {13, 37, 600}};
  uint64_t seed = 100;
  for (Trans ta : kBoth)
    for (Trans tb : kBoth)
      for (const auto& s : sizes) check_case({ta, tb, s[0], s[1], s[2], 1.0f, 0.0f}, seed += 3);
}

TEST_CASE("gemm: leading dimensions larger than the minimum") {
  uint64_t seed = 500;
  for (Trans ta : kBoth)
    for (Trans tb : kBoth) {
      check_case({ta, tb, 7, 13, 5, 1.0f, 0.0f, 3, 5, 2}, seed += 3);
      check_case({ta, tb, 65, 33, 300, 1.0f, 0.5f, 1, 7, 11}, seed += 3);
      check_case({ta, tb, 6, 16, 256, -0.75f, 1.0f, 16, 16, 16}, seed += 3);
    }
}

TEST_CASE("gemm: alpha and beta cases; beta == 0 never reads C") {
  uint64_t seed = 900;
  const float ab[][2] = {{1.0f, 0.0f}, {0.5f, 0.0f}, {1.0f, 1.0f}, {-1.5f, 0.25f}, {0.0f, 2.0f}, {2.0f, -1.0f}};
  for (Trans ta : kBoth)
    for (Trans tb : kBoth)
      for (const auto& p : ab) {
        check_case({ta, tb, 7, 13, 5, p[0], p[1]}, seed += 3);
        check_case({ta, tb, 65, 33, 300, p[0], p[1]}, seed += 3);
        check_case({ta, tb, 13, 37, 600, p[0], p[1]}, seed += 3);  // three K blocks: beta applies once
      }
}

TEST_CASE("gemm: K == 0 scales C by beta (and beta == 0 gives zeros over NaN garbage)") {
  std::vector<float> C = {1, 2, kNaN, 3, 4, kNaN};  // M=2, N=2, ldc=3
  k::cpu::sgemm(Trans::No, Trans::No, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.5f, C.data(), 3);
  CHECK(C[0] == 0.5f);
  CHECK(C[1] == 1.0f);
  CHECK(C[3] == 1.5f);
  CHECK(C[4] == 2.0f);
  CHECK(std::isnan(C[2]));  // padding untouched
  std::vector<float> Z = {kNaN, kNaN, kNaN, kNaN};
  k::cpu::sgemm(Trans::Yes, Trans::Yes, 2, 2, 0, 1.0f, nullptr, 2, nullptr, 1, 0.0f, Z.data(), 2);
  CHECK(Z == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("gemm: results are bit-identical for 1 and 2 threads") {
  const int sizes[][3] = {{65, 33, 300}, {130, 200, 513}, {6, 400, 256}};
  uint64_t seed = 1300;
  for (Trans ta : kBoth)
    for (Trans tb : kBoth)
      for (const auto& s : sizes) {
        const GemmCase c{ta, tb, s[0], s[1], s[2], 1.25f, 0.5f, 1, 2, 3};
        INFO(describe(c));
        const GemmBuffers g = make_buffers(c, seed += 3);
        std::vector<float> c1 = g.C, c2 = g.C;
        {
          ThreadCount one(1);
          k::cpu::sgemm(ta, tb, c.M, c.N, c.K, c.alpha, g.A.data(), g.lda, g.B.data(), g.ldb, c.beta, c1.data(), g.ldc);
        }
        {
          ThreadCount two(2);
          REQUIRE(dc::num_threads() == 2);
          k::cpu::sgemm(ta, tb, c.M, c.N, c.K, c.alpha, g.A.data(), g.lda, g.B.data(), g.ldb, c.beta, c2.data(), g.ldc);
        }
        CHECK(bit_identical(c1, c2));
      }
}

TEST_CASE("gemm: every instruction-set variant this CPU runs matches the reference") {
  const std::vector<std::string> variants = k::cpu::sgemm_variants();
  CHECK(!variants.empty());
  MESSAGE("sgemm variants tested on this CPU: " << variants.size());
  struct Case {
    int M, N, K;
    k::Trans ta, tb;
  };
  for (const Case c : {Case{7, 13, 5, k::Trans::No, k::Trans::No}, Case{65, 33, 300, k::Trans::Yes, k::Trans::No},
                       Case{50, 50, 600, k::Trans::No, k::Trans::Yes}, Case{13, 40, 17, k::Trans::Yes, k::Trans::Yes}}) {
    const int lda = c.ta == k::Trans::No ? c.K : c.M, ldb = c.tb == k::Trans::No ? c.N : c.K;
    const auto a = dc::test::random_vector<float>(static_cast<size_t>(c.M) * c.K, 21);
    const auto b = dc::test::random_vector<float>(static_cast<size_t>(c.K) * c.N, 22);
    std::vector<double> ad(a.begin(), a.end()), bd(b.begin(), b.end()), ref(static_cast<size_t>(c.M) * c.N);
    k::gemm_reference<double>(c.ta, c.tb, c.M, c.N, c.K, 1.0, ad.data(), lda, bd.data(), ldb, 0.0, ref.data(), c.N);
    for (const auto& v : variants) {
      CAPTURE(v);
      std::vector<float> out(ref.size(), NAN);
      k::cpu::sgemm_variant(v, c.ta, c.tb, c.M, c.N, c.K, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, out.data(), c.N);
      dc::test::expect_close(out.data(), ref.data(), ref.size(), 1e-4, 1e-4, "sgemm " + v);
    }
  }
}
