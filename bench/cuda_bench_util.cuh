// Shared by the CUDA comparisons with the vendor libraries (bench/cuda_*.cu): device memory
// freed at scope exit, the one timing rule (CUDA events on the process stream), the records
// and their validation before timing, the shared cuDNN handle, and the three families'
// entry points that bench/cuda_vs_libraries.cu calls.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#if DEEPCHROME_HAS_CUDNN
#include <cudnn.h>
#endif

#include "bench/record.h"
#include "bench/timing.h"
#include "engine/op_table.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/runtime.h"

namespace dc::bench {

// The families (each appends its records): conv1d, sgemm_tiled, linear and max-pool
// (bench/cuda_conv_gemm_benchmarks.cu); the LSTM (bench/cuda_rnn_benchmarks.cu);
// activations, add, log-softmax and the optimizer kernels (bench/cuda_pointwise_benchmarks.cu).
void conv_gemm_vs_libraries(std::vector<BenchRecord>& out, bool quick);
void rnn_vs_libraries(std::vector<BenchRecord>& out, bool quick);
void pointwise_vs_libraries(std::vector<BenchRecord>& out, bool quick);

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

// A record of this GPU: what ran, its work (FLOPs or bytes of one call) and the device's peaks.
inline BenchRecord cuda_record(const std::string& op, const std::string& shape, const std::string& pass, double flops,
                               double bytes) {
  static const kernels::cuda::DeviceInfo info = kernels::cuda::device_info();
  BenchRecord r;
  r.op = op;
  r.shape = shape;
  r.device = "cuda";
  r.pass = pass;
  r.flops = flops;
  r.bytes = bytes;
  r.peak_gflops = info.peak_fp32_tflops * 1e3;
  r.peak_gbs = info.peak_bandwidth_gbs;
  return r;
}

// A library's result against ours: other algorithms (FFT or Winograd convolutions, other
// summation orders) round differently, so this is looser than an op's cuda_tol, yet far
// below what a wrong descriptor or layout gives (errors of the order of the values). A
// library that disagrees is not used as the reference.
inline constexpr optable::Tolerance kLibraryTol{1e-4, 1e-3};

// The validation of a record before it is timed: our kernel's results compared with the CPU
// twin's or a library's (optable::compare, the one tolerance rule). The record gets what it
// was compared with and the largest error; a failed comparison makes it invalid (not timed)
// with the failure in its note.
class Validation {
 public:
  explicit Validation(std::string against) : against_(std::move(against)) {}
  template <class A, class E>
  void check(const std::string& what, const std::vector<A>& actual, const std::vector<E>& expected, optable::Tolerance tol) {
    const optable::Comparison c = optable::compare(actual, expected, tol);
    if (failure_.empty() && !c.ok) failure_ = c.describe(what);
    max_error_ = std::max(max_error_, c.max_error);
  }
  bool ok() const { return failure_.empty(); }
  // Writes the outcome into r; returns ok().
  bool apply(BenchRecord& r) const {
    r.validated_against = against_;
    r.max_error = max_error_;
    if (!ok()) {
      r.valid = false;
      r.note = "validation failed: " + failure_ + (r.note.empty() ? "" : "; " + r.note);
    }
    return ok();
  }

 private:
  std::string against_, failure_;
  double max_error_ = 0;
};

// A library's result against ours (kLibraryTol): "" when it agrees, else why it is not used.
template <class A, class E>
std::string library_disagrees(const std::string& library, const std::string& what, const std::vector<A>& library_result,
                              const std::vector<E>& ours) {
  const optable::Comparison c = optable::compare(library_result, ours, kLibraryTol);
  return c.ok ? std::string() : library + "'s result differs from ours, not used as the reference (" + c.describe(what) + ")";
}

// Appends `more` to a note ("; " between).
inline void add_note(BenchRecord& r, const std::string& more) {
  if (!more.empty()) r.note += (r.note.empty() ? "" : "; ") + more;
}

#if DEEPCHROME_HAS_CUDNN
#define DC_CUDNN_CHECK(expr)                                                                                    \
  do {                                                                                                          \
    const cudnnStatus_t dc_st_ = (expr);                                                                        \
    if (dc_st_ != CUDNN_STATUS_SUCCESS)                                                                         \
      throw ::dc::Error(std::string("cuDNN error: ") + cudnnGetErrorString(dc_st_) + " in " #expr " at " __FILE__ \
                        ":" + std::to_string(__LINE__));                                                        \
  } while (0)

// The process's cuDNN handle on the process stream, created on first use; null when cuDNN
// cannot start here, with the reason in *why (and the CUDA error it left cleared).
cudnnHandle_t cudnn_handle(std::string* why);
#endif

}  // namespace dc::bench
