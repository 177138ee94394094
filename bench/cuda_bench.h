// CUDA kernel benchmarks: plain C++ records (no CUDA types), filled by the bench/*.cu files
// and turned into the bench JSON by bench/benchmarks.cpp. Times come from CUDA events on
// the process stream, median of several runs after a warm-up.
#pragma once

#include <string>
#include <vector>

namespace dc::bench {

struct CudaBenchRecord {
  std::string kernel;          // e.g. "conv1d_forward", "lstm_fwd_bwd", "sgemm_tiled"
  std::string shape;           // e.g. "B=64 Cin=5 Cout=50 L=100 K=10"
  double ms = 0;               // our kernel, median milliseconds
  double gflops = 0;           // 0 when the kernel is memory-bound (then gbs is set)
  double gbs = 0;              // bytes moved / time, GB/s; 0 when compute-bound
  double peak_fraction = 0;    // of the device's FP32 peak (gflops) or DRAM bandwidth (gbs)
  std::string reference;       // "cudnn", "cublas" or "" when no library has the operation
  double reference_ms = 0;     // the reference, same shape, same run
  std::string note;            // anything a reader needs (e.g. "5 cuDNN calls, one per mark")
};

// Each family's benchmarks (bench/cuda_*_benchmarks.cu). `quick`: fewer repetitions.
std::vector<CudaBenchRecord> cuda_conv_gemm_benchmarks(bool quick);   // conv1d, pool, dropout, linear, sgemm
std::vector<CudaBenchRecord> cuda_rnn_benchmarks(bool quick);         // lstm, attention
std::vector<CudaBenchRecord> cuda_pointwise_benchmarks(bool quick);   // elementwise, losses, reductions, optimizers

}  // namespace dc::bench
