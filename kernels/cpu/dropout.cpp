#include "kernels/contract/dropout.h"

#include <algorithm>

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

constexpr int kBlock = 64;

// random_bits(key.seed, key.stream, i) for i in [i0, i0 + count), count <= kBlock: the same
// Philox4x32-10 as kernels/base/philox.h, written lane-parallel so the compiler vectorises it.
__attribute__((always_inline)) inline void philox_block(uint32_t* out, uint64_t i0, int count, DropoutKey key) {
  uint32_t c0[kBlock], c1[kBlock], c2[kBlock], c3[kBlock];
  for (int j = 0; j < kBlock; ++j) {
    const uint64_t idx = i0 + static_cast<uint64_t>(j);
    c0[j] = static_cast<uint32_t>(idx);
    c1[j] = static_cast<uint32_t>(idx >> 32);
    c2[j] = static_cast<uint32_t>(key.stream);
    c3[j] = static_cast<uint32_t>(key.stream >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(key.seed), k1 = static_cast<uint32_t>(key.seed >> 32);
  for (int round = 0; round < 10; ++round) {
    for (int j = 0; j < kBlock; ++j) {
      const uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0[j];
      const uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2[j];
      const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[j] ^ k0;
      const uint32_t n1 = static_cast<uint32_t>(p1);
      const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[j] ^ k1;
      const uint32_t n3 = static_cast<uint32_t>(p0);
      c0[j] = n0;
      c1[j] = n1;
      c2[j] = n2;
      c3[j] = n3;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int j = 0; j < count; ++j) out[j] = c0[j];
}

// Blocks [b0, b1) of kBlock elements.
DC_CPU_CLONES void forward_blocks(float* y, const float* x, int64_t n, float p, DropoutKey key,
                                                          int64_t b0, int64_t b1) {
  const float scale = 1.0f / (1.0f - p), threshold = p * 16777216.0f;  // keep <=> (bits >> 8) >= p * 2^24
  for (int64_t b = b0 * kBlock; b < b1 * kBlock && b < n; b += kBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kBlock, n - b));
    uint32_t bits[kBlock];
    philox_block(bits, static_cast<uint64_t>(b), count, key);
    for (int j = 0; j < count; ++j) y[b + j] = static_cast<float>(bits[j] >> 8) >= threshold ? x[b + j] * scale : 0.0f;
  }
}

DC_CPU_CLONES void backward_blocks(float* dx, GradMode dx_mode, const float* dy, int64_t n, float p,
                                                           DropoutKey key, int64_t b0, int64_t b1) {
  const float scale = 1.0f / (1.0f - p), threshold = p * 16777216.0f;
  for (int64_t b = b0 * kBlock; b < b1 * kBlock && b < n; b += kBlock) {
    const int count = static_cast<int>(std::min<int64_t>(kBlock, n - b));
    uint32_t bits[kBlock];
    philox_block(bits, static_cast<uint64_t>(b), count, key);
    for (int j = 0; j < count; ++j) {
      const float g = static_cast<float>(bits[j] >> 8) >= threshold ? dy[b + j] * scale : 0.0f;
      dx[b + j] = dx_mode == GradMode::Overwrite ? g : dx[b + j] + g;
    }
  }
}

}  // namespace

void dropout_forward(float* y, const float* x, int64_t n, float p, DropoutKey key) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (use_threads(n, 32768)) {
    run_team([&] {
      const Range r = thread_range(blocks);
      forward_blocks(y, x, n, p, key, r.begin, r.end);
    });
  } else {
    forward_blocks(y, x, n, p, key, 0, blocks);
  }
}

void dropout_backward(GradOut<float> dx, const float* dy, int64_t n, float p, DropoutKey key) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  if (use_threads(n, 32768)) {
    run_team([&] {
      const Range r = thread_range(blocks);
      backward_blocks(dx.data, dx.mode, dy, n, p, key, r.begin, r.end);
    });
  } else {
    backward_blocks(dx.data, dx.mode, dy, n, p, key, 0, blocks);
  }
}

}  // namespace dc::kernels::cpu
