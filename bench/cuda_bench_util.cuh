// Shared by the CUDA kernel benchmarks (bench/cuda_*_benchmarks.cu): device memory freed at
// scope exit, and the one timing rule (CUDA events on the process stream).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/runtime.h"

namespace dc::bench {

// Raw device memory (cuDNN workspaces, descriptors' buffers, copies of host vectors).
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : p_(bytes ? kernels::cuda::raw_malloc(bytes) : nullptr) {}
  explicit DeviceBuffer(const std::vector<float>& h) : DeviceBuffer(std::max<size_t>(h.size(), 1) * sizeof(float)) {
    kernels::cuda::copy_to_device(p_, h.data(), h.size() * sizeof(float));
  }
  ~DeviceBuffer() {
    try {
      kernels::cuda::raw_free(p_);
    } catch (...) {
    }
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }
  float* f() const { return static_cast<float*>(p_); }
  std::vector<float> host(size_t n) const {
    std::vector<float> h(n);
    kernels::cuda::copy_to_host(h.data(), p_, n * sizeof(float));
    return h;
  }

 private:
  void* p_;
};

// After a handled failure (a cuDNN reference that could not run, say): clears the non-sticky
// CUDA error it may have left as the thread's last error, so that the next launch check does
// not report it for one of our kernels. Returns a note naming the error, or "" if none was set.
inline std::string clear_handled_cuda_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? std::string() : std::string(" (cleared CUDA error ") + cudaGetErrorName(e) + ")";
}

// n device floats, uniform in [lo, hi) from the benchmark RNG, or left uninitialised (kUninit:
// outputs).
struct Uninit {};
inline constexpr Uninit kUninit{};

class DeviceFloats {
 public:
  DeviceFloats(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) : buf_(uniform_floats(n, seed, lo, hi)) {}
  DeviceFloats(size_t n, Uninit) : buf_(std::max<size_t>(n, 1) * sizeof(float)) {}
  float* get() const { return buf_.f(); }

 private:
  DeviceBuffer buf_;
};

// Median milliseconds per call of f: a warm-up (first launches, caches, scratch growth, clocks),
// then `calls` back-to-back calls per sample, with `calls` grown until a sample lasts
// ~0.5 ms (quick) or ~2 ms, and the median of 3 (quick) or 9 samples.
inline double median_ms_per_call(const std::function<void()>& f, bool quick) {
  const cudaStream_t st = kernels::cuda::current_stream();
  cudaEvent_t start = nullptr, stop = nullptr;
  DC_CUDA_CHECK(cudaEventCreate(&start));
  DC_CUDA_CHECK(cudaEventCreate(&stop));
  auto timed = [&](int calls) {
    DC_CUDA_CHECK(cudaEventRecord(start, st));
    for (int i = 0; i < calls; ++i) f();
    DC_CUDA_CHECK(cudaEventRecord(stop, st));
    DC_CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0;
    DC_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    return static_cast<double>(ms);
  };
  timed(3);
  const double sample_ms = quick ? 0.5 : 2.0;
  int calls = 1;
  for (;;) {
    const double ms = timed(calls);
    if (ms >= sample_ms || calls >= (1 << 14)) break;
    calls = std::min(1 << 14, std::max(calls * 2, static_cast<int>(calls * sample_ms / std::max(ms, 1e-4) * 1.2)));
  }
  std::vector<double> v;
  const int samples = quick ? 3 : 9;
  for (int s = 0; s < samples; ++s) v.push_back(timed(calls) / calls);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace dc::bench
