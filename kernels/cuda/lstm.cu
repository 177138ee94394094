// CUDA LSTM (contract: kernels/contract/lstm.h; this backend's workspace layout and design:
// kernels/cuda/lstm.h).
//
// Threads of the recurrent kernels: a block owns one (group, direction) pair and a tile of
// S * NB sequences; thread (s, j, ks) owns hidden unit j of the NB sequences of slot s, and
// the KS threads of one (s, j) (adjacent lanes) split the dot products over the inputs,
// summed by a butterfly of shuffles (so all KS lanes hold the same bits and run the cell
// update redundantly; lane ks == 0 writes). NB > 1 reuses each weight read from shared
// memory for NB sequences (large batches), KS > 1 shortens the serial chain of a step
// (small batches). Shared weights are stored [i][k][ks] so that a warp's reads are
// consecutive words (no bank conflicts).
//
//   forward : z_t = [x_t, h_prev] (double-buffered in shared memory; x of the next step is
//             prefetched into registers during the current one), a = W z_t + b, gates, c
//             in registers, h written to the other buffer: one __syncthreads per step.
//   backward: per step, da from the saved gates / c (prefetched one step ahead) and the
//             carried dh / dc (registers); da goes to global (for the weight gradients) and
//             to a double-buffered shared row; after one __syncthreads, dh_prev = da W_hh.
//
// Then the weight gradients: C_p[m][n] = sum_r da_p[r][m] z_p[r][n] with z = [x, h_prev, 1]
// (n < I: dW_ih, n < I+H: dW_hh, n = I+H: the bias gradient), as a 64x64-tiled reduction
// split over chunks of at most 256 rows into partial sums (scratch; short float sums, so
// the rounding does not grow with B*T), then a finalize pass that adds
// the chunks in order and writes each gradient with its GradMode. dx sums both
// directions' da W_ih per row. Nothing uses atomics: the results are deterministic.
#include "kernels/contract/lstm.h"
#include "kernels/cuda/lstm.h"

#include <algorithm>
#include <climits>
#include <string>
#include <type_traits>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {
namespace {


constexpr int kPairsPerLaunch = 16;  // pointer tables travel by value in the kernel arguments
constexpr int kMaxHidden = 1024;
constexpr int kXRegs = 2;            // x values a thread prefetches per step in registers

struct PairPtrs {
  const float* w_ih[kPairsPerLaunch];
  const float* w_hh[kPairsPerLaunch];
  const float* b_ih[kPairsPerLaunch];
  const float* b_hh[kPairsPerLaunch];
};

struct GradPtrs {
  float* out[4][kPairsPerLaunch];            // w_ih, w_hh, b_ih, b_hh (null: not wanted)
  unsigned char accumulate[4][kPairsPerLaunch];
};

inline int round_up(int v, int m) { return (v + m - 1) / m * m; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct Limits {
  int sms = 0, smem_optin = 0;
};

const Limits& device_limits() {
  static const Limits limits = [] {
    (void)current_stream();  // initialises the runtime (and reports a missing device)
    int dev = 0;
    Limits l;
    DC_CUDA_CHECK(cudaGetDevice(&dev));
    DC_CUDA_CHECK(cudaDeviceGetAttribute(&l.sms, cudaDevAttrMultiProcessorCount, dev));
    DC_CUDA_CHECK(cudaDeviceGetAttribute(&l.smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return l;
  }();
  return limits;
}

__device__ __forceinline__ float sigmoid_f(float v) {
  if (v >= 0.0f) return 1.0f / (1.0f + expf(-v));
  const float e = expf(v);
  return e / (1.0f + e);
}

__device__ __forceinline__ void put(float* d, float v, bool accumulate) {
  if (accumulate) *d += v;
  else *d = v;
}

// ---- weight packing -------------------------------------------------------------------------

// Forward weights of pairs p0 .. p0+np-1: per pair Wz [Lp/KS][4H][KS] with
// Wz[i][k][ks] = [W_ih | W_hh][k][i*KS + ks] (zero for columns >= I + H), then the bias
// b_ih + b_hh [4H] (a null bias counts as zero).
__global__ void pack_forward_kernel(float* packed, PairPtrs w, int p0, int np, int I, int H, int KS, int Lp) {
  const int G4 = 4 * H;
  const int64_t wz = static_cast<int64_t>(Lp) * G4, per = wz + G4, n = static_cast<int64_t>(np) * per;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int pl = static_cast<int>(e / per);
    const int64_t o = e - pl * per;
    float v;
    if (o < wz) {
      const int ks = static_cast<int>(o % KS);
      const int64_t rest = o / KS;
      const int k = static_cast<int>(rest % G4), i = static_cast<int>(rest / G4);
      const int m = i * KS + ks;
      v = m < I ? w.w_ih[pl][static_cast<int64_t>(k) * I + m]
                : (m < I + H ? w.w_hh[pl][static_cast<int64_t>(k) * H + (m - I)] : 0.0f);
    } else {
      const int k = static_cast<int>(o - wz);
      v = (w.b_ih[pl] ? w.b_ih[pl][k] : 0.0f) + (w.b_hh[pl] ? w.b_hh[pl][k] : 0.0f);
    }
    packed[(p0 + pl) * per + o] = v;
  }
}

// Backward recurrent weights of pairs p0 .. p0+np-1: per pair Wb [K4p/KS][H][KS] with
// Wb[i][j][ks] = W_hh[i*KS + ks][j] (zero for rows >= 4H).
__global__ void pack_backward_kernel(float* packed, PairPtrs w, int p0, int np, int H, int KS, int K4p) {
  const int G4 = 4 * H;
  const int64_t per = static_cast<int64_t>(K4p) * H, n = static_cast<int64_t>(np) * per;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int pl = static_cast<int>(e / per);
    const int64_t o = e - pl * per;
    const int ks = static_cast<int>(o % KS);
    const int64_t rest = o / KS;
    const int j = static_cast<int>(rest % H), i = static_cast<int>(rest / H);
    const int k = i * KS + ks;
    packed[(p0 + pl) * per + o] = k < G4 ? w.w_hh[pl][static_cast<int64_t>(k) * H + j] : 0.0f;
  }
}

// ---- the recurrent kernels ------------------------------------------------------------------

// Most threads a block of the NB-sequence kernels may have (their register budget).
__host__ __device__ constexpr int max_threads_for(int NB) { return NB == 1 ? 1024 : 256; }

struct RecurrentGeometry {
  int B, T, I, H, D, P;
  int KS;      // threads per (sequence slot, hidden unit)
  int S;       // sequence slots per block (each of NB sequences)
  int tiles;   // blocks per pair
  int active;  // S * H * KS threads do work; the rest of the last warp only join barriers / shuffles
};

struct FwdArgs {
  RecurrentGeometry geo;
  float* y;
  float* ws;  // null: inference
  const float* x;
  const float* packed;
  int Lp;       // I + H rounded up to KS
  int x_smem;   // 1: the block's whole input sequence is staged in shared memory first
};

template <int NB, bool kSmemW>
__global__ void __launch_bounds__(max_threads_for(NB)) lstm_forward_kernel(const FwdArgs a) {
  extern __shared__ float smem[];
  const RecurrentGeometry& q = a.geo;
  const int H = q.H, I = q.I, T = q.T, B = q.B, G4 = 4 * H, KS = q.KS, Lp = a.Lp;
  const int Sseq = q.S * NB;
  const int p = blockIdx.x / q.tiles, tile = blockIdx.x - p * q.tiles;
  const int g = p / q.D, d = p - g * q.D;
  const int b0 = tile * Sseq;
  const int64_t BT = static_cast<int64_t>(B) * T;
  const int64_t wz = static_cast<int64_t>(Lp) * G4;
  const float* wsrc = a.packed + static_cast<int64_t>(p) * (wz + G4);
  float* zbuf = smem + (kSmemW ? wz : 0);  // [2][Sseq][Lp]: z = [x_t, h_prev, 0 padding]
  float* xall = zbuf + 2 * Sseq * Lp;      // x_smem: [step][Sseq][I], x in this direction's step order
  const int tid = threadIdx.x, nth = blockDim.x;
  const bool active = tid < q.active;
  const int ks = active ? tid % KS : 0;
  const int j = active ? (tid / KS) % H : 0;
  const int s = active ? tid / (KS * H) : 0;

  const float* W = wsrc;
  if constexpr (kSmemW) {
    for (int64_t e = tid; e < wz; e += nth) smem[e] = wsrc[e];
    W = smem;
  }
  for (int e = tid; e < 2 * Sseq * Lp; e += nth) zbuf[e] = 0.0f;
  float bias[4];
#pragma unroll
  for (int k = 0; k < 4; ++k) bias[k] = wsrc[wz + k * H + j];
  const int64_t xg = static_cast<int64_t>(g) * B;  // (g, b) row of x and y: xg + b
  const int nx = Sseq * I;
  if (a.x_smem)
    for (int64_t e = tid; e < static_cast<int64_t>(T) * nx; e += nth) {
      const int step = static_cast<int>(e / nx), idx = static_cast<int>(e - static_cast<int64_t>(step) * nx);
      const int sl = idx / I, i = idx - sl * I, b = b0 + sl, t = d == 0 ? step : T - 1 - step;
      xall[e] = b < B ? a.x[((xg + b) * T + t) * I + i] : 0.0f;
    }
  __syncthreads();  // the zero fill lands before the first x
  {
    const int t0 = d == 0 ? 0 : T - 1;
    for (int e = tid; e < nx; e += nth) {
      const int sl = e / I, i = e - sl * I, b = b0 + sl;
      if (b < B) zbuf[sl * Lp + i] = a.x[((xg + b) * T + t0) * I + i];
    }
  }
  __syncthreads();

  const int DH = q.D * H;
  float* gates_ws = a.ws ? a.ws + static_cast<int64_t>(p) * BT * G4 : nullptr;
  float* c_ws = a.ws ? a.ws + static_cast<int64_t>(q.P) * BT * G4 + static_cast<int64_t>(p) * BT * H : nullptr;
  float* hp_ws = a.ws ? a.ws + static_cast<int64_t>(q.P) * BT * 5 * H + static_cast<int64_t>(p) * BT * H : nullptr;
  const int n_i = Lp / KS;
  float c[NB], hp[NB];
#pragma unroll
  for (int u = 0; u < NB; ++u) c[u] = hp[u] = 0.0f;

  for (int step = 0; step < T; ++step) {
    const int t = d == 0 ? step : T - 1 - step;
    const float* cur = zbuf + (step & 1) * Sseq * Lp;
    float* nxt = zbuf + ((step & 1) ^ 1) * Sseq * Lp;
    const bool more = step + 1 < T;
    const int tn = d == 0 ? t + 1 : t - 1;
    // Without x_smem: the next step's x, loaded now and stored after this step's reads of `cur`.
    float xr[kXRegs];
#pragma unroll
    for (int e = 0; e < kXRegs; ++e) {
      const int idx = tid + e * nth;
      xr[e] = 0.0f;
      if (more && !a.x_smem && idx < nx) {
        const int sl = idx / I, i = idx - sl * I, b = b0 + sl;
        if (b < B) xr[e] = a.x[((xg + b) * T + tn) * I + i];
      }
    }
    // a[k = q*H + j] for the NB sequences, this lane's share of the inputs m = i*KS + ks.
    float acc[4][NB];
#pragma unroll
    for (int k = 0; k < 4; ++k)
#pragma unroll
      for (int u = 0; u < NB; ++u) acc[k][u] = 0.0f;
    const float* wr = W + static_cast<int64_t>(j) * KS + ks;
    const float* zr = cur + s * NB * Lp + ks;
    const int gstride = H * KS;
#pragma unroll 2
    for (int i = 0; i < n_i; ++i) {
      const float* wi = wr + static_cast<int64_t>(i) * G4 * KS;
      const float w0 = wi[0], w1 = wi[gstride], w2 = wi[2 * gstride], w3 = wi[3 * gstride];
#pragma unroll
      for (int u = 0; u < NB; ++u) {
        const float z = zr[u * Lp + i * KS];
        acc[0][u] = fmaf(w0, z, acc[0][u]);
        acc[1][u] = fmaf(w1, z, acc[1][u]);
        acc[2][u] = fmaf(w2, z, acc[2][u]);
        acc[3][u] = fmaf(w3, z, acc[3][u]);
      }
    }
    for (int o = KS >> 1; o > 0; o >>= 1)
#pragma unroll
      for (int k = 0; k < 4; ++k)
#pragma unroll
        for (int u = 0; u < NB; ++u) acc[k][u] += __shfl_xor_sync(0xffffffffu, acc[k][u], o);
#pragma unroll
    for (int u = 0; u < NB; ++u) {
      const float ig = sigmoid_f(acc[0][u] + bias[0]);
      const float fg = sigmoid_f(acc[1][u] + bias[1]);
      const float gg = tanhf(acc[2][u] + bias[2]);
      const float og = sigmoid_f(acc[3][u] + bias[3]);
      c[u] = fg * c[u] + ig * gg;
      const float h = og * tanhf(c[u]);
      const int sl = s * NB + u, b = b0 + sl;
      if (active && ks == 0 && b < B) {
        a.y[((xg + b) * T + t) * DH + d * H + j] = h;
        nxt[sl * Lp + I + j] = h;
        if (gates_ws) {
          const int64_t r = static_cast<int64_t>(b) * T + t;
          float* gr = gates_ws + r * G4 + j;
          gr[0] = ig;
          gr[H] = fg;
          gr[2 * H] = gg;
          gr[3 * H] = og;
          c_ws[r * H + j] = c[u];
          hp_ws[r * H + j] = hp[u];
        }
      }
      hp[u] = h;
    }
    if (more && a.x_smem) {
      const float* xs = xall + static_cast<int64_t>(step + 1) * nx;
      for (int idx = tid; idx < nx; idx += nth) {
        const int sl = idx / I;
        nxt[sl * Lp + (idx - sl * I)] = xs[idx];
      }
    } else if (more) {
#pragma unroll
      for (int e = 0; e < kXRegs; ++e) {
        const int idx = tid + e * nth;
        if (idx < nx) {
          const int sl = idx / I;
          nxt[sl * Lp + (idx - sl * I)] = xr[e];
        }
      }
      for (int idx = tid + kXRegs * nth; idx < nx; idx += nth) {  // wide inputs: the rest, loaded now
        const int sl = idx / I, i = idx - sl * I, b = b0 + sl;
        nxt[sl * Lp + i] = b < B ? a.x[((xg + b) * T + tn) * I + i] : 0.0f;
      }
    }
    __syncthreads();
  }
}

struct BwdArgs {
  RecurrentGeometry geo;
  float* da;         // [P][B*T][4H], rows b*T + t
  const float* dy;
  const float* ws;
  const float* packed;
  int K4p;           // 4H rounded up to KS
};

// What one step of the backward pass reads for the NB sequences of a thread.
template <int NB>
struct StepIn {
  float g[4][NB], c[NB], cp[NB], dy[NB];
};

__device__ __forceinline__ void prefetch_l2(const void* p) {
#ifdef __CUDA_ARCH__
  asm volatile("prefetch.L2 [%0];" ::"l"(p));
#else
  (void)p;
#endif
}

// Asks L2 for what load_step(step) will read (issued two steps ahead).
template <int NB>
__device__ __forceinline__ void prefetch_step(const BwdArgs& a, int step, int g, int d, int b0s, int j, const float* gates_ws,
                                              const float* c_ws) {
  const RecurrentGeometry& q = a.geo;
  const int T = q.T, H = q.H, G4 = 4 * H, DH = q.D * H;
  const int t = d == 0 ? step : T - 1 - step;
#pragma unroll
  for (int u = 0; u < NB; ++u) {
    const int b = b0s + u;
    if (b < q.B) {
      const int64_t r = static_cast<int64_t>(b) * T + t;
      const float* gr = gates_ws + r * G4 + j;
      prefetch_l2(gr);
      prefetch_l2(gr + H);
      prefetch_l2(gr + 2 * H);
      prefetch_l2(gr + 3 * H);
      prefetch_l2(c_ws + r * H + j);
      prefetch_l2(a.dy + ((static_cast<int64_t>(g) * q.B + b) * T + t) * DH + d * H + j);
    }
  }
}

template <int NB>
__device__ __forceinline__ StepIn<NB> load_step(const BwdArgs& a, int step, int g, int d, int b0s, int j,
                                                const float* gates_ws, const float* c_ws) {
  const RecurrentGeometry& q = a.geo;
  const int T = q.T, H = q.H, G4 = 4 * H, DH = q.D * H;
  const int t = d == 0 ? step : T - 1 - step;
  const int tp = d == 0 ? t - 1 : t + 1;
  StepIn<NB> in;
#pragma unroll
  for (int u = 0; u < NB; ++u) {
    const int b = b0s + u;
    if (b < q.B) {
      const int64_t r = static_cast<int64_t>(b) * T + t;
      const float* gr = gates_ws + r * G4 + j;
      in.g[0][u] = gr[0];
      in.g[1][u] = gr[H];
      in.g[2][u] = gr[2 * H];
      in.g[3][u] = gr[3 * H];
      in.c[u] = c_ws[r * H + j];
      in.cp[u] = step > 0 ? c_ws[(static_cast<int64_t>(b) * T + tp) * H + j] : 0.0f;
      in.dy[u] = a.dy[((static_cast<int64_t>(g) * q.B + b) * T + t) * DH + d * H + j];
    } else {
      in.g[0][u] = in.g[1][u] = in.g[2][u] = in.g[3][u] = 0.0f;
      in.c[u] = in.cp[u] = in.dy[u] = 0.0f;
    }
  }
  return in;
}

template <int NB, bool kSmemW>
__global__ void __launch_bounds__(max_threads_for(NB)) lstm_backward_kernel(const BwdArgs a) {
  extern __shared__ float smem[];
  const RecurrentGeometry& q = a.geo;
  const int H = q.H, T = q.T, B = q.B, G4 = 4 * H, KS = q.KS, K4p = a.K4p;
  const int Sseq = q.S * NB;
  const int p = blockIdx.x / q.tiles, tile = blockIdx.x - p * q.tiles;
  const int g = p / q.D, d = p - g * q.D;
  const int b0 = tile * Sseq;
  const int64_t BT = static_cast<int64_t>(B) * T;
  const int64_t wsz = static_cast<int64_t>(K4p) * H;
  const float* wsrc = a.packed + static_cast<int64_t>(p) * wsz;
  float* dbuf = smem + (kSmemW ? wsz : 0);  // [2][Sseq][K4p]: da of a step, zero padded
  const int tid = threadIdx.x, nth = blockDim.x;
  const bool active = tid < q.active;
  const int ks = active ? tid % KS : 0;
  const int j = active ? (tid / KS) % H : 0;
  const int s = active ? tid / (KS * H) : 0;

  const float* W = wsrc;
  if constexpr (kSmemW) {
    for (int64_t e = tid; e < wsz; e += nth) smem[e] = wsrc[e];
    W = smem;
  }
  for (int e = tid; e < 2 * Sseq * K4p; e += nth) dbuf[e] = 0.0f;
  const float* gates_ws = a.ws + static_cast<int64_t>(p) * BT * G4;
  const float* c_ws = a.ws + static_cast<int64_t>(q.P) * BT * G4 + static_cast<int64_t>(p) * BT * H;
  float* da_p = a.da + static_cast<int64_t>(p) * BT * G4;
  const int b0s = b0 + s * NB;  // this thread's first sequence
  StepIn<NB> cur = load_step<NB>(a, T - 1, g, d, b0s, j, gates_ws, c_ws);
  float dh_next[NB], dc_next[NB];
#pragma unroll
  for (int u = 0; u < NB; ++u) dh_next[u] = dc_next[u] = 0.0f;
  const int n_i = K4p / KS;
  __syncthreads();  // weights staged, buffers zeroed

  for (int step = T - 1; step >= 0; --step) {
    const int t = d == 0 ? step : T - 1 - step;
    StepIn<NB> next;
    if (step > 0) next = load_step<NB>(a, step - 1, g, d, b0s, j, gates_ws, c_ws);  // in flight during this step
    if (step > 1) prefetch_step<NB>(a, step - 2, g, d, b0s, j, gates_ws, c_ws);
    float* dcur = dbuf + ((T - 1 - step) & 1) * Sseq * K4p;
#pragma unroll
    for (int u = 0; u < NB; ++u) {
      const float ig = cur.g[0][u], fg = cur.g[1][u], gg = cur.g[2][u], og = cur.g[3][u];
      const float tc = tanhf(cur.c[u]);
      const float dh = cur.dy[u] + dh_next[u];
      const float dc = dc_next[u] + dh * og * (1.0f - tc * tc);
      dc_next[u] = dc * fg;
      const float da0 = dc * gg * ig * (1.0f - ig);
      const float da1 = dc * cur.cp[u] * fg * (1.0f - fg);
      const float da2 = dc * ig * (1.0f - gg * gg);
      const float da3 = dh * tc * og * (1.0f - og);
      const int sl = s * NB + u, b = b0 + sl;
      if (active && ks == 0 && b < B) {
        float* dr = da_p + (static_cast<int64_t>(b) * T + t) * G4 + j;
        dr[0] = da0;
        dr[H] = da1;
        dr[2 * H] = da2;
        dr[3 * H] = da3;
        float* ds = dcur + sl * K4p + j;
        ds[0] = da0;
        ds[H] = da1;
        ds[2 * H] = da2;
        ds[3 * H] = da3;
      }
    }
    if (step == 0) break;  // (uniform) no earlier step needs dh
    __syncthreads();       // this step's da rows are complete
    // dh of the previous step: (da W_hh)[j], this lane's share of k = i*KS + ks.
    float acc[NB];
#pragma unroll
    for (int u = 0; u < NB; ++u) acc[u] = 0.0f;
    const float* wr = W + static_cast<int64_t>(j) * KS + ks;
    const float* dr = dcur + s * NB * K4p + ks;
    const int istride = H * KS;
#pragma unroll 4
    for (int i = 0; i < n_i; ++i) {
      const float w = wr[static_cast<int64_t>(i) * istride];
#pragma unroll
      for (int u = 0; u < NB; ++u) acc[u] = fmaf(dr[u * K4p + i * KS], w, acc[u]);
    }
    for (int o = KS >> 1; o > 0; o >>= 1)
#pragma unroll
      for (int u = 0; u < NB; ++u) acc[u] += __shfl_xor_sync(0xffffffffu, acc[u], o);
#pragma unroll
    for (int u = 0; u < NB; ++u) dh_next[u] = acc[u];
    cur = next;
    // No barrier here: the next step writes the other da buffer, and the one after it is
    // behind the next step's barrier, which every thread reaches only after these reads.
  }
}

// ---- weight gradients -----------------------------------------------------------------------

constexpr int kBM = 64, kBN = 64, kBK = 16, kWgThreads = 256;
constexpr int64_t kRowsPerChunk = 256;

struct WgradArgs {
  float* part;  // [P][chunks][4H][N]
  const float* da;
  const float* x;
  const float* ws;
  int B, T, I, H, D, P, N, chunks, pz0;
  int64_t rows_per_chunk;
};

// Block (tile, chunk, pair): a 64 x 64 tile of C_p = sum over the chunk's rows r of
// da_p[r][m] z_p[r][n], z_p[r] = [x_g[r] (I), h_prev_p[r] (H), 1]; each thread 4 x 4.
__global__ void __launch_bounds__(kWgThreads) lstm_wgrad_kernel(const WgradArgs a) {
  __shared__ __align__(16) float As[kBK][kBM];
  __shared__ __align__(16) float Zs[kBK][kBN];
  const int H = a.H, I = a.I, G4 = 4 * H, N = a.N;
  const int mtiles = (G4 + kBM - 1) / kBM;
  const int m0 = (blockIdx.x % mtiles) * kBM, n0 = (blockIdx.x / mtiles) * kBN;
  const int chunk = blockIdx.y, p = a.pz0 + blockIdx.z, g = p / a.D;
  const int64_t BT = static_cast<int64_t>(a.B) * a.T;
  const int64_t r_begin = chunk * a.rows_per_chunk;
  const int64_t r_end = r_begin + a.rows_per_chunk < BT ? r_begin + a.rows_per_chunk : BT;
  const float* A = a.da + static_cast<int64_t>(p) * BT * G4;
  const float* X = a.x + static_cast<int64_t>(g) * BT * I;
  const float* Hp = a.ws + static_cast<int64_t>(a.P) * BT * 5 * H + static_cast<int64_t>(p) * BT * H;
  const int tid = threadIdx.x, tm = tid % 16, tn = tid / 16;
  float acc[4][4];
#pragma unroll
  for (int u = 0; u < 4; ++u)
#pragma unroll
    for (int v = 0; v < 4; ++v) acc[u][v] = 0.0f;
  for (int64_t r0 = r_begin; r0 < r_end; r0 += kBK) {
    for (int e = tid; e < kBK * kBM; e += kWgThreads) {
      const int kk = e / kBM, mm = e - kk * kBM;
      const int64_t r = r0 + kk;
      const int m = m0 + mm;
      As[kk][mm] = (r < r_end && m < G4) ? A[r * G4 + m] : 0.0f;
    }
    for (int e = tid; e < kBK * kBN; e += kWgThreads) {
      const int kk = e / kBN, nn = e - kk * kBN;
      const int64_t r = r0 + kk;
      const int n = n0 + nn;
      float v = 0.0f;
      if (r < r_end) {
        if (n < I) v = X[r * I + n];
        else if (n < I + H) v = Hp[r * H + (n - I)];
        else if (n == I + H) v = 1.0f;
      }
      Zs[kk][nn] = v;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      const float4 av = *reinterpret_cast<const float4*>(&As[kk][tm * 4]);
      const float4 zv = *reinterpret_cast<const float4*>(&Zs[kk][tn * 4]);
      const float am[4] = {av.x, av.y, av.z, av.w}, zn[4] = {zv.x, zv.y, zv.z, zv.w};
#pragma unroll
      for (int u = 0; u < 4; ++u)
#pragma unroll
        for (int v = 0; v < 4; ++v) acc[u][v] = fmaf(am[u], zn[v], acc[u][v]);
    }
    __syncthreads();
  }
  float* out = a.part + (static_cast<int64_t>(p) * a.chunks + chunk) * G4 * N;
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const int m = m0 + tm * 4 + u;
    if (m >= G4) continue;
#pragma unroll
    for (int v = 0; v < 4; ++v) {
      const int n = n0 + tn * 4 + v;
      if (n < N) out[static_cast<int64_t>(m) * N + n] = acc[u][v];
    }
  }
}

// The chunks' partial sums of pairs p0 .. p0+np-1, added in chunk order, into the gradients.
__global__ void lstm_wgrad_finalize_kernel(const float* part, GradPtrs o, int p0, int np, int chunks, int I, int H) {
  const int G4 = 4 * H, N = I + H + 1;
  const int64_t per = static_cast<int64_t>(G4) * N, n = static_cast<int64_t>(np) * per;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int pl = static_cast<int>(e / per);
    const int64_t rem = e - pl * per;
    const int m = static_cast<int>(rem / N), col = static_cast<int>(rem - static_cast<int64_t>(m) * N);
    const float* src = part + static_cast<int64_t>(p0 + pl) * chunks * per + rem;
    float v = 0.0f;
    for (int c = 0; c < chunks; ++c) v += src[c * per];
    if (col < I) {
      if (o.out[0][pl]) put(o.out[0][pl] + static_cast<int64_t>(m) * I + col, v, o.accumulate[0][pl]);
    } else if (col < I + H) {
      if (o.out[1][pl]) put(o.out[1][pl] + static_cast<int64_t>(m) * H + (col - I), v, o.accumulate[1][pl]);
    } else {
      if (o.out[2][pl]) put(o.out[2][pl] + m, v, o.accumulate[2][pl]);
      if (o.out[3][pl]) put(o.out[3][pl] + m, v, o.accumulate[3][pl]);
    }
  }
}

// ---- dx -----------------------------------------------------------------------------------

constexpr int kSmallI = 8;

// dx[g][r][:] (+)= sum_d da_{g,d}[r] W_ih{g,d} for groups g0 .. g0+ng-1, I <= kSmallI: one
// warp per row, lanes over the 4H gate rows, a shuffle reduction per input feature.
__global__ void lstm_dx_small_kernel(float* dx, bool accumulate, const float* da, PairPtrs w, int g0, int ng, int64_t BT,
                                     int I, int H, int D) {
  const int G4 = 4 * H, lane = threadIdx.x & 31;
  const int64_t first = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) >> 5;
  const int64_t stride = (static_cast<int64_t>(gridDim.x) * blockDim.x) >> 5;
  for (int64_t wr = first; wr < ng * BT; wr += stride) {  // the same for all lanes of a warp
    const int gl = static_cast<int>(wr / BT);
    const int64_t r = wr - gl * BT;
    const int g = g0 + gl;
    float v[kSmallI];
#pragma unroll
    for (int i = 0; i < kSmallI; ++i) v[i] = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float* dar = da + ((static_cast<int64_t>(g) * D + d) * BT + r) * G4;
      const float* Wd = w.w_ih[gl * D + d];
      float part[kSmallI];
#pragma unroll
      for (int i = 0; i < kSmallI; ++i) part[i] = 0.0f;
      for (int k = lane; k < G4; k += 32) {
        const float dk = dar[k];
#pragma unroll
        for (int i = 0; i < kSmallI; ++i)
          if (i < I) part[i] = fmaf(dk, Wd[static_cast<int64_t>(k) * I + i], part[i]);
      }
#pragma unroll
      for (int i = 0; i < kSmallI; ++i) {
        if (i >= I) break;  // I is uniform: no divergence around the shuffles
        for (int o = 16; o > 0; o >>= 1) part[i] += __shfl_xor_sync(0xffffffffu, part[i], o);
        v[i] += part[i];
      }
    }
#pragma unroll
    for (int i = 0; i < kSmallI; ++i)
      if (i < I && lane == i) put(dx + (static_cast<int64_t>(g) * BT + r) * I + i, v[i], accumulate);
  }
}

// The same for any I: one thread per (row, feature); a warp's lanes share the da row
// (broadcast) and read consecutive W_ih columns.
__global__ void lstm_dx_kernel(float* dx, bool accumulate, const float* da, PairPtrs w, int g0, int ng, int64_t BT, int I,
                               int H, int D) {
  const int G4 = 4 * H;
  const int64_t per = BT * I, n = ng * per;
  for (int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; e < n;
       e += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int gl = static_cast<int>(e / per);
    const int64_t rem = e - gl * per, r = rem / I;
    const int i = static_cast<int>(rem - r * I), g = g0 + gl;
    float v = 0.0f;
    for (int d = 0; d < D; ++d) {
      const float* dar = da + ((static_cast<int64_t>(g) * D + d) * BT + r) * G4;
      const float* Wd = w.w_ih[gl * D + d] + i;
      float sd = 0.0f;
      for (int k = 0; k < G4; ++k) sd = fmaf(dar[k], Wd[static_cast<int64_t>(k) * I], sd);
      v += sd;
    }
    put(dx + static_cast<int64_t>(g) * per + rem, v, accumulate);
  }
}

// ---- host side ------------------------------------------------------------------------------

struct Config {
  int NB, KS, S, tiles, threads;
};

// Small batches: one sequence per thread group and KS = 8 lanes per hidden unit (the
// shortest serial chain per step); large ones: 4 sequences per thread (each shared-memory
// weight read feeds 4 FMAs) so that one wave of blocks covers the whole batch.
LstmTuning g_tuning;  // lstm_set_tuning (tests)

Config recurrent_config(const LstmShape& s, int sms) {
  const int64_t Q = static_cast<int64_t>(s.P()) * s.B;  // independent sequences
  int NB, KS;
  if (g_tuning.nb > 0) {
    NB = g_tuning.nb >= 4 ? 4 : (g_tuning.nb >= 2 ? 2 : 1);
    KS = g_tuning.ks >= 8 ? 8 : (g_tuning.ks >= 4 ? 4 : (g_tuning.ks >= 2 ? 2 : 1));
  } else if (Q <= 2LL * sms) {
    NB = 1;
    KS = 8;
  } else if (Q <= 4LL * sms) {
    NB = 1;
    KS = 4;
  } else if (Q <= 8LL * sms) {
    NB = 2;
    KS = 2;
  } else {
    NB = 4;
    KS = 1;
  }
  if (g_tuning.nb == 0)
    while (NB > 1 && NB >= 2 * s.B) NB /= 2;  // no empty sequence slots for tiny batches
  while (KS > 1 && round_up(s.H * KS, 32) > max_threads_for(NB)) KS /= 2;
  if (round_up(s.H * KS, 32) > max_threads_for(NB)) NB = 1;
  Config c{};
  c.NB = NB;
  c.KS = KS;
  c.S = std::max(1, 32 / (s.H * KS));                                                // fill a warp
  c.S = static_cast<int>(std::min<int64_t>(c.S, ceil_div(s.B, NB)));
  c.threads = round_up(c.S * s.H * KS, 32);
  c.tiles = static_cast<int>(ceil_div(s.B, static_cast<int64_t>(c.S) * NB));
  return c;
}

void check_sizes(const LstmShape& s, const char* what) {
  if (s.H > kMaxHidden)
    throw Error(std::string(what) + ": hidden size " + std::to_string(s.H) + " is above the CUDA kernels' limit of " +
                std::to_string(kMaxHidden));
}

template <class Kernel, class Args>
void launch_recurrent(Kernel kernel, int64_t blocks, int threads, size_t smem, const Args& args, const char* what) {
  if (blocks > INT_MAX) throw Error(std::string(what) + ": too many (pair, batch tile) blocks for one launch");
  if (smem > 48 * 1024)
    DC_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
  kernel<<<static_cast<unsigned>(blocks), threads, smem, current_stream()>>>(args);
  DC_CUDA_CHECK_LAUNCH();
}

// Calls f(nb, in_smem) with both as compile-time constants (std::integral_constant): the
// recurrent kernels are instantiated for NB = 1, 2, 4 sequences per block, with the weights in
// shared or global memory.
template <class F>
void dispatch_recurrent(int nb, bool in_smem, F&& f) {
  auto with_nb = [&](auto nbc) {
    if (in_smem) f(nbc, std::true_type{});
    else f(nbc, std::false_type{});
  };
  if (nb == 1) with_nb(std::integral_constant<int, 1>{});
  else if (nb == 2) with_nb(std::integral_constant<int, 2>{});
  else with_nb(std::integral_constant<int, 4>{});
}

// Shared memory for a recurrent kernel: the weights (`wfloats`) when they fit next to the
// per-block buffers (`bfloats`), else the weights are read from global memory.
bool weights_in_smem(size_t wfloats, size_t bfloats, size_t* bytes, const char* what) {
  const size_t limit = static_cast<size_t>(device_limits().smem_optin);
  if (!g_tuning.global_weights && (wfloats + bfloats) * sizeof(float) <= limit) {
    *bytes = (wfloats + bfloats) * sizeof(float);
    return true;
  }
  if (bfloats * sizeof(float) > limit)
    throw Error(std::string(what) + ": the input is too wide for the CUDA kernel's shared memory");
  *bytes = bfloats * sizeof(float);
  return false;
}

PairPtrs pair_ptrs(const LstmParams<float>& w, int p0, int np) {
  PairPtrs pp{};
  auto at = [](const std::vector<const float*>& v, int p) { return p < static_cast<int>(v.size()) ? v[p] : nullptr; };
  for (int i = 0; i < np; ++i) {
    pp.w_ih[i] = at(w.w_ih, p0 + i);
    pp.w_hh[i] = at(w.w_hh, p0 + i);
    pp.b_ih[i] = at(w.b_ih, p0 + i);
    pp.b_hh[i] = at(w.b_hh, p0 + i);
  }
  return pp;
}

RecurrentGeometry geometry(const LstmShape& s, const Config& c) {
  return {s.B, s.T, s.I, s.H, s.D, s.P(), c.KS, c.S, c.tiles, c.S * s.H * c.KS};
}

}  // namespace

LstmTuning lstm_set_tuning(LstmTuning t) {
  const LstmTuning previous = g_tuning;
  g_tuning = t;
  return previous;
}

void lstm_forward(float* y, float* ws, const float* x, const LstmParams<float>& w, LstmShape s) {
  check_sizes(s, "lstm_forward");
  const int P = s.P(), G4 = 4 * s.H;
  const Config cf = recurrent_config(s, device_limits().sms);
  const int Lp = round_up(s.I + s.H, cf.KS);
  const int64_t per = static_cast<int64_t>(Lp) * G4 + G4;
  float* packed = device_scratch(2, static_cast<size_t>(P * per));
  for (int p0 = 0; p0 < P; p0 += kPairsPerLaunch) {
    const int np = std::min(kPairsPerLaunch, P - p0);
    pack_forward_kernel<<<grid_for(np * per, 256), 256, 0, current_stream()>>>(packed, pair_ptrs(w, p0, np), p0, np, s.I,
                                                                               s.H, cf.KS, Lp);
    DC_CUDA_CHECK_LAUNCH();
  }
  size_t smem = 0;
  const size_t seqs = static_cast<size_t>(cf.S) * cf.NB;
  const bool in_smem = weights_in_smem(static_cast<size_t>(Lp) * G4, 2 * seqs * Lp, &smem, "lstm_forward");
  // The block's inputs for all steps in shared memory too, when they are small (<= 64 KB)
  // and fit: no global loads left inside the time loop.
  const size_t x_bytes = static_cast<size_t>(s.T) * seqs * s.I * sizeof(float);
  const bool x_smem = !g_tuning.global_weights && x_bytes <= 64 * 1024 &&
                      smem + x_bytes <= static_cast<size_t>(device_limits().smem_optin);
  if (x_smem) smem += x_bytes;
  const FwdArgs a{geometry(s, cf), y, ws, x, packed, Lp, x_smem ? 1 : 0};
  const int64_t blocks = static_cast<int64_t>(P) * cf.tiles;
  dispatch_recurrent(cf.NB, in_smem, [&](auto nb, auto smem_weights) {
    launch_recurrent(lstm_forward_kernel<decltype(nb)::value, decltype(smem_weights)::value>, blocks, cf.threads, smem, a,
                     "lstm_forward");
  });
}

void lstm_backward(GradOut<float> dx_out, const LstmParamGrads<float>& dw, const float* dy, const float* x, const float* y,
                   const LstmParams<float>& w, const float* ws, LstmShape s) {
  float* dx = dx_out.data;
  const GradMode dx_mode = dx_out.mode;
  (void)y;  // h_prev is in the workspace
  check_sizes(s, "lstm_backward");
  const int P = s.P(), G4 = 4 * s.H, H = s.H, I = s.I;
  const int64_t BT = s.BT();
  auto want = [](const std::vector<GradOut<float>>& v, int p) {
    return p < static_cast<int>(v.size()) && v[p].data != nullptr;
  };
  bool any_w = false;
  for (int p = 0; p < P; ++p) any_w = any_w || want(dw.w_ih, p) || want(dw.w_hh, p) || want(dw.b_ih, p) || want(dw.b_hh, p);
  if (!dx && !any_w) return;
  const Limits& lim = device_limits();

  // 1. BPTT: da of every step.
  const Config cf = recurrent_config(s, lim.sms);
  const int K4p = round_up(G4, cf.KS);
  const int64_t per = static_cast<int64_t>(K4p) * H;
  float* packed = device_scratch(2, static_cast<size_t>(P * per));
  for (int p0 = 0; p0 < P; p0 += kPairsPerLaunch) {
    const int np = std::min(kPairsPerLaunch, P - p0);
    pack_backward_kernel<<<grid_for(np * per, 256), 256, 0, current_stream()>>>(packed, pair_ptrs(w, p0, np), p0, np, H,
                                                                                cf.KS, K4p);
    DC_CUDA_CHECK_LAUNCH();
  }
  float* da = device_scratch(3, static_cast<size_t>(P) * BT * G4);
  const BwdArgs a{geometry(s, cf), da, dy, ws, packed, K4p};
  size_t smem = 0;
  const bool in_smem =
      weights_in_smem(static_cast<size_t>(per), 2 * static_cast<size_t>(cf.S) * cf.NB * K4p, &smem, "lstm_backward");
  const int64_t blocks = static_cast<int64_t>(P) * cf.tiles;
  dispatch_recurrent(cf.NB, in_smem, [&](auto nb, auto smem_weights) {
    launch_recurrent(lstm_backward_kernel<decltype(nb)::value, decltype(smem_weights)::value>, blocks, cf.threads, smem, a,
                     "lstm_backward");
  });


  // 2. Weight gradients: split-K reduction into partials, then the finalize pass.
  if (any_w) {
    const int N = I + H + 1;
    const int tiles = ((G4 + kBM - 1) / kBM) * ((N + kBN - 1) / kBN);
    // At most kRowsPerChunk rows per chunk (short float sums: the rounding error does not
    // grow with B*T, nor depend on the GPU), and enough chunks for ~4 blocks per SM.
    int64_t chunks = std::max(ceil_div(BT, kRowsPerChunk), ceil_div(4LL * lim.sms, static_cast<int64_t>(tiles) * P));
    chunks = std::max<int64_t>(1, std::min({chunks, ceil_div(BT, kBK), int64_t{65535}}));
    const int64_t rows = (ceil_div(BT, chunks) + kBK - 1) / kBK * kBK;
    chunks = ceil_div(BT, rows);
    float* part = device_scratch(4, static_cast<size_t>(P) * chunks * G4 * N);
    for (int pz0 = 0; pz0 < P; pz0 += 65535) {
      const int nz = std::min(65535, P - pz0);
      const WgradArgs wa{part, da, x, ws, s.B, s.T, I, H, s.D, P, N, static_cast<int>(chunks), pz0, rows};
      lstm_wgrad_kernel<<<dim3(tiles, static_cast<unsigned>(chunks), nz), kWgThreads, 0, current_stream()>>>(wa);
      DC_CUDA_CHECK_LAUNCH();
    }
    for (int p0 = 0; p0 < P; p0 += kPairsPerLaunch) {
      const int np = std::min(kPairsPerLaunch, P - p0);
      GradPtrs o{};
      const std::vector<GradOut<float>>* kinds[4] = {&dw.w_ih, &dw.w_hh, &dw.b_ih, &dw.b_hh};
      for (int k = 0; k < 4; ++k)
        for (int i = 0; i < np; ++i)
          if (want(*kinds[k], p0 + i)) {
            o.out[k][i] = (*kinds[k])[p0 + i].data;
            o.accumulate[k][i] = (*kinds[k])[p0 + i].mode == GradMode::Accumulate ? 1 : 0;
          }
      lstm_wgrad_finalize_kernel<<<grid_for(static_cast<int64_t>(np) * G4 * N, 256), 256, 0, current_stream()>>>(
          part, o, p0, np, static_cast<int>(chunks), I, H);
      DC_CUDA_CHECK_LAUNCH();
    }
  }

  // 3. dx, both directions summed per row.
  if (dx) {
    const bool accumulate = dx_mode == GradMode::Accumulate;
    const int groups_per_launch = kPairsPerLaunch / s.D;
    for (int g0 = 0; g0 < s.G; g0 += groups_per_launch) {
      const int ng = std::min(groups_per_launch, s.G - g0);
      const PairPtrs pp = pair_ptrs(w, g0 * s.D, ng * s.D);
      if (I <= kSmallI) {
        lstm_dx_small_kernel<<<grid_for(ng * BT * 32, 256), 256, 0, current_stream()>>>(dx, accumulate, da, pp, g0, ng, BT,
                                                                                        I, H, s.D);
      } else {
        lstm_dx_kernel<<<grid_for(ng * BT * I, 256), 256, 0, current_stream()>>>(dx, accumulate, da, pp, g0, ng, BT, I, H,
                                                                                 s.D);
      }
      DC_CUDA_CHECK_LAUNCH();
    }
  }
}

}  // namespace dc::kernels::cuda
