// CPU kernels of the `layer_norm` family (kernels/contract/layer_norm.h). The forward pass and
// dx split the rows across the threads; dw and db split the columns, each thread walking all
// rows in order for its columns. Every sum keeps one order whatever the thread count.
#include "kernels/contract/layer_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/common.h"

namespace dc::kernels::cpu {
namespace {

constexpr int64_t kThreadsFrom = 32768;  // elements

void forward_rows(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b, LayerNormShape s,
                  int64_t r0, int64_t r1) {
  const int C = s.C;
  for (int64_t r = r0; r < r1; ++r) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float sum = 0.0f;
    for (int c = 0; c < C; ++c) sum += xr[c];
    const float mu = sum / static_cast<float>(C);
    float sq = 0.0f;
    for (int c = 0; c < C; ++c) sq += (xr[c] - mu) * (xr[c] - mu);
    const float rs = 1.0f / std::sqrt(sq / static_cast<float>(C) + s.eps);
    for (int c = 0; c < C; ++c) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
}

void dx_rows(GradOut<float> dx, const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
             int C, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t o = r * C;
    const float mu = mean[r], rs = rstd[r];
    float sg = 0.0f, sgx = 0.0f;
    for (int c = 0; c < C; ++c) {
      const float g = dy[o + c] * w[c];
      sg += g;
      sgx += g * ((x[o + c] - mu) * rs);
    }
    const float mg = sg / static_cast<float>(C), mgx = sgx / static_cast<float>(C);
    for (int c = 0; c < C; ++c) {
      const float v = rs * (dy[o + c] * w[c] - mg - (x[o + c] - mu) * rs * mgx);
      dx.data[o + c] = dx.accumulate() ? dx.data[o + c] + v : v;
    }
  }
}

// dw, db for columns [c0, c1): rows in order, the column block's running sums in `sw`, `sb`.
void param_columns(GradOut<float> dw, GradOut<float> db, const float* dy, const float* x, const float* mean,
                   const float* rstd, LayerNormShape s, int64_t c0, int64_t c1) {
  const int64_t n = c1 - c0;
  if (n <= 0) return;
  std::vector<float> sw(static_cast<size_t>(n), 0.0f), sb(static_cast<size_t>(n), 0.0f);
  for (int64_t r = 0; r < s.R; ++r) {
    const float* dyr = dy + r * s.C + c0;
    const float* xr = x + r * s.C + c0;
    const float mu = mean[r], rs = rstd[r];
    for (int64_t c = 0; c < n; ++c) {
      sw[c] += dyr[c] * ((xr[c] - mu) * rs);
      sb[c] += dyr[c];
    }
  }
  for (int64_t c = 0; c < n; ++c) {
    if (dw) dw.put(c0 + c, sw[c]);
    if (db) db.put(c0 + c, sb[c]);
  }
}

}  // namespace

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* w, const float* b,
                        LayerNormShape s) {
  if (s.R <= 0 || s.C <= 0) return;
  parallel_for_if(s.R * s.C > kThreadsFrom, s.R,
                  [&](int64_t r0, int64_t r1) { forward_rows(y, mean, rstd, x, w, b, s, r0, r1); });
}

void layer_norm_backward(GradOut<float> dx, GradOut<float> dw, GradOut<float> db, const float* dy, const float* x,
                         const float* w, const float* mean, const float* rstd, LayerNormShape s) {
  if (s.R <= 0 || s.C <= 0) return;
  const bool threads = s.R * s.C > kThreadsFrom;
  if (dx) parallel_for_if(threads, s.R, [&](int64_t r0, int64_t r1) { dx_rows(dx, dy, x, w, mean, rstd, s.C, r0, r1); });
  if (dw || db)
    parallel_for_if(threads, s.C, [&](int64_t c0, int64_t c1) { param_columns(dw, db, dy, x, mean, rstd, s, c0, c1); });
}

}  // namespace dc::kernels::cpu
