// Shared by the .cu files: error checks, the stream and cuBLAS handle, launch helpers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace dc::kernels::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line);
[[noreturn]] void throw_cublas_error(cublasStatus_t s, const char* what, const char* file, int line);

#define DC_CUDA_CHECK(expr)                                                                        \
  do {                                                                                             \
    const cudaError_t dc_err_ = (expr);                                                            \
    if (dc_err_ != cudaSuccess) ::dc::kernels::cuda::throw_cuda_error(dc_err_, #expr, __FILE__, __LINE__); \
  } while (0)

#define DC_CUBLAS_CHECK(expr)                                                                      \
  do {                                                                                             \
    const cublasStatus_t dc_st_ = (expr);                                                          \
    if (dc_st_ != CUBLAS_STATUS_SUCCESS) ::dc::kernels::cuda::throw_cublas_error(dc_st_, #expr, __FILE__, __LINE__); \
  } while (0)

// Checks the last launch (configuration errors); asynchronous faults surface at the next sync.
#define DC_CUDA_CHECK_LAUNCH() DC_CUDA_CHECK(cudaGetLastError())

inline cudaStream_t current_stream() { return static_cast<cudaStream_t>(stream()); }

// The process's cuBLAS handle, bound to current_stream().
cublasHandle_t cublas_handle();

// The current device's multiprocessor count (read once).
inline int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    DC_CUDA_CHECK(cudaGetDevice(&dev));
    DC_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    return v > 0 ? v : 1;
  }();
  return n;
}

inline unsigned grid_for(int64_t n, int block, int64_t max_blocks = 65535LL * 32) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > max_blocks) g = max_blocks;
  return static_cast<unsigned>(g);
}

}  // namespace dc::kernels::cuda
