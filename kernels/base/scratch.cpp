#include "kernels/base/scratch.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace dc {

AlignedBuffer::~AlignedBuffer() { std::free(p_); }

float* AlignedBuffer::get(size_t n) {
  if (n > n_) {
    std::free(p_);
    p_ = nullptr;
    const size_t grown = std::max(n, n_ + n_ / 2);
    p_ = static_cast<float*>(std::aligned_alloc(64, (std::max<size_t>(grown, 1) * sizeof(float) + 63) / 64 * 64));
    if (!p_) {
      n_ = 0;
      throw std::bad_alloc();
    }
    n_ = grown;
  }
  return p_;
}

float* scratch(int slot, size_t n) {
  static thread_local AlignedBuffer buffers[8];
  return buffers[slot].get(n);
}

}  // namespace dc
