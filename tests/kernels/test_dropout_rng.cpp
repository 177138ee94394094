// Counter-based RNG (Philox4x32-10 known answers, uniform ranges) and the inverted-dropout
// kernels built on it.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/base/philox.h"
#include "kernels/contract/dropout.h"
#include "test_util.h"

namespace k = dc::kernels;
using dc::GradMode;
using dc::GradOut;

using k::DropoutKey;
using namespace dc::test;

TEST_CASE("Philox4x32-10 known-answer tests (Random123 kat_vectors)") {
  {
    const dc::Philox4x32 r = dc::philox4x32(0, 0, 0, 0, 0, 0);
    CHECK(r.v[0] == 0x6627e8d5u);
    CHECK(r.v[1] == 0xe169c58du);
    CHECK(r.v[2] == 0xbc57ac4cu);
    CHECK(r.v[3] == 0x9b00dbd8u);
  }
  {
    const dc::Philox4x32 r = dc::philox4x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
    CHECK(r.v[0] == 0x408f276du);
    CHECK(r.v[1] == 0x41c83b0eu);
    CHECK(r.v[2] == 0xa20bc7c6u);
    CHECK(r.v[3] == 0x6d5451fdu);
  }
  {
    // Random123's third vector: counter = pi digits, key = more pi digits.
    const dc::Philox4x32 r = dc::philox4x32(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    CHECK(r.v[0] == 0xd16cfe09u);
    CHECK(r.v[1] == 0x94fdccebu);
    CHECK(r.v[2] == 0x5001e420u);
    CHECK(r.v[3] == 0x24126ea1u);
  }
}

TEST_CASE("random_bits maps (seed, stream, index) onto the Philox key and counter") {
  const uint64_t seed = 0x0123456789abcdefull, stream = 0xfedcba9876543210ull, index = 0x00000001deadbeefull;
  const dc::Philox4x32 r = dc::philox4x32(0xdeadbeefu, 0x1u, 0x76543210u, 0xfedcba98u, 0x89abcdefu, 0x01234567u);
  CHECK(dc::random_bits(seed, stream, index) == r.v[0]);
  // The top 24 bits, scaled by 2^-24.
  CHECK(dc::uniform01(seed, stream, index) == static_cast<float>(r.v[0] >> 8) / 16777216.0f);
  // Every part of the triple matters.
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed + 1, stream, index));
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed, stream + 1, index));
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed, stream, index + 1));
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed, stream, index + (1ull << 32)));
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed, stream + (1ull << 32), index));
  CHECK(dc::random_bits(seed, stream, index) != dc::random_bits(seed + (1ull << 32), stream, index));
}

TEST_CASE("uniform01 and uniform01_double lie in [0, 1) with mean about 0.5") {
  const int n = 100000;
  double sum_f = 0, sum_d = 0, lo_f = 1, hi_f = 0, lo_d = 1, hi_d = 0;
  int below_quarter = 0;
  for (int i = 0; i < n; ++i) {
    const float u = dc::uniform01(7, 3, static_cast<uint64_t>(i));
    const double ud = dc::uniform01_double(7, 3, static_cast<uint64_t>(i));
    sum_f += u;
    sum_d += ud;
    lo_f = std::min<double>(lo_f, u), hi_f = std::max<double>(hi_f, u);
    lo_d = std::min(lo_d, ud), hi_d = std::max(hi_d, ud);
    below_quarter += u < 0.25f;
  }
  CHECK(lo_f >= 0.0);
  CHECK(hi_f < 1.0);
  CHECK(lo_d >= 0.0);
  CHECK(hi_d < 1.0);
  // The standard error of the mean is 0.29 / sqrt(1e5) ~ 0.0009: these bounds are ~10 sigma.
  CHECK(std::fabs(sum_f / n - 0.5) < 0.01);
  CHECK(std::fabs(sum_d / n - 0.5) < 0.01);
  CHECK(std::fabs(below_quarter / static_cast<double>(n) - 0.25) < 0.01);
  // The extremes are reached closely (the range is really [0, 1), not a sub-interval).
  CHECK(lo_f < 1e-3);
  CHECK(hi_f > 1 - 1e-3);
}

TEST_CASE("CounterRng is the indexed stream, sequentially") {
  dc::CounterRng rng(11, 22);
  for (uint64_t i = 0; i < 5; ++i) {
    CHECK(rng.position() == i);
    CHECK(rng.uniform() == dc::uniform01_double(11, 22, i));
  }
  dc::CounterRng b(1, 2);
  bool in_range = true;
  for (int i = 0; i < 1000; ++i) in_range = in_range && b.below(7) < 7;
  CHECK(in_range);
}

TEST_CASE("dropout: hand-checked mask, scale 1/(1-p), p = 0 is the identity") {
  const DropoutKey key{1234, 5};
  const float p = 0.5f;
  const std::vector<float> x = {1, -2, 3, -4, 5, -6, 7, -8};
  std::vector<float> y(8);
  k::cpu::dropout_forward(y.data(), x.data(), 8, p, key);
  int kept = 0;
  for (int i = 0; i < 8; ++i) {
    const bool keep = dc::uniform01(key.seed, key.stream, static_cast<uint64_t>(i)) >= p;
    CHECK(k::dropout_keep(key, i, p) == keep);
    // p = 0.5: kept values are doubled, dropped ones are exactly 0.
    CHECK(y[i] == (keep ? 2 * x[i] : 0.0f));
    kept += keep;
  }
  CHECK(kept > 0);  // a sanity check on the draw: this key keeps some and drops some
  CHECK(kept < 8);
  std::vector<float> id(8);
  k::cpu::dropout_forward(id.data(), x.data(), 8, 0.0f, key);
  CHECK(id == x);
}

TEST_CASE("dropout: keep fraction is about 1 - p") {
  const int64_t n = 200000;
  const std::vector<float> x(static_cast<size_t>(n), 1.0f);
  std::vector<float> y(static_cast<size_t>(n));
  for (float p : {0.1f, 0.3f, 0.5f, 0.9f}) {
    CAPTURE(p);
    k::cpu::dropout_forward(y.data(), x.data(), n, p, DropoutKey{42, 17});
    int64_t kept = 0;
    bool values_ok = true;
    for (float v : y) {
      kept += v != 0.0f;
      values_ok = values_ok && (v == 0.0f || v == 1.0f / (1.0f - p));
    }
    CHECK(values_ok);
    // Binomial standard deviation of the fraction is at most 0.0012: 0.006 is 5 sigma.
    CHECK(std::fabs(static_cast<double>(kept) / n - (1.0 - p)) < 0.006);
  }
}

TEST_CASE("dropout: the mask does not depend on the thread count, and differs between streams") {
  const int64_t n = 300000;  // above the kernel's parallel threshold
  const auto x = random_vector<float>(static_cast<size_t>(n), 3);
  const auto dy = random_vector<float>(static_cast<size_t>(n), 4);
  auto run = [&](int threads, DropoutKey key, std::vector<float>& y, std::vector<float>& dx) {
    ThreadCount tc(threads);
    y.assign(static_cast<size_t>(n), 0.0f);
    dx.assign(static_cast<size_t>(n), 0.0f);
    k::cpu::dropout_forward(y.data(), x.data(), n, 0.4f, key);
    k::cpu::dropout_backward(out(dx), dy.data(), n, 0.4f, key);
  };
  std::vector<float> y1, dx1, y2, dx2, y3, dx3;
  run(1, {9, 1}, y1, dx1);
  run(2, {9, 1}, y2, dx2);
  run(2, {9, 2}, y3, dx3);
  CHECK(bit_identical(y1, y2));
  CHECK(bit_identical(dx1, dx2));
  CHECK_FALSE(bit_identical(y1, y3));
  // Forward and backward masks agree: dx is nonzero exactly where y is (x, dy nonzero).
  int64_t disagree = 0;
  for (size_t i = 0; i < y1.size(); ++i) disagree += (y1[i] != 0.0f) != (dx1[i] != 0.0f);
  CHECK(disagree == 0);
}

