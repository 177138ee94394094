// Scaffolding shared by the CUDA kernel tests: device copies of host vectors, and the
// Null / Overwrite / Accumulate gradient checks of the backward kernels.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/base/grad.h"
#include "kernels/cuda/runtime.h"
#include "test_util.h"

namespace dc::test {

// A device copy of a host vector (or `n` copies of a value), `offset` elements into its
// allocation (offset 1 puts float data off 16-byte alignment: the kernels' scalar path).
template <class T>
class DeviceVector {
 public:
  explicit DeviceVector(const std::vector<T>& h, size_t offset = 0) : n_(h.size()), offset_(offset) {
    base_ = static_cast<T*>(kernels::cuda::raw_malloc((n_ + offset_ + 1) * sizeof(T)));
    upload(h);
  }
  DeviceVector(size_t n, T value, size_t offset = 0) : DeviceVector(std::vector<T>(n, value), offset) {}
  ~DeviceVector() {
    try {
      kernels::cuda::raw_free(base_);
    } catch (...) {
    }
  }
  DeviceVector(const DeviceVector&) = delete;
  DeviceVector& operator=(const DeviceVector&) = delete;

  T* get() const { return base_ + offset_; }
  void upload(const std::vector<T>& h) { kernels::cuda::copy_to_device(get(), h.data(), h.size() * sizeof(T)); }
  std::vector<T> host() const {
    std::vector<T> h(n_);
    kernels::cuda::copy_to_host(h.data(), get(), n_ * sizeof(T));
    return h;
  }
  T scalar() const {  // the first element
    T v{};
    kernels::cuda::copy_to_host(&v, get(), sizeof(T));
    return v;
  }

 private:
  size_t n_, offset_;
  T* base_ = nullptr;
};

using Dev = DeviceVector<float>;

// The backward kernels' gradient checks: each gradient is null (its buffer must stay
// untouched), overwritten (starts as NaN: every element must be written) or accumulated
// (starts random).
namespace grad_check {

inline const float kNaN = std::numeric_limits<float>::quiet_NaN();
inline constexpr float kSentinel = 12345.0f;
inline constexpr double kRtol = 1e-4;

inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// Tolerance for a float sum of `terms` products (inputs of magnitude <= 1) in two orders.
inline double sum_atol(double terms) { return 2e-5 * std::sqrt(std::max(1.0, terms)); }

enum class Want { Null, Overwrite, Accumulate };
inline const char* want_name(Want w) { return w == Want::Null ? "null" : w == Want::Overwrite ? "overwrite" : "accumulate"; }
inline GradMode mode_of(Want w) { return w == Want::Accumulate ? GradMode::Accumulate : GradMode::Overwrite; }
// The kernel argument for a gradient buffer: null (not wanted) or the buffer with its mode.
inline GradOut<float> grad_out(Want w, float* p) { return {w == Want::Null ? nullptr : p, mode_of(w)}; }

// The starting contents of a gradient buffer.
inline std::vector<float> initial(Want w, size_t n, uint64_t seed) {
  if (w == Want::Accumulate) return random_vector<float>(n, seed);
  return std::vector<float>(n, w == Want::Overwrite ? kNaN : kSentinel);
}

// CPU result (Overwrite / Accumulate) or the untouched initial buffer (Null) vs the device.
inline void expect_grad(Want w, const std::vector<float>& dev, const std::vector<float>& cpu_result,
                        const std::vector<float>& init, double atol, const std::string& what) {
  if (w == Want::Null) {
    CHECK_MESSAGE(bit_identical(dev, init), what << ": a null gradient's buffer was written");
    return;
  }
  expect_close(dev, cpu_result, atol, kRtol, what);
}

}  // namespace grad_check
}  // namespace dc::test
