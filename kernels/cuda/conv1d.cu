// CUDA 1-D convolution (contract: kernels/cpu/conv1d.h; design and the layout of `col`:
// kernels/cuda/conv1d.h).
//
// Every sum over (c, k) runs c-major, k-minor; every sum over positions runs in position
// order within a chunk and chunks in a fixed order, so results do not depend on timing.
#include "kernels/contract/conv1d.h"
#include "kernels/cuda/conv1d.h"

#include <algorithm>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {


constexpr int kSmemFloats = 12288;  // 48 KiB: dynamic shared memory a block gets without opt-in
constexpr int kBlock = 256;         // threads of the simple (one thread per element) kernels

// Weight gradient tiles: kWT output channels x kWT (c, k) columns per block, chunks of kWL
// output positions, 16 x 16 threads with a 4 x 4 register tile each.
constexpr int kWT = 64, kWL = 32, kWPad = kWT + 4;
constexpr int kWThreads = 256;
static_assert(kWL * kWT % kWThreads == 0, "tile fills are whole rounds of the block");
constexpr int kMaxParts = 128;                      // split of the weight-gradient reduction
constexpr int64_t kMaxPartFloats = int64_t{1} << 24;  // 64 MiB of partial sums at most

Conv1dTuning g_tuning;  // set_conv1d_tuning (tests)

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Whether col holds x itself (else the im2col layout): see conv1d.h.
bool col_holds_x(const Conv1dShape& s) { return static_cast<int64_t>(s.L) <= static_cast<int64_t>(s.K) * s.LOUT(); }

// ---- forward ------------------------------------------------------------------------------

// Block (LT threads): sample n, output positions l0 + tid, channels o0 .. o0 + OT - 1.
// Shared: ws[cc][k][OT] (weights of this chunk of input channels, zero for o >= COUT) and
// xs[cc][span] (input positions l0*stride - pad + j, zero outside [0, L)).
template <int OT>
__global__ void __launch_bounds__(128)
    conv_forward_tiled(float* __restrict__ y, float* __restrict__ xcopy, const float* __restrict__ x,
                       const float* __restrict__ w, const float* __restrict__ b, Conv1dShape s, int LOUT, int ltiles,
                       int CC) {
  static_assert(OT % 4 == 0, "weights are read as float4");
  extern __shared__ __align__(16) float smem[];
  const int LT = blockDim.x, tid = threadIdx.x;
  const int span = (LT - 1) * s.stride + s.K;
  float* ws = smem;
  float* xs = smem + CC * s.K * OT;
  const int64_t n = blockIdx.x / ltiles;
  const int lt = static_cast<int>(blockIdx.x % ltiles);
  const int l0 = lt * LT, o0 = blockIdx.y * OT;
  const int64_t per_sample = static_cast<int64_t>(s.CIN) * s.L;
  const float* xn = x + n * per_sample;
  if (xcopy && blockIdx.y == 0 && lt == 0)  // one block per sample hands x to the backward pass
    for (int64_t i = tid; i < per_sample; i += LT) xcopy[n * per_sample + i] = xn[i];

  float acc[OT];
#pragma unroll
  for (int j = 0; j < OT; ++j) acc[j] = 0.0f;
  const int pos0 = l0 * s.stride - s.pad;
  for (int c0 = 0; c0 < s.CIN; c0 += CC) {
    const int cn = min(CC, s.CIN - c0);
    __syncthreads();  // the previous chunk's reads are done
    const int nw = cn * s.K * OT;
    for (int i = tid; i < nw; i += LT) {
      const int oo = i % OT, ck = i / OT;  // ck = cc*K + k within the chunk
      const int o = o0 + oo;
      ws[i] = o < s.COUT ? w[(static_cast<int64_t>(o) * s.CIN + c0) * s.K + ck] : 0.0f;
    }
    const int nx = cn * span;
    for (int i = tid; i < nx; i += LT) {
      const int cc = i / span, j = i - cc * span;
      const int pos = pos0 + j;
      xs[i] = (pos >= 0 && pos < s.L) ? xn[static_cast<int64_t>(c0 + cc) * s.L + pos] : 0.0f;
    }
    __syncthreads();
    // Threads past LOUT compute too (their reads stay inside xs) and just do not store.
    for (int cc = 0; cc < cn; ++cc) {
      const float* xr = xs + cc * span + tid * s.stride;
      const float4* wr = reinterpret_cast<const float4*>(ws + cc * s.K * OT);
      for (int k = 0; k < s.K; ++k) {
        const float xv = xr[k];
#pragma unroll
        for (int q = 0; q < OT / 4; ++q) {
          const float4 wv = wr[k * (OT / 4) + q];
          acc[4 * q + 0] = fmaf(wv.x, xv, acc[4 * q + 0]);
          acc[4 * q + 1] = fmaf(wv.y, xv, acc[4 * q + 1]);
          acc[4 * q + 2] = fmaf(wv.z, xv, acc[4 * q + 2]);
          acc[4 * q + 3] = fmaf(wv.w, xv, acc[4 * q + 3]);
        }
      }
    }
  }
  const int l = l0 + tid;
  if (l < LOUT) {
#pragma unroll
    for (int oo = 0; oo < OT; ++oo) {
      const int o = o0 + oo;
      if (o < s.COUT) y[(n * s.COUT + o) * LOUT + l] = acc[oo] + (b ? b[o] : 0.0f);
    }
  }
}

// One thread per output element: any shape.
__global__ void conv_forward_simple(float* __restrict__ y, const float* __restrict__ x, const float* __restrict__ w,
                                    const float* __restrict__ b, Conv1dShape s, int LOUT, int64_t total) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    const int l = static_cast<int>(idx % LOUT);
    const int64_t t = idx / LOUT;
    const int o = static_cast<int>(t % s.COUT);
    const int64_t n = t / s.COUT;
    float acc = 0.0f;
    for (int c = 0; c < s.CIN; ++c) {
      const float* xr = x + (n * s.CIN + c) * s.L;
      const float* wr = w + (static_cast<int64_t>(o) * s.CIN + c) * s.K;
      for (int k = 0; k < s.K; ++k) {
        const int pos = l * s.stride + k - s.pad;
        if (pos >= 0 && pos < s.L) acc = fmaf(wr[k], xr[pos], acc);
      }
    }
    y[idx] = acc + (b ? b[o] : 0.0f);
  }
}

// col (CIN*K, N*LOUT) = im2col(x), the CPU's layout: for shapes where x does not fit in col.
__global__ void im2col_kernel(float* __restrict__ col, const float* __restrict__ x, Conv1dShape s, int LOUT,
                              int64_t NL, int64_t total) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    const int r = static_cast<int>(idx / NL);
    const int64_t j = idx - static_cast<int64_t>(r) * NL;
    const int64_t n = j / LOUT;
    const int l = static_cast<int>(j - n * LOUT);
    const int c = r / s.K, k = r - c * s.K;
    const int pos = l * s.stride + k - s.pad;
    col[idx] = (pos >= 0 && pos < s.L) ? x[(n * s.CIN + c) * s.L + pos] : 0.0f;
  }
}

// ---- backward: dx -------------------------------------------------------------------------

// Stride 1. Block (PT, OS): sample n, input positions p0 + tx, channels c0 .. c0 + CT - 1
// (register accumulators); thread row ty takes the output channels ty, ty + OS, ... of each
// chunk. Shared: ws[oo][k][CT] (zero for c >= CIN) and ds[oo][span] = dy at positions
// lbase + j (zero outside [0, LOUT)), so dx[p] = sum_{o,k} w[o,c,k] dy[o, p + pad - k] reads
// ds[oo][tx + K - 1 - k]. The OS partial sums meet in shared memory at the end.
template <int CT>
__global__ void __launch_bounds__(256)
    conv_dx_tiled(float* __restrict__ dx, bool accumulate, const float* __restrict__ dy, const float* __restrict__ w,
                  Conv1dShape s, int LOUT, int ptiles, int OC) {
  static_assert(CT % 4 == 0, "weights are read as float4");
  extern __shared__ __align__(16) float smem[];
  const int PT = blockDim.x, OS = blockDim.y, tx = threadIdx.x, ty = threadIdx.y;
  const int nthreads = PT * OS, tid = ty * PT + tx;
  const int span = PT + s.K - 1;
  float* ws = smem;
  float* ds = smem + OC * s.K * CT;
  const int64_t n = blockIdx.x / ptiles;
  const int p0 = static_cast<int>(blockIdx.x % ptiles) * PT;
  const int c0 = blockIdx.y * CT;
  const int lbase = p0 + s.pad - (s.K - 1);
  const float* dyn = dy + n * s.COUT * LOUT;

  float acc[CT];
#pragma unroll
  for (int j = 0; j < CT; ++j) acc[j] = 0.0f;
  for (int o0 = 0; o0 < s.COUT; o0 += OC) {
    const int on = min(OC, s.COUT - o0);
    __syncthreads();  // the previous chunk's reads are done
    const int nw = on * s.K * CT;
    for (int i = tid; i < nw; i += nthreads) {
      const int cc = i % CT, ok = i / CT;  // ok = oo*K + k
      const int oo = ok / s.K, k = ok - oo * s.K;
      const int c = c0 + cc;
      ws[i] = c < s.CIN ? w[(static_cast<int64_t>(o0 + oo) * s.CIN + c) * s.K + k] : 0.0f;
    }
    const int nd = on * span;
    for (int i = tid; i < nd; i += nthreads) {
      const int oo = i / span, j = i - oo * span;
      const int l = lbase + j;
      ds[i] = (l >= 0 && l < LOUT) ? dyn[static_cast<int64_t>(o0 + oo) * LOUT + l] : 0.0f;
    }
    __syncthreads();
    for (int oo = ty; oo < on; oo += OS) {
      const float* dr = ds + oo * span + tx + (s.K - 1);  // dr - k: dy at l = p + pad - k
      const float4* wr = reinterpret_cast<const float4*>(ws + oo * s.K * CT);
      for (int k = 0; k < s.K; ++k) {
        const float g = *(dr - k);
#pragma unroll
        for (int q = 0; q < CT / 4; ++q) {
          const float4 wv = wr[k * (CT / 4) + q];
          acc[4 * q + 0] = fmaf(wv.x, g, acc[4 * q + 0]);
          acc[4 * q + 1] = fmaf(wv.y, g, acc[4 * q + 1]);
          acc[4 * q + 2] = fmaf(wv.z, g, acc[4 * q + 2]);
          acc[4 * q + 3] = fmaf(wv.w, g, acc[4 * q + 3]);
        }
      }
    }
  }
  __syncthreads();  // ws / ds are dead: the shared memory now holds the partial sums
  float* red = smem;  // [OS][CT][PT]
#pragma unroll
  for (int cc = 0; cc < CT; ++cc) red[(ty * CT + cc) * PT + tx] = acc[cc];
  __syncthreads();
  const int p = p0 + tx;
  if (ty == 0 && p < s.L) {
#pragma unroll
    for (int cc = 0; cc < CT; ++cc) {
      const int c = c0 + cc;
      if (c >= s.CIN) break;
      float sum = red[cc * PT + tx];
      for (int t = 1; t < OS; ++t) sum += red[(t * CT + cc) * PT + tx];
      const int64_t idx = (n * s.CIN + c) * s.L + p;
      dx[idx] = accumulate ? dx[idx] + sum : sum;
    }
  }
}

// One thread per input element: any stride.
__global__ void conv_dx_simple(float* __restrict__ dx, bool accumulate, const float* __restrict__ dy,
                               const float* __restrict__ w, Conv1dShape s, int LOUT, int64_t total) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    const int p = static_cast<int>(idx % s.L);
    const int64_t t = idx / s.L;
    const int c = static_cast<int>(t % s.CIN);
    const int64_t n = t / s.CIN;
    float acc = 0.0f;
    for (int o = 0; o < s.COUT; ++o) {
      const float* wr = w + (static_cast<int64_t>(o) * s.CIN + c) * s.K;
      const float* dr = dy + (n * s.COUT + o) * LOUT;
      for (int k = 0; k < s.K; ++k) {
        const int num = p + s.pad - k;  // = l * stride
        if (num < 0 || num % s.stride) continue;
        const int l = num / s.stride;
        if (l < LOUT) acc = fmaf(wr[k], dr[l], acc);
      }
    }
    dx[idx] = accumulate ? dx[idx] + acc : acc;
  }
}

// ---- backward: dw, db ---------------------------------------------------------------------

// Block (kWThreads): output tile o0 = blockIdx.y * kWT, ck0 = blockIdx.z * kWT; work items
// (sample n, positions l0 .. l0 + kWL - 1) blockIdx.x, blockIdx.x + gridDim.x, ...
// dw_out / db_out: slice blockIdx.x of the partial sums (part_stride apart), or the
// gradients themselves when gridDim.x == 1 (part_stride 0, acc_* from the GradModes).
// dw_out null: no weight gradient; db_out null: no bias gradient (only the z == 0 blocks
// compute it).
__global__ void __launch_bounds__(kWThreads)
    conv_dw_kernel(float* __restrict__ dw_out, bool acc_w, float* __restrict__ db_out, bool acc_b,
                   int64_t part_stride, const float* __restrict__ dy, const float* __restrict__ xsrc, bool x_layout,
                   Conv1dShape s, int LOUT, int lchunks, int64_t items) {
  __shared__ __align__(16) float dys[kWL][kWPad];  // dy[n, o0 + o, l0 + l] at [l][o]
  __shared__ __align__(16) float xs[kWL][kWPad];   // x(n, c, (l0 + l)*stride + k - pad), (c, k) = ck0 + j, at [l][j]
  const int tid = threadIdx.x, tx = tid % 16, ty = tid / 16;
  const int o0 = blockIdx.y * kWT, ck0 = blockIdx.z * kWT;
  const int CK = s.CIN * s.K;
  const int64_t NL = static_cast<int64_t>(s.N) * LOUT;
  const bool want_w = dw_out != nullptr, want_b = db_out != nullptr && blockIdx.z == 0;

  float acc[4][4];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) acc[i][j] = 0.0f;
  float bacc = 0.0f;

  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t n = item / lchunks;
    const int l0 = static_cast<int>(item - n * lchunks) * kWL;
    __syncthreads();  // the previous item's reads are done
    // Both tiles in one unrolled loop, so all of a thread's global loads are in flight at once.
#pragma unroll
    for (int r = 0; r < kWL * kWT / kWThreads; ++r) {
      const int i = tid + r * kWThreads;
      {
        const int l = i % kWL, o = i / kWL;  // a warp reads kWL consecutive positions of one row
        const int ll = l0 + l, og = o0 + o;
        dys[l][o] = (og < s.COUT && ll < LOUT) ? dy[(n * s.COUT + og) * LOUT + ll] : 0.0f;
      }
      if (want_w) {
        const int j = i % kWT, l = i / kWT;
        const int ck = ck0 + j, ll = l0 + l;
        float v = 0.0f;
        if (ck < CK && ll < LOUT) {
          if (x_layout) {
            const int c = ck / s.K, k = ck - c * s.K;
            const int pos = ll * s.stride + k - s.pad;
            if (pos >= 0 && pos < s.L) v = xsrc[(n * s.CIN + c) * s.L + pos];
          } else {
            v = xsrc[static_cast<int64_t>(ck) * NL + n * LOUT + ll];
          }
        }
        xs[l][j] = v;
      }
    }
    __syncthreads();
    if (want_b && tid < kWT)
      for (int l = 0; l < kWL; ++l) bacc += dys[l][tid];
    if (want_w)
#pragma unroll 4
      for (int l = 0; l < kWL; ++l) {
        const float4 a = *reinterpret_cast<const float4*>(&dys[l][ty * 4]);
        const float4 bq = *reinterpret_cast<const float4*>(&xs[l][tx * 4]);
        const float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {bq.x, bq.y, bq.z, bq.w};
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
          for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
      }
  }

  if (want_w) {
    float* out = dw_out + blockIdx.x * part_stride;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int o = o0 + ty * 4 + i;
      if (o >= s.COUT) break;
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int ck = ck0 + tx * 4 + j;
        if (ck >= CK) break;
        const int64_t idx = static_cast<int64_t>(o) * CK + ck;
        out[idx] = acc_w ? out[idx] + acc[i][j] : acc[i][j];
      }
    }
  }
  if (want_b && tid < kWT && o0 + tid < s.COUT) {
    float* out = db_out + blockIdx.x * part_stride;
    const int o = o0 + tid;
    out[o] = acc_b ? out[o] + bacc : bacc;
  }
}

// dw[i] (=|+=) sum_p part[p][i] for i < nw, db[o] (=|+=) sum_p part[p][nw + o], p in order.
__global__ void conv_dw_reduce(float* __restrict__ dw, bool acc_w, float* __restrict__ db, bool acc_b,
                               const float* __restrict__ part, int P, int64_t nw, int COUT, int64_t part_stride) {
  const int64_t total = nw + COUT, step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total; idx += step) {
    float* dst = idx < nw ? (dw ? dw + idx : nullptr) : (db ? db + (idx - nw) : nullptr);
    if (!dst) continue;
    const bool accumulate = idx < nw ? acc_w : acc_b;
    float sum = part[idx];
    for (int p = 1; p < P; ++p) sum += part[p * part_stride + idx];
    *dst = accumulate ? *dst + sum : sum;
  }
}

}  // namespace

void set_conv1d_tuning(Conv1dTuning t) { g_tuning = t; }

void conv1d_forward(float* y, float* col, const float* x, const float* w, const float* b, Conv1dShape s) {
  const int LOUT = s.LOUT();
  if (s.N <= 0 || LOUT <= 0) return;
  cudaStream_t st = current_stream();
  const bool holds_x = col_holds_x(s);
  const int64_t xtotal = static_cast<int64_t>(s.N) * s.CIN * s.L;
  float* xcopy = col && holds_x && xtotal > 0 ? col : nullptr;
  bool copied = false;

  const int64_t ytotal = static_cast<int64_t>(s.N) * s.COUT * LOUT;
  if (ytotal > 0) {
    // Big tiles (16 channels x 128 positions) when they fill the GPU, else smaller ones.
    auto blocks = [&](int ot, int lt) { return s.N * ceil_div(LOUT, lt) * ceil_div(s.COUT, ot); };
    int OT = 16, LT = 128;
    if (g_tuning.forward == 1) {
      OT = 8;
      LT = 32;
    } else if (g_tuning.forward != 2 && blocks(OT, LT) < sm_count()) {
      OT = 8;
      while (LT > 32 && blocks(OT, LT) < sm_count()) LT /= 2;
    }
    const int64_t span = static_cast<int64_t>(LT - 1) * s.stride + s.K;
    const int64_t per_c = static_cast<int64_t>(s.K) * OT + span;  // shared floats per input channel
    const int64_t ltiles = ceil_div(LOUT, LT);
    if (g_tuning.forward != 3 && s.CIN >= 1 && s.K >= 1 && per_c <= kSmemFloats && s.N * ltiles <= INT32_MAX) {
      const int CC = static_cast<int>(std::min<int64_t>(s.CIN, kSmemFloats / per_c));
      const size_t smem = static_cast<size_t>(CC * per_c) * sizeof(float);
      const dim3 grid(static_cast<unsigned>(s.N * ltiles), static_cast<unsigned>(ceil_div(s.COUT, OT)));
      if (OT == 16)
        conv_forward_tiled<16><<<grid, LT, smem, st>>>(y, xcopy, x, w, b, s, LOUT, static_cast<int>(ltiles), CC);
      else
        conv_forward_tiled<8><<<grid, LT, smem, st>>>(y, xcopy, x, w, b, s, LOUT, static_cast<int>(ltiles), CC);
      DC_CUDA_CHECK_LAUNCH();
      copied = true;
    } else {
      conv_forward_simple<<<grid_for(ytotal, kBlock), kBlock, 0, st>>>(y, x, w, b, s, LOUT, ytotal);
      DC_CUDA_CHECK_LAUNCH();
    }
  }
  if (xcopy && !copied) copy_device(col, x, static_cast<size_t>(xtotal) * sizeof(float));
  if (col && !holds_x) {
    const int64_t NL = static_cast<int64_t>(s.N) * LOUT, total = static_cast<int64_t>(s.CIN) * s.K * NL;
    if (total > 0) {
      im2col_kernel<<<grid_for(total, kBlock), kBlock, 0, st>>>(col, x, s, LOUT, NL, total);
      DC_CUDA_CHECK_LAUNCH();
    }
  }
}

void conv1d_backward(GradOut<float> dx_out, GradOut<float> dw_out, GradOut<float> db_out, const float* dy, const float* col,
                     const float* w, Conv1dShape s) {
  float *dx = dx_out.data, *dw = dw_out.data, *db = db_out.data;
  const GradMode dx_mode = dx_out.mode, dw_mode = dw_out.mode, db_mode = db_out.mode;
  const int LOUT = s.LOUT();
  cudaStream_t st = current_stream();

  const int64_t xtotal = static_cast<int64_t>(s.N) * s.CIN * s.L;
  if (dx && xtotal > 0) {
    const bool accumulate = dx_mode == GradMode::Accumulate;
    const int CT = s.CIN <= 4 ? 4 : 8;
    const int64_t cchunks = ceil_div(s.CIN, CT);
    // 128 positions x 2 channel splits, or, when that leaves SMs idle, 32 positions x 8
    // splits (more blocks, shorter serial sums).
    int PT = 128, OS = 2;
    if (g_tuning.dx == 1 || (g_tuning.dx != 2 && s.N * ceil_div(s.L, PT) * cchunks < sm_count())) {
      PT = 32;
      OS = 8;
    }
    const int64_t span = static_cast<int64_t>(PT) + s.K - 1;
    const int64_t per_o = static_cast<int64_t>(s.K) * CT + span;  // shared floats per output channel
    const int64_t ptiles = ceil_div(s.L, PT);
    if (g_tuning.dx != 3 && s.stride == 1 && s.K >= 1 && per_o <= kSmemFloats && s.N * ptiles <= INT32_MAX) {
      const int OC = static_cast<int>(std::min<int64_t>(s.COUT, kSmemFloats / per_o));
      const int64_t floats = std::max<int64_t>(OC * per_o, static_cast<int64_t>(OS) * CT * PT);
      const size_t smem = static_cast<size_t>(floats) * sizeof(float);
      const dim3 grid(static_cast<unsigned>(s.N * ptiles), static_cast<unsigned>(cchunks)), block(PT, OS);
      if (CT == 4)
        conv_dx_tiled<4><<<grid, block, smem, st>>>(dx, accumulate, dy, w, s, LOUT, static_cast<int>(ptiles), OC);
      else
        conv_dx_tiled<8><<<grid, block, smem, st>>>(dx, accumulate, dy, w, s, LOUT, static_cast<int>(ptiles), OC);
    } else {
      conv_dx_simple<<<grid_for(xtotal, kBlock), kBlock, 0, st>>>(dx, accumulate, dy, w, s, LOUT, xtotal);
    }
    DC_CUDA_CHECK_LAUNCH();
  }

  if ((dw || db) && s.COUT > 0) {
    const int CK = s.CIN * s.K;
    const int64_t nw = static_cast<int64_t>(s.COUT) * CK;
    const int64_t lchunks = ceil_div(LOUT, kWL), items = static_cast<int64_t>(s.N) * lchunks;
    if (items <= 0) {  // no positions: the sums are empty
      if (dw && dw_mode == GradMode::Overwrite) fill_zero(dw, static_cast<size_t>(nw) * sizeof(float));
      if (db && db_mode == GradMode::Overwrite) fill_zero(db, static_cast<size_t>(s.COUT) * sizeof(float));
      return;
    }
    const unsigned ytiles = static_cast<unsigned>(ceil_div(s.COUT, kWT));
    const unsigned ztiles = dw ? static_cast<unsigned>(std::max<int64_t>(1, ceil_div(CK, kWT))) : 1u;
    const int64_t part_stride = nw + s.COUT;
    int64_t P = 1;
    if (g_tuning.dw_parts > 0) {
      P = std::min<int64_t>(g_tuning.dw_parts, items);
    } else if (items > 3) {
      P = std::min<int64_t>({ceil_div(items, 2), std::max<int64_t>(1, 2 * sm_count() / (int64_t{ytiles} * ztiles)),
                             kMaxParts, std::max<int64_t>(1, kMaxPartFloats / part_stride)});
    }
    const bool x_layout = col_holds_x(s);
    if (P == 1) {
      conv_dw_kernel<<<dim3(1, ytiles, ztiles), kWThreads, 0, st>>>(
          dw, dw_mode == GradMode::Accumulate, db, db_mode == GradMode::Accumulate, 0, dy, col, x_layout, s, LOUT,
          static_cast<int>(lchunks), items);
      DC_CUDA_CHECK_LAUNCH();
    } else {
      float* part = device_scratch(0, static_cast<size_t>(P * part_stride));
      conv_dw_kernel<<<dim3(static_cast<unsigned>(P), ytiles, ztiles), kWThreads, 0, st>>>(
          dw ? part : nullptr, false, db ? part + nw : nullptr, false, part_stride, dy, col, x_layout, s, LOUT,
          static_cast<int>(lchunks), items);
      DC_CUDA_CHECK_LAUNCH();
      conv_dw_reduce<<<grid_for(part_stride, kBlock), kBlock, 0, st>>>(dw, dw_mode == GradMode::Accumulate, db,
                                                                       db_mode == GradMode::Accumulate, part,
                                                                       static_cast<int>(P), nw, s.COUT, part_stride);
      DC_CUDA_CHECK_LAUNCH();
    }
  }
}

}  // namespace dc::kernels::cuda
