// CUDA 1-D convolution with the contract of kernels/contract/conv1d.h (x (N, CIN, L), w (COUT,
// CIN, K), b (COUT) or null, any stride / padding; GradMode per gradient, null gradient
// pointers skip that work). Device pointers; launches on the process stream, never
// synchronises, never allocates except device scratch slot 0 (weight-gradient partials).
//
// `col` (conv1d_col_size(s) floats, from the engine) carries x from forward to backward in
// this backend's own layout: x itself, (N, CIN, L), whenever it fits (L <= K * LOUT, always
// true for stride 1), else im2col (CIN*K, N*LOUT). Only this forward writes
// it and only this backward reads it; forward accepts a null col (inference).
//
//   forward : direct kernel. A block owns one sample, a tile of LT output positions (one
//             per thread) and OT output channels (register accumulators); the weights of
//             its channels ([c][k][o], read as float4 broadcasts) and the input window of its
//             positions are staged in shared memory, CIN in chunks that fit. The blocks of
//             the first tile of a sample also copy x into col. Shapes whose window does not
//             fit shared memory (K or stride in the hundreds) use a one-thread-per-output
//             kernel.
//   dx      : direct kernel for stride 1: a block owns one sample, PT input positions and CT
//             input channels; the OS rows of threads split the output channels and their
//             partial sums are added in a fixed order. Other strides (and huge K): one
//             thread per input element.
//   dw, db  : a GEMM over the N*LOUT positions, dw (COUT, CIN*K) = sum dy^T im2col(x), with
//             64 x 64 output tiles (4x4 per thread) built in shared memory from dy and col,
//             in chunks of 32 positions of one sample. The chunks are split over P blocks
//             whose partial sums (scratch) a second kernel adds in order (P = 1: written
//             directly). Deterministic: no atomics anywhere.
#pragma once

#include "kernels/contract/conv1d.h"

namespace dc::kernels::cuda {

// Test hook: forces the kernel configurations (0 = automatic). A forced tiled kernel falls
// back to the simple one where the shape does not fit it (stride != 1 for dx, a window too
// long for shared memory). Process-wide, not thread-safe: for tests only.
struct Conv1dTuning {
  int forward = 0;   // 1: tiled, 8 channels x 32 positions; 2: tiled, 16 x 128; 3: simple kernel
  int dx = 0;        // 1: tiled, 32 positions x 8 channel splits; 2: tiled, 128 x 2; 3: simple kernel
  int dw_parts = 0;  // the number of partial sums P of dw / db (1: written directly)
};
void set_conv1d_tuning(Conv1dTuning t);

}  // namespace dc::kernels::cuda
