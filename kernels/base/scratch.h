// Grow-only, 64-byte aligned host buffers for kernel temporaries (im2col, GEMM packing, LSTM
// staging). A buffer grows on demand and is never shrunk, so a training loop stops
// allocating after its first step.
#pragma once

#include <cstddef>

namespace dc {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  ~AlignedBuffer();
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // At least `n` floats, 64-byte aligned; the contents are kept only while no larger size
  // is asked for. Throws std::bad_alloc.
  float* get(size_t n);
  size_t capacity() const { return n_; }

 private:
  float* p_ = nullptr;
  size_t n_ = 0;
};

// Per-thread scratch slot `slot` (0..7) of at least `n` floats: each kernel family uses its
// own slot so nested uses (a kernel calling the GEMM) never share a buffer.
float* scratch(int slot, size_t n);

}  // namespace dc
