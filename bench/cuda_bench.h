// The CUDA comparisons with the vendor libraries (bench/cuda_vs_libraries.cu and
// bench/cuda_*_benchmarks.cu): our conv1d against cuDNN's convolution, our LSTM against
// cudnnRNN, our tiled SGEMM and linear layer against cuBLAS, max-pool, relu, add and
// log-softmax against cuDNN, the fused Adam update and clipping against device copies of the
// same bytes. Records of the one benchmark type (bench/record.h), each validated before it
// is timed. In a build without CUDA, bench/cuda_unavailable.cpp says so instead.
#pragma once

#include <vector>

#include "bench/record.h"

namespace dc::bench {

std::vector<BenchRecord> cuda_vendor_benchmarks(bool quick);

}  // namespace dc::bench
