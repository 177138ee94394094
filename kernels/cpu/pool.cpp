#include "kernels/contract/pool.h"

#include <algorithm>

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

// Windows are processed 16 at a time, each lane one window, so the compare-and-select
// chain vectorises across windows instead of serialising within one.
DC_CPU_CLONES void forward_rows(float* y, int32_t* argmax, const float* x, Pool1dShape s, int64_t r0,
                                                        int64_t r1) {
  constexpr int W = 16;
  const int LOUT = s.LOUT();
  for (int64_t r = r0; r < r1; ++r) {
    const float* row = x + r * s.L;
    float* yr = y + r * LOUT;
    int32_t* ar = argmax + r * LOUT;
    for (int l0 = 0; l0 < LOUT; l0 += W) {
      const int cnt = std::min(W, LOUT - l0);
      const float* base = row + static_cast<int64_t>(l0) * s.stride;
      float best[W];
      int32_t idx[W];
      for (int j = 0; j < cnt; ++j) {
        best[j] = base[j * s.stride];
        idx[j] = 0;
      }
      for (int k = 1; k < s.K; ++k)
        for (int j = 0; j < cnt; ++j) {
          const float v = base[j * s.stride + k];
          // torch: a larger value wins, the first of equal values stays, NaN wins once.
          const bool take = (v > best[j]) | ((v != v) & (best[j] == best[j]));
          best[j] = take ? v : best[j];
          idx[j] = take ? k : idx[j];
        }
      for (int j = 0; j < cnt; ++j) {
        yr[l0 + j] = best[j];
        ar[l0 + j] = (l0 + j) * s.stride + idx[j];
      }
    }
  }
}

}  // namespace

void maxpool1d_forward(float* y, int32_t* argmax, const float* x, Pool1dShape s) {
  if (use_threads(1LL * s.R * s.L, 200000)) {
    run_team([&] {
      const Range r = thread_range(s.R);
      forward_rows(y, argmax, x, s, r.begin, r.end);
    });
  } else {
    forward_rows(y, argmax, x, s, 0, s.R);
  }
}

void maxpool1d_backward(GradOut<float> dx, const float* dy, const int32_t* argmax, Pool1dShape s) {
  const int LOUT = s.LOUT();
  parallel_for(s.R, 50000 / (s.L > 0 ? s.L : 1), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* row = dx.data + r * s.L;
      if (!dx.accumulate())
        for (int p = 0; p < s.L; ++p) row[p] = 0.0f;
      for (int l = 0; l < LOUT; ++l) row[argmax[r * LOUT + l]] += dy[r * LOUT + l];
    }
  });
}

}  // namespace dc::kernels::cpu
