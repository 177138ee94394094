// Op family `lstm`: a batched single-layer LSTM (torch.nn.LSTM semantics) over many independent sequences:
// G groups (each with its own weights), D directions (1, or 2 = bidirectional), a batch of
// B sequences of length T with I input features, hidden size H; zero initial states.
//
//   x (G, B, T, I) -> y (G, B, T, D*H); y[g,b,t, d*H : (d+1)*H] is direction d's h_t.
//
// Pair p = g*D + d has its own weights (torch's shapes and (i, f, g, o) gate order):
//   w_ih (4H, I), w_hh (4H, H), b_ih (4H), b_hh (4H)    (a null bias counts as zero)
// Direction 0 runs t = 0..T-1, direction 1 runs t = T-1..0; its output at position t is
// its state after consuming x_t. For one step of one sequence:
//   a   = w_ih x_t + b_ih + w_hh h_prev + b_hh                      (4H)
//   i = sigmoid(a[0:H]), f = sigmoid(a[H:2H]), g = tanh(a[2H:3H]), o = sigmoid(a[3H:4H])
//   c_t = f * c_prev + i * g,   h_t = o * tanh(c_t)                   (h_prev = c_prev = 0 first)
//
// Workspace (what backward needs), lstm_workspace_size(s) floats, time-major so that a
// step's rows are contiguous: row w = t*B + b with t the time position (not the step
// number), BT = B*T:
//   [0,           P*BT*4H)  gates  [p][w][4H]  post-activation (i, f, g, o) at position t
//   [P*BT*4H,     P*BT*5H)  c      [p][w][H]   c_t
//   [P*BT*5H,     P*BT*6H)  tanh_c [p][w][H]   tanh(c_t)
// The reference and the fast kernels write and read the same layout. Forward may be given
// a null workspace (inference: nothing is kept).
//
// Backward (BPTT) takes dy (G, B, T, D*H), the forward's x, y and workspace, and writes
// dx (G, B, T, I) and the weight gradients; GradMode chooses `=` or `+=` per buffer, a null
// pointer skips that gradient. b_ih and b_hh have the same gradient (the sum over steps
// of the pre-activation gradient).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/base/grad.h"

namespace dc::kernels {

struct LstmShape {
  int G, B, T, I, H, D;
  int P() const { return G * D; }                          // (group, direction) pairs
  int64_t BT() const { return static_cast<int64_t>(B) * T; }  // rows per pair
};

inline int64_t lstm_workspace_size(LstmShape s) { return static_cast<int64_t>(s.P()) * s.BT() * 6 * s.H; }

// Pointers to the P = G*D weight sets, index g*D + d.
template <class T>
struct LstmParams {
  std::vector<const T*> w_ih, w_hh, b_ih, b_hh;
};

// The weight gradients, P entries per vector (an empty vector: none of that kind needed).
template <class T>
struct LstmParamGrads {
  std::vector<GradOut<T>> w_ih, w_hh, b_ih, b_hh;
};

template <class T>
inline T lstm_sigmoid(T v) {
  return v >= T(0) ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
}

// ---- reference (plain loops, one sequence at a time) ------------------------------------

// x (G, B, T, I) -> y (G, B, T, D*H); fills ws (lstm_workspace_size floats) unless null.
template <class T>
void lstm_forward_reference(T* y, T* ws, const T* x, const LstmParams<T>& w, LstmShape s) {
  const int H = s.H, I = s.I, D = s.D, T_ = s.T, G4 = 4 * H;
  const int64_t BT = s.BT(), P = s.P();
  std::vector<T> h(H), c(H), a(G4);
  for (int g = 0; g < s.G; ++g)
    for (int d = 0; d < D; ++d) {
      const int64_t p = static_cast<int64_t>(g) * D + d;
      const T *w_ih = w.w_ih[p], *w_hh = w.w_hh[p], *b_ih = w.b_ih[p], *b_hh = w.b_hh[p];
      for (int b = 0; b < s.B; ++b) {
        std::fill(h.begin(), h.end(), T(0));
        std::fill(c.begin(), c.end(), T(0));
        for (int step = 0; step < T_; ++step) {
          const int t = d == 0 ? step : T_ - 1 - step;
          const int64_t row = static_cast<int64_t>(b) * T_ + t;       // (b, t) within the group
          const int64_t xy = static_cast<int64_t>(g) * BT + row;      // (g, b, t)
          const int64_t wrow = p * BT + static_cast<int64_t>(t) * s.B + b;  // workspace row
          const T* xt = x + xy * I;
          for (int k = 0; k < G4; ++k) {
            T acc = (b_ih ? b_ih[k] : T(0)) + (b_hh ? b_hh[k] : T(0));
            for (int i = 0; i < I; ++i) acc += w_ih[k * I + i] * xt[i];
            for (int j = 0; j < H; ++j) acc += w_hh[k * H + j] * h[j];
            a[k] = acc;
          }
          T* gates = ws ? ws + wrow * G4 : nullptr;
          T* cw = ws ? ws + P * BT * G4 + wrow * H : nullptr;
          T* tw = ws ? ws + P * BT * 5 * H + wrow * H : nullptr;
          for (int j = 0; j < H; ++j) {
            const T ig = lstm_sigmoid(a[j]), fg = lstm_sigmoid(a[H + j]), gg = std::tanh(a[2 * H + j]),
                    og = lstm_sigmoid(a[3 * H + j]);
            c[j] = fg * c[j] + ig * gg;
            const T tc = std::tanh(c[j]);
            h[j] = og * tc;
            y[xy * D * H + d * H + j] = h[j];
            if (ws) {
              gates[j] = ig;
              gates[H + j] = fg;
              gates[2 * H + j] = gg;
              gates[3 * H + j] = og;
              cw[j] = c[j];
              tw[j] = tc;
            }
          }
        }
      }
    }
}

// dy (G, B, T, D*H) -> dx (G, B, T, I) and the weight gradients (BPTT), given the forward's
// x, y and workspace.
template <class T>
void lstm_backward_reference(GradOut<T> dx, const LstmParamGrads<T>& dw, const T* dy, const T* x,
                             const T* y, const LstmParams<T>& w, const T* ws, LstmShape s) {
  const int H = s.H, I = s.I, D = s.D, T_ = s.T, G4 = 4 * H;
  const int64_t BT = s.BT(), P = s.P();
  auto want = [](const std::vector<GradOut<T>>& v, int64_t p) { return !v.empty() && v[p].data; };
  std::vector<T> dxs(dx ? static_cast<size_t>(BT) * I : 0);
  std::vector<T> dwih(static_cast<size_t>(G4) * I), dwhh(static_cast<size_t>(G4) * H), db(G4);
  std::vector<T> dh_next(H), dc_next(H), da(G4);
  for (int g = 0; g < s.G; ++g) {
    std::fill(dxs.begin(), dxs.end(), T(0));
    for (int d = 0; d < D; ++d) {
      const int64_t p = static_cast<int64_t>(g) * D + d;
      const T *w_ih = w.w_ih[p], *w_hh = w.w_hh[p];
      std::fill(dwih.begin(), dwih.end(), T(0));
      std::fill(dwhh.begin(), dwhh.end(), T(0));
      std::fill(db.begin(), db.end(), T(0));
      for (int b = 0; b < s.B; ++b) {
        std::fill(dh_next.begin(), dh_next.end(), T(0));
        std::fill(dc_next.begin(), dc_next.end(), T(0));
        for (int step = T_ - 1; step >= 0; --step) {
          const int t = d == 0 ? step : T_ - 1 - step;
          const int tp = d == 0 ? t - 1 : t + 1;  // the previous step's position (if step > 0)
          const int64_t row = static_cast<int64_t>(b) * T_ + t, prow = static_cast<int64_t>(b) * T_ + tp;
          const int64_t wrow = p * BT + static_cast<int64_t>(t) * s.B + b, pwrow = p * BT + static_cast<int64_t>(tp) * s.B + b;
          const T* gates = ws + wrow * G4;
          const T* tc = ws + P * BT * 5 * H + wrow * H;
          const T* c_prev = step > 0 ? ws + P * BT * G4 + pwrow * H : nullptr;
          const T* h_prev = step > 0 ? y + (g * BT + prow) * D * H + d * H : nullptr;
          const T* dyt = dy + (g * BT + row) * D * H + d * H;
          for (int j = 0; j < H; ++j) {
            const T ig = gates[j], fg = gates[H + j], gg = gates[2 * H + j], og = gates[3 * H + j];
            const T dh = dyt[j] + dh_next[j];
            const T dc = dc_next[j] + dh * og * (T(1) - tc[j] * tc[j]);
            dc_next[j] = dc * fg;
            da[j] = dc * gg * ig * (T(1) - ig);
            da[H + j] = dc * (c_prev ? c_prev[j] : T(0)) * fg * (T(1) - fg);
            da[2 * H + j] = dc * ig * (T(1) - gg * gg);
            da[3 * H + j] = dh * tc[j] * og * (T(1) - og);
          }
          const T* xt = x + (g * BT + row) * I;
          for (int k = 0; k < G4; ++k) {
            db[k] += da[k];
            for (int i = 0; i < I; ++i) dwih[k * I + i] += da[k] * xt[i];
            if (h_prev)
              for (int j = 0; j < H; ++j) dwhh[k * H + j] += da[k] * h_prev[j];
          }
          if (dx)
            for (int i = 0; i < I; ++i) {
              T acc = 0;
              for (int k = 0; k < G4; ++k) acc += da[k] * w_ih[k * I + i];
              dxs[row * I + i] += acc;
            }
          for (int j = 0; j < H; ++j) {
            T acc = 0;
            for (int k = 0; k < G4; ++k) acc += da[k] * w_hh[k * H + j];
            dh_next[j] = acc;
          }
        }
      }
      auto write = [&](const std::vector<GradOut<T>>& v, const std::vector<T>& val) {
        if (!want(v, p)) return;
        for (size_t k = 0; k < val.size(); ++k) v[p].put(static_cast<int64_t>(k), val[k]);
      };
      write(dw.w_ih, dwih);
      write(dw.w_hh, dwhh);
      write(dw.b_ih, db);
      write(dw.b_hh, db);
    }
    if (dx)
      for (int64_t k = 0; k < BT * I; ++k) dx.put(g * BT * I + k, dxs[k]);
  }
}

namespace cpu {
// One call runs every (group, direction) sequence: the (pair, batch-chunk) items are split
// across the OpenMP threads inside one parallel region around the whole time loop. Each
// step of an item is fused (the gate GEMV in registers, then the state update; backward:
// da, then dh_prev = da W_hh, dx_t = da W_ih and the step's weight-gradient share while da
// is in cache). The chunking depends on (P, B) only and per-item weight-gradient sums are
// added in item order: results do not depend on the thread count. Compiled for AVX-512,
// AVX2 + FMA and SSE2 (kernels/cpu/simd.h); backward needs the forward's workspace.
void lstm_forward(float* y, float* ws, const float* x, const LstmParams<float>& w, LstmShape s);
void lstm_backward(GradOut<float> dx, const LstmParamGrads<float>& dw, const float* dy, const float* x, const float* y,
                   const LstmParams<float>& w, const float* ws, LstmShape s);
// For tests: use at most `max_lanes` floats per vector (0: no limit); returns the width now
// in use. Not thread-safe: set it between calls.
int lstm_limit_lanes(int max_lanes);
}  // namespace cpu

namespace cuda {
void lstm_forward(float* y, float* ws, const float* x, const LstmParams<float>& w, LstmShape s);
void lstm_backward(GradOut<float> dx, const LstmParamGrads<float>& dw, const float* dy, const float* x, const float* y,
                   const LstmParams<float>& w, const float* ws, LstmShape s);
}  // namespace cuda

}  // namespace dc::kernels
