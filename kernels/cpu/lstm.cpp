// Fast float LSTM (contract and workspace layout: kernels/contract/lstm.h).
//
// Work is split into items = (pair, chunk of batch rows); every item runs its whole time
// loop on one thread, so one parallel region covers a call and needs no barriers. A step
// of an item is, for each block of up to 8 rows:
//   forward : acc = bias + x_t W_ih^T + h_prev W_hh^T   (register tiles of 8 rows x 2
//             vectors: per k two loads of the packed weights [I+H][4H padded] and eight
//             broadcasts feed sixteen FMAs) -> gates, c, h fused right after;
//   backward: da = the step's pre-activation gradients (elementwise), then
//             [dh_prev, dx_t] = da [W_hh, W_ih] (packed [4H][H (+ I) padded]), and the
//             step's share of the weight gradients, transposed and in registers:
//             dW_hh^T += h_prev^T da, dW_ih^T += x_t^T da, db += sum da (per item).
// The item partial sums are added in item order at the end (by the item itself when it is
// its pair's only one, which then also packs its pair's weights: inside the parallel
// region, not on the caller alone); the chunking depends on (P, B) only, and a row's
// arithmetic is the same whichever block or thread it lands in, so nothing depends on the
// thread count.
//
// The code is written once over a vector type V (GCC vector extensions) and compiled three
// times, each for its instruction set with the matching width: 16 floats (AVX-512), 8
// (AVX2 + FMA), 4 (baseline SSE2); the widest the CPU has is picked at run time. (Vectors
// wider than the hardware's are lowered through the stack by GCC: a 16-float vector on an
// AVX2 build runs this kernel ~25x slower.)
#include "kernels/contract/lstm.h"
#include "kernels/base/scratch.h"
#include "kernels/cpu/common.h"
#include "kernels/cpu/simd.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

namespace dc::kernels::cpu {
namespace {

// ---- register-blocked tiles ------------------------------------------------------------
// Row tile: out[r][0 : NB*W) = init + sum_k a1[r][k] w1[k] + sum_k a2[r][k] w2[k], r < MR,
// with w rows of NB vectors (leading dimension ldw); init null = 0.
template <class V, int MR, int NB>
DC_AI void tile(float* out, int ldo, const float* const* a1, int k1, const float* w1, const float* const* a2, int k2,
                const float* w2, int ldw, const float* init) {
  constexpr int W = VT<V>::W;
  V acc[MR][NB];
#pragma GCC unroll 8
  for (int v = 0; v < NB; ++v) {
    const V i0 = init ? ld<V>(init + v * W) : V{};
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[r][v] = i0;
  }
  for (int k = 0; k < k1; ++k) {
    const float* wk = w1 + static_cast<int64_t>(k) * ldw;
    V wv[NB];
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) wv[v] = ld<V>(wk + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const float a = a1[r][k];
#pragma GCC unroll 8
      for (int v = 0; v < NB; ++v) acc[r][v] += a * wv[v];
    }
  }
  for (int k = 0; k < k2; ++k) {
    const float* wk = w2 + static_cast<int64_t>(k) * ldw;
    V wv[NB];
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) wv[v] = ld<V>(wk + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const float a = a2[r][k];
#pragma GCC unroll 8
      for (int v = 0; v < NB; ++v) acc[r][v] += a * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) st(out + r * ldo + v * W, acc[r][v]);
}

// Accumulating tile (a transposed product): out[r][:] += sum_k A[k*lda + aoff[r]] W[k][:]
// for r < MR. The K terms are summed first, then added to out (a two-level sum).
template <class V, int MR, int NB>
DC_AI void tile_acc(float* out, int ldo, const float* A, int64_t lda, const int* aoff, int K, const float* Wm,
                    int ldw) {
  constexpr int W = VT<V>::W;
  V acc[MR][NB];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) acc[r][v] = V{};
  int off[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) off[r] = aoff[r];
  for (int k = 0; k < K; ++k) {
    const float* wk = Wm + static_cast<int64_t>(k) * ldw;
    const float* ak = A + k * lda;
    V wv[NB];
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) wv[v] = ld<V>(wk + v * W);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const float a = ak[off[r]];
#pragma GCC unroll 8
      for (int v = 0; v < NB; ++v) acc[r][v] += a * wv[v];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NB; ++v) {
      float* o = out + r * ldo + v * W;
      st(o, ld<V>(o) + acc[r][v]);
    }
}

struct RowTile {
  float* out;
  int ldo;
  const float* const* a1;
  int k1;
  const float* w1;
  const float* const* a2;
  int k2;
  const float* w2;
  int ldw;
  const float* init;
  template <class V, int MR, int NB>
  DC_AI void run(int o) const {
    tile<V, MR, NB>(out + o, ldo, a1, k1, w1 + o, a2, k2, w2 + o, ldw, init ? init + o : nullptr);
  }
};

struct AccTile {
  float* out;
  int ldo;
  const float* A;
  int64_t lda;
  const int* aoff;
  int K;
  const float* Wm;
  int ldw;
  template <class V, int MR, int NB>
  DC_AI void run(int o) const {
    tile_acc<V, MR, NB>(out + o, ldo, A, lda, aoff, K, Wm + o, ldw);
  }
};

// Tile shape: MR rows x NB vectors, about VT<V>::budget accumulator vectors.
template <class V>
int tile_rows_for(int nv) {
  const int nb = std::min(VT<V>::nbmax, nv >= 8 ? 8 : nv >= 4 ? 4 : nv >= 2 ? 2 : 1);
  return std::clamp(VT<V>::budget / nb, 1, 8);
}

// One MR x NB block at column o; a block over the register budget (not chosen by
// tile_rows_for, but kept correct) is split in halves.
template <class V, int MR, int NB, class K>
DC_AI void run_block(const K& k, int o) {
  if constexpr (MR * NB <= VT<V>::budget || NB == 1) {
    k.template run<V, MR, NB>(o);
  } else {
    run_block<V, MR, NB / 2>(k, o);
    run_block<V, MR, NB / 2>(k, o + NB / 2 * VT<V>::W);
  }
}

// All nv column vectors of one row block, in column blocks of 8, 4, 2, 1 vectors.
template <class V, int MR, class K>
DC_AI void run_cols(const K& k, int nv) {
  constexpr int nbmax = VT<V>::nbmax, W = VT<V>::W;
  for (int v0 = 0; v0 < nv;) {
    const int left = nv - v0;
    const int nb = std::min(nbmax, left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1);
    switch (nb) {
      case 8: run_block<V, MR, 8>(k, v0 * W); break;
      case 4: run_block<V, MR, 4>(k, v0 * W); break;
      case 2: run_block<V, MR, 2>(k, v0 * W); break;
      default: run_block<V, MR, 1>(k, v0 * W); break;
    }
    v0 += nb;
  }
}

template <class V, class K>
DC_AI void run_tiles(const K& k, int mr, int nv) {
  switch (mr) {
    case 1: run_cols<V, 1>(k, nv); break;
    case 2: run_cols<V, 2>(k, nv); break;
    case 4: run_cols<V, 4>(k, nv); break;
    default: run_cols<V, 8>(k, nv); break;
  }
}


int round_up(int n, int m) { return (n + m - 1) / m * m; }

// Rows per block of the 8-row tiles (run_tiles takes 1, 2, 4 or 8) for n rows.
int rows_per_block(int n) { return n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1; }

int g_max_lanes = 0;  // lstm_limit_lanes(); 0: no limit

// The instruction set the kernels run on: the CPU's best, or narrower under lstm_limit_lanes.
Isa isa() {
  const Isa best = best_isa();
  if (g_max_lanes == 0 || g_max_lanes >= 16) return best;
  if (g_max_lanes >= 8) return best == Isa::Avx512 ? Isa::Avx2 : best;
  return Isa::Baseline;
}

// Batch chunks per pair: about 8 items in all (enough for the threads of a laptop), at
// least 8 rows each. A function of (P, B) only: the weight-gradient sums are grouped by
// item, so the grouping must not depend on the thread count.
int chunks_per_pair(int P, int B) { return std::max(1, std::min((8 + P - 1) / P, B / 8)); }

struct Item {
  int p, g, d, b0, b1;
};

DC_AI Item item_of(const LstmShape& s, int chunks, int64_t item) {
  const int p = static_cast<int>(item / chunks), ch = static_cast<int>(item % chunks);
  return {p, p / s.D, p % s.D, static_cast<int>(static_cast<int64_t>(s.B) * ch / chunks),
          static_cast<int>(static_cast<int64_t>(s.B) * (ch + 1) / chunks)};
}

// Below this many multiply-adds per call a parallel region costs more than it saves.
constexpr int64_t kParallelWork = 40000;

// ---- forward -------------------------------------------------------------------------------

struct Fwd {
  LstmShape s;
  const float* x;
  float* y;
  float* ws;          // null: inference, nothing kept
  float* wpk;         // [P][I + H][G4P]: rows W_ih^T then W_hh^T, columns padded to G4P
  float* bias;        // [P][G4P]: b_ih + b_hh
  int G4P;            // 4H rounded up to the vector width
  int chunks;
  const LstmParams<float>* w;  // non-null: each item packs its pair's weights (one item per pair)
};

// Pair p's weights, packed for the forward tiles: wpk rows W_ih^T then W_hh^T, bias b_ih + b_hh.
void pack_forward(float* wpk, float* bias, const LstmParams<float>& w, int p, int I, int H, int G4P) {
  const int G4 = 4 * H;
  float* wp = wpk + static_cast<int64_t>(p) * (I + H) * G4P;
  for (int k = 0; k < I + H; ++k) {
    float* dst = wp + static_cast<int64_t>(k) * G4P;
    for (int col = 0; col < G4P; ++col)
      dst[col] = col >= G4 ? 0.0f : k < I ? w.w_ih[p][col * I + k] : w.w_hh[p][col * H + (k - I)];
  }
  for (int col = 0; col < G4P; ++col)
    bias[static_cast<int64_t>(p) * G4P + col] =
        col >= G4 ? 0.0f : (w.b_ih[p] ? w.b_ih[p][col] : 0.0f) + (w.b_hh[p] ? w.b_hh[p][col] : 0.0f);
}

// One step of one row: a (4H pre-activations) -> gates, c (state, in place), h.
template <class V>
DC_AI void cell_forward(int j, int H, const float* a, float* cs, float* yrow, float* gw, float* cw, float* tw) {
  const V ig = sigmoid_approx(ld<V>(a + j)), fg = sigmoid_approx(ld<V>(a + H + j)),
          gg = tanh_approx(ld<V>(a + 2 * H + j)), og = sigmoid_approx(ld<V>(a + 3 * H + j));
  const V c = fg * ld<V>(cs + j) + ig * gg;
  const V tc = tanh_approx(c);
  st(cs + j, c);
  st(yrow + j, og * tc);
  if (gw) {
    st(gw + j, ig);
    st(gw + H + j, fg);
    st(gw + 2 * H + j, gg);
    st(gw + 3 * H + j, og);
    st(cw + j, c);
    st(tw + j, tc);
  }
}

template <class V>
DC_AI void forward_item(const Fwd& f, int64_t item) {
  constexpr int W = VT<V>::W;
  const LstmShape& s = f.s;
  const int H = s.H, I = s.I, T = s.T, G4 = 4 * H, DH = s.D * H, G4P = f.G4P;
  const int64_t BT = s.BT(), P = s.P();
  const auto [p, g, d, b0, b1] = item_of(s, f.chunks, item);
  if (b0 >= b1) return;
  if (f.w) pack_forward(f.wpk, f.bias, *f.w, p, I, H, G4P);
  static thread_local AlignedBuffer tmp_buf, c_buf;
  float* tmp = tmp_buf.get(static_cast<size_t>(8) * G4P);  // pre-activations of a row block
  float* cst = c_buf.get(static_cast<size_t>(b1 - b0) * H);  // c of each row
  std::fill(cst, cst + static_cast<size_t>(b1 - b0) * H, 0.0f);
  const float* wp = f.wpk + static_cast<int64_t>(p) * (I + H) * G4P;
  const float* bp = f.bias + static_cast<int64_t>(p) * G4P;
  float* gates_p = f.ws ? f.ws + p * BT * G4 : nullptr;
  float* c_p = f.ws ? f.ws + P * BT * G4 + p * BT * H : nullptr;
  float* tc_p = f.ws ? f.ws + P * BT * 5 * H + p * BT * H : nullptr;
  // Blocks of up to 8 rows (split by run_block into 8 x 2-vector tiles): per k, two loads of
  // the weights and eight broadcasts feed sixteen FMAs.
  const int nv = G4P / W, MR = rows_per_block(b1 - b0);
  for (int step = 0; step < T; ++step) {
    const int t = d == 0 ? step : T - 1 - step;
    const int tp = d == 0 ? t - 1 : t + 1;
    for (int bb = b0; bb < b1; bb += MR) {
      const int mr = std::min(MR, b1 - bb);
      const float* a1[8];
      const float* a2[8];
      for (int r = 0; r < MR; ++r) {
        const int64_t gb = static_cast<int64_t>(g) * s.B + bb + std::min(r, mr - 1);
        a1[r] = f.x + (gb * T + t) * I;
        a2[r] = step > 0 ? f.y + (gb * T + tp) * DH + d * H : a1[r];
      }
      const RowTile k{tmp, G4P, a1, I, wp, a2, step > 0 ? H : 0, wp + static_cast<int64_t>(I) * G4P, G4P, bp};
      run_tiles<V>(k, MR, nv);
      for (int r = 0; r < mr; ++r) {
        const int b = bb + r;
        const int64_t w = static_cast<int64_t>(t) * s.B + b;  // workspace row
        const float* a = tmp + static_cast<int64_t>(r) * G4P;
        float* cs = cst + static_cast<int64_t>(b - b0) * H;
        float* yrow = f.y + ((static_cast<int64_t>(g) * s.B + b) * T + t) * DH + d * H;
        float* gw = gates_p ? gates_p + w * G4 : nullptr;
        float* cw = gates_p ? c_p + w * H : nullptr;
        float* tw = gates_p ? tc_p + w * H : nullptr;
        int j = 0;
        for (; j + W <= H; j += W) cell_forward<V>(j, H, a, cs, yrow, gw, cw, tw);
        for (; j < H; ++j) cell_forward<float>(j, H, a, cs, yrow, gw, cw, tw);
      }
    }
  }
}

// ---- backward ------------------------------------------------------------------------------

struct Bwd {
  LstmShape s;
  const float *dy, *x, *y, *ws;
  const LstmParamGrads<float>* dw;
  float* wb;          // [P][4H][WB]: W_hh (columns 0..H) and, when I > 1 and dx is wanted, W_ih (HP..HP+I)
  float* wih1;        // [P][G4P]: W_ih when I == 1, zero padded
  float* part;        // [items][psz]: per item dW_hh^T [Hr][G4P], dW_ih^T [Ir][G4P], db [G4P]
  float* dxp;         // [P][B*T][I]: each direction's dx (summed over directions at the end); null: no dx
  int G4P, HP, WB, Hr, Ir;  // padded to the vector width (G4P, HP, WB) or to 8 rows (Hr, Ir)
  int64_t psz;
  int chunks;
  const LstmParams<float>* w;  // non-null (one item per pair): each item packs its pair's weights
                               // and writes its pair's weight gradients itself
};

bool wants(const std::vector<GradOut<float>>& v, int64_t p) { return !v.empty() && v[p].data; }

// Pair p's weights, packed for the backward tiles (wb) and the I == 1 dx (wih1).
void pack_backward(float* wb, float* wih1, const LstmParams<float>& w, int p, int I, int H, int HP, int WB, int G4P) {
  const int G4 = 4 * H;
  for (int k = 0; k < G4; ++k) {
    float* dst = wb + (static_cast<int64_t>(p) * G4 + k) * WB;
    for (int j = 0; j < WB; ++j)
      dst[j] = j < H ? w.w_hh[p][k * H + j] : (j >= HP && j - HP < I) ? w.w_ih[p][k * I + (j - HP)] : 0.0f;
  }
  if (wih1)
    for (int k = 0; k < G4P; ++k) wih1[static_cast<int64_t>(p) * G4P + k] = k < G4 ? w.w_ih[p][k] : 0.0f;
}

// Pair p's weight gradients from its items' partial sums, added in item order and
// transposed: out (4H, n) (+)= sum over the chunks c of part_c[offset + j*G4P + k], j < n.
void collect_pair(const Bwd& f, int p) {
  const int G4 = 4 * f.s.H, H = f.s.H, I = f.s.I;
  auto collect = [&](const GradOut<float>& out, int64_t offset, int n) {
    const float* base = f.part + static_cast<int64_t>(p) * f.chunks * f.psz + offset;
    const bool acc = out.accumulate();
    for (int j = 0; j < n; ++j) {
      const float* row = base + static_cast<int64_t>(j) * f.G4P;
      float* dst = out.data + j;
      for (int k = 0; k < G4; ++k) {
        float v = 0.0f;
        for (int c = 0; c < f.chunks; ++c) v += row[c * f.psz + k];
        float& o = dst[static_cast<int64_t>(k) * n];
        o = acc ? o + v : v;
      }
    }
  };
  if (wants(f.dw->w_hh, p)) collect(f.dw->w_hh[p], 0, H);
  if (wants(f.dw->w_ih, p)) collect(f.dw->w_ih[p], static_cast<int64_t>(f.Hr) * f.G4P, I);
  for (const auto* v : {&f.dw->b_ih, &f.dw->b_hh})
    if (wants(*v, p)) collect((*v)[p], static_cast<int64_t>(f.Hr + f.Ir) * f.G4P, 1);
}

// One step of one row: the pre-activation gradients da and the carried dc.
template <class V>
DC_AI void cell_backward(int j, int H, const float* gr, const float* tcr, const float* cpr, const float* dyr,
                         const float* dhr, float* dcr, float* dar) {
  const V ig = ld<V>(gr + j), fg = ld<V>(gr + H + j), gg = ld<V>(gr + 2 * H + j), og = ld<V>(gr + 3 * H + j);
  const V tc = ld<V>(tcr + j);
  const V dh = ld<V>(dyr + j) + ld<V>(dhr + j);
  const V dc = ld<V>(dcr + j) + dh * og * (1.0f - tc * tc);
  st(dcr + j, dc * fg);
  st(dar + j, dc * gg * ig * (1.0f - ig));
  st(dar + H + j, dc * ld<V>(cpr + j) * fg * (1.0f - fg));
  st(dar + 2 * H + j, dc * ig * (1.0f - gg * gg));
  st(dar + 3 * H + j, dh * tc * og * (1.0f - og));
}

// part rows [0, n) += sum over the item's rows k of A[k*lda + j] da[k][:], j < n. Blocks of
// up to 8 rows j (split by run_block into 8 x 2-vector tiles where the whole row would not
// fit the registers): per k, two loads of da and eight broadcasts feed sixteen FMAs.
template <class V>
DC_AI void accumulate_rows(float* part, int G4P, const float* A, int64_t lda, int n, int rows, const float* da) {
  const int nv = G4P / VT<V>::W, MR = rows_per_block(n);
  for (int j0 = 0; j0 < n; j0 += MR) {
    int aoff[8];
    for (int r = 0; r < 8; ++r) aoff[r] = std::min(j0 + r, n - 1);  // rows past n land in padding
    const AccTile k{part + static_cast<int64_t>(j0) * G4P, G4P, A, lda, aoff, rows, da, G4P};
    run_tiles<V>(k, MR, nv);
  }
}

template <class V>
DC_AI void backward_item(const Bwd& f, int64_t item) {
  constexpr int W = VT<V>::W;
  const LstmShape& s = f.s;
  const int H = s.H, I = s.I, T = s.T, G4 = 4 * H, DH = s.D * H, HP = f.HP, G4P = f.G4P, WB = f.WB;
  const int64_t BT = s.BT(), P = s.P();
  const auto [p, g, d, b0, b1] = item_of(s, f.chunks, item);
  if (b0 >= b1) {  // no rows (B = 0): the pair's gradients are zero
    std::fill(f.part + item * f.psz, f.part + (item + 1) * f.psz, 0.0f);
    if (f.w) collect_pair(f, p);
    return;
  }
  if (f.w) pack_backward(f.wb, f.wih1, *f.w, p, I, H, HP, WB, G4P);
  const int rows = b1 - b0, rpad = round_up(rows, 8);
  const bool want_hh = wants(f.dw->w_hh, p), want_ih = wants(f.dw->w_ih, p);
  const bool want_b = wants(f.dw->b_ih, p) || wants(f.dw->b_hh, p);
  static thread_local AlignedBuffer dh_buf, dc_buf, da_buf, out_buf, zero_buf;
  float* dhs = dh_buf.get(static_cast<size_t>(rpad) * HP);   // dh from the later step, per row
  float* dcs = dc_buf.get(static_cast<size_t>(rows) * H);    // dc carried to the earlier step
  float* das = da_buf.get(static_cast<size_t>(rows) * G4P);  // this step's da, per row
  float* outs = out_buf.get(static_cast<size_t>(8) * WB);    // [dh, dx] of a row block
  float* zeros = zero_buf.get(static_cast<size_t>(H));
  std::fill(dhs, dhs + static_cast<size_t>(rpad) * HP, 0.0f);
  std::fill(dcs, dcs + static_cast<size_t>(rows) * H, 0.0f);
  std::fill(das, das + static_cast<size_t>(rows) * G4P, 0.0f);  // padding columns stay 0
  std::fill(zeros, zeros + H, 0.0f);
  float* part = f.part + item * f.psz;
  std::fill(part, part + f.psz, 0.0f);
  float* pt_hh = part;
  float* pt_ih = part + static_cast<int64_t>(f.Hr) * G4P;
  float* pb = pt_ih + static_cast<int64_t>(f.Ir) * G4P;
  const float* gates_p = f.ws + p * BT * G4;
  const float* c_p = f.ws + P * BT * G4 + p * BT * H;
  const float* tc_p = f.ws + P * BT * 5 * H + p * BT * H;
  const float* wp = f.wb + static_cast<int64_t>(p) * G4 * WB;
  const float* wih = f.wih1 ? f.wih1 + static_cast<int64_t>(p) * G4P : nullptr;
  float* dxp = f.dxp ? f.dxp + p * BT * I : nullptr;
  const bool tile_dx = I > 1 && dxp;
  const int nvw = (tile_dx ? WB : HP) / W, MR = tile_rows_for<V>(nvw);
  const int64_t gb0 = static_cast<int64_t>(g) * s.B + b0;  // (g, b0) row of x, y and dy
  for (int step = T - 1; step >= 0; --step) {
    const int t = d == 0 ? step : T - 1 - step;
    const int tp = d == 0 ? t - 1 : t + 1;
    // dy and y are batch-major (a row's time steps T * D * H floats apart): ask for the next
    // step's rows of both now (their lines sit in L2 / L3 since forward), not when read.
    if (step > 1) {
      const int tpp = d == 0 ? tp - 1 : tp + 1;
      for (int r = 0; r < rows; ++r) {
        const float* dyn = f.dy + ((gb0 + r) * T + tp) * DH + d * H;
        const float* yn = f.y + ((gb0 + r) * T + tpp) * DH + d * H;
        for (int q = 0; q < H; q += 16) {
          __builtin_prefetch(dyn + q);
          __builtin_prefetch(yn + q);
        }
      }
    }
    for (int r = 0; r < rows; ++r) {
      const int64_t w = static_cast<int64_t>(t) * s.B + b0 + r, pw = static_cast<int64_t>(tp) * s.B + b0 + r;
      const float* gr = gates_p + w * G4;
      const float* tcr = tc_p + w * H;
      const float* cpr = step > 0 ? c_p + pw * H : zeros;
      const float* dyr = f.dy + ((gb0 + r) * T + t) * DH + d * H;
      const float* dhr = dhs + static_cast<int64_t>(r) * HP;
      float* dcr = dcs + static_cast<int64_t>(r) * H;
      float* dar = das + static_cast<int64_t>(r) * G4P;
      int j = 0;
      for (; j + W <= H; j += W) cell_backward<V>(j, H, gr, tcr, cpr, dyr, dhr, dcr, dar);
      for (; j < H; ++j) cell_backward<float>(j, H, gr, tcr, cpr, dyr, dhr, dcr, dar);
      if (I == 1 && dxp) {  // dx_t = da . w_ih (both zero padded to G4P)
        V acc = V{};
        for (int k = 0; k < G4P; k += W) acc += ld<V>(dar + k) * ld<V>(wih + k);
        dxp[(static_cast<int64_t>(b0) + r) * T + t] = hsum(acc);
      }
    }
    // dh for the previous step (= da W_hh) and, when I > 1, dx_t (= da W_ih).
    if (step > 0 || tile_dx) {
      for (int bb = 0; bb < rows; bb += MR) {
        const int mr = std::min(MR, rows - bb);
        const float* a1[8];
        for (int r = 0; r < MR; ++r) a1[r] = das + static_cast<int64_t>(bb + std::min(r, mr - 1)) * G4P;
        if (tile_dx) {
          const RowTile k{outs, WB, a1, G4, wp, a1, 0, wp, WB, nullptr};
          run_tiles<V>(k, MR, nvw);
          for (int r = 0; r < mr; ++r) {
            const float* o = outs + static_cast<int64_t>(r) * WB;
            std::copy(o, o + HP, dhs + static_cast<int64_t>(bb + r) * HP);
            std::copy(o + HP, o + HP + I, dxp + ((static_cast<int64_t>(b0) + bb + r) * T + t) * I);
          }
        } else {
          const RowTile k{dhs + static_cast<int64_t>(bb) * HP, HP, a1, G4, wp, a1, 0, wp, WB, nullptr};
          run_tiles<V>(k, MR, nvw);
        }
      }
    }
    // This step's share of the weight gradients (transposed: rows j of h_prev / x_t).
    if (want_hh && step > 0)
      accumulate_rows<V>(pt_hh, G4P, f.y + (gb0 * T + tp) * DH + d * H, static_cast<int64_t>(T) * DH, H, rows, das);
    if (want_ih) accumulate_rows<V>(pt_ih, G4P, f.x + (gb0 * T + t) * I, static_cast<int64_t>(T) * I, I, rows, das);
    if (want_b) {
      for (int v = 0; v < G4P; v += W) {
        V acc = V{};
        for (int r = 0; r < rows; ++r) acc += ld<V>(das + static_cast<int64_t>(r) * G4P + v);
        st(pb + v, ld<V>(pb + v) + acc);
      }
    }
  }
  if (f.w) collect_pair(f, p);
}

// ---- the per-instruction-set drivers -------------------------------------------------------
// The regions' bodies (*_items_*) carry the target attribute themselves: the lambda a region
// runs cannot (thread_pool.h).
#define DC_LSTM_DRIVERS(SUFFIX, TARGET, V)                                                 \
  TARGET __attribute__((noinline)) void forward_items_##SUFFIX(const Fwd& f, int64_t b, int64_t e) { \
    for (int64_t it = b; it < e; ++it) forward_item<V>(f, it);                              \
  }                                                                                        \
  TARGET __attribute__((noinline)) void backward_items_##SUFFIX(const Bwd& f, int64_t b, int64_t e) { \
    for (int64_t it = b; it < e; ++it) backward_item<V>(f, it);                             \
  }                                                                                        \
  void forward_run_##SUFFIX(const Fwd& f, bool parallel) {                                 \
    const int64_t items = static_cast<int64_t>(f.s.P()) * f.chunks;                        \
    if (parallel) {                                                                        \
      run_team([&] {                                                                       \
        const Range r = thread_range(items);                                               \
        forward_items_##SUFFIX(f, r.begin, r.end);                                         \
      });                                                                                  \
    } else {                                                                               \
      forward_items_##SUFFIX(f, 0, items);                                                 \
    }                                                                                      \
  }                                                                                        \
  void backward_run_##SUFFIX(const Bwd& f, bool parallel) {                                \
    const int64_t items = static_cast<int64_t>(f.s.P()) * f.chunks;                        \
    if (parallel) {                                                                        \
      run_team([&] {                                                                       \
        const Range r = thread_range(items);                                               \
        backward_items_##SUFFIX(f, r.begin, r.end);                                        \
      });                                                                                  \
    } else {                                                                               \
      backward_items_##SUFFIX(f, 0, items);                                                \
    }                                                                                      \
  }

DC_LSTM_DRIVERS(avx512, __attribute__((target("arch=x86-64-v4"))), vf16)
DC_LSTM_DRIVERS(avx2, __attribute__((target("arch=x86-64-v3"))), vf8)
DC_LSTM_DRIVERS(sse, , vf4)
#undef DC_LSTM_DRIVERS

}  // namespace

int lstm_limit_lanes(int max_lanes) {
  g_max_lanes = max_lanes;
  return lanes(isa());
}

void lstm_forward(float* y, float* ws, const float* x, const LstmParams<float>& w, LstmShape s) {
  const int H = s.H, I = s.I, G4 = 4 * H, P = s.P();
  const Isa target = isa();
  const int G4P = round_up(G4, lanes(target));
  static thread_local AlignedBuffer pack_buf;  // read by the whole team: owned by the calling thread
  const int64_t wsize = static_cast<int64_t>(P) * (I + H) * G4P;
  float* wpk = pack_buf.get(static_cast<size_t>(wsize + static_cast<int64_t>(P) * G4P));
  float* bias = wpk + wsize;
  // With one item per pair each item packs its own pair's weights (in the parallel region);
  // else they are packed here, before the items that share them.
  const int chunks = chunks_per_pair(P, s.B);
  if (chunks > 1)
    for (int p = 0; p < P; ++p) pack_forward(wpk, bias, w, p, I, H, G4P);
  const bool parallel = P * chunks > 1 && use_threads(static_cast<int64_t>(P) * s.BT() * G4 * (I + H), kParallelWork);
  const Fwd f{s, x, y, ws, wpk, bias, G4P, chunks, chunks == 1 ? &w : nullptr};
  switch (target) {
    case Isa::Avx512: forward_run_avx512(f, parallel); break;
    case Isa::Avx2: forward_run_avx2(f, parallel); break;
    case Isa::Baseline: forward_run_sse(f, parallel); break;
  }
}

void lstm_backward(GradOut<float> dx, const LstmParamGrads<float>& dw, const float* dy, const float* x, const float* y,
                   const LstmParams<float>& w, const float* ws, LstmShape s) {
  const int H = s.H, I = s.I, D = s.D, G4 = 4 * H, P = s.P();
  const int64_t BT = s.BT();
  bool need_any = static_cast<bool>(dx);
  for (int p = 0; p < P; ++p)
    need_any = need_any || wants(dw.w_hh, p) || wants(dw.w_ih, p) || wants(dw.b_ih, p) || wants(dw.b_hh, p);
  if (!need_any) return;
  const Isa target = isa();
  const int L = lanes(target);
  const int G4P = round_up(G4, L), HP = round_up(H, L);
  const int WB = HP + (I > 1 && dx ? round_up(I, L) : 0);
  const int Hr = round_up(H, 8), Ir = round_up(I, 8);
  const int chunks = chunks_per_pair(P, s.B);
  const int64_t items = static_cast<int64_t>(P) * chunks, psz = static_cast<int64_t>(Hr + Ir + 1) * G4P;
  // Shared by the whole team: owned by the calling thread.
  static thread_local AlignedBuffer wb_buf, wih1_buf, part_buf, dx_buf;
  float* wb = wb_buf.get(static_cast<size_t>(P) * G4 * WB);
  float* wih1 = I == 1 && dx ? wih1_buf.get(static_cast<size_t>(P) * G4P) : nullptr;
  float* part = part_buf.get(static_cast<size_t>(items * psz));
  float* dxp = dx ? dx_buf.get(static_cast<size_t>(P) * BT * I) : nullptr;
  const bool parallel = items > 1 && use_threads(static_cast<int64_t>(P) * BT * G4 * (2 * H + I), kParallelWork);
  // With one item per pair each item packs its pair's weights and writes its pair's weight
  // gradients (in the parallel region); else both happen here, around the items.
  const Bwd b{s, dy, x, y, ws, &dw, wb, wih1, part, dxp, G4P, HP, WB, Hr, Ir, psz, chunks, chunks == 1 ? &w : nullptr};
  if (chunks > 1)
    for (int p = 0; p < P; ++p) pack_backward(wb, wih1, w, p, I, H, HP, WB, G4P);
  switch (target) {
    case Isa::Avx512: backward_run_avx512(b, parallel); break;
    case Isa::Avx2: backward_run_avx2(b, parallel); break;
    case Isa::Baseline: backward_run_sse(b, parallel); break;
  }
  if (chunks > 1)
    for (int p = 0; p < P; ++p) collect_pair(b, p);
  if (dx)
    for (int g = 0; g < s.G; ++g) {
      const float* d0 = dxp + static_cast<int64_t>(g) * D * BT * I;
      const float* d1 = D == 2 ? d0 + BT * I : nullptr;
      const int64_t at = static_cast<int64_t>(g) * BT * I;
      for (int64_t k = 0; k < BT * I; ++k) dx.put(at + k, d1 ? d0[k] + d1[k] : d0[k]);
    }
}

}  // namespace dc::kernels::cpu
