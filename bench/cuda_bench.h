// The CUDA comparisons with the vendor libraries (bench/cuda_*_benchmarks.cu): our conv1d
// against cuDNN's convolution, our LSTM against cudnnRNN, our tiled SGEMM against cuBLAS,
// and the fused optimizer / loss kernels against what the libraries have. Records of the one
// benchmark type (bench/record.h). In a build without CUDA, bench/cuda_unavailable.cpp
// says so instead.
#pragma once

#include <vector>

#include "bench/record.h"

namespace dc::bench {

std::vector<BenchRecord> cuda_vendor_benchmarks(bool quick);

}  // namespace dc::bench
