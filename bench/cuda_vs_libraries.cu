// `deepchrome bench --only cuda`'s second part (bench/cuda_bench.h): our CUDA kernels next to
// the vendor libraries on the same inputs, each record validated before it is timed (the
// families are in bench/cuda_{conv_gemm,rnn,pointwise}_benchmarks.cu), and the cuDNN handle
// they share.
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench.h"
#include "bench/cuda_bench_util.cuh"

namespace dc::bench {

#if DEEPCHROME_HAS_CUDNN
cudnnHandle_t cudnn_handle(std::string* why) {
  struct Handle {
    cudnnHandle_t h = nullptr;
    std::string error;
    Handle() {
      try {
        DC_CUDNN_CHECK(cudnnCreate(&h));
        DC_CUDNN_CHECK(cudnnSetStream(h, kernels::cuda::current_stream()));
      } catch (const Error& e) {
        if (h) cudnnDestroy(h);
        h = nullptr;
        error = e.what() + clear_handled_cuda_error();
      }
    }
  };
  static const Handle handle;  // (never destroyed: cuDNN may outlive the CUDA context at exit)
  if (!handle.h && why) *why = handle.error;
  return handle.h;
}
#endif

std::vector<BenchRecord> cuda_vendor_benchmarks(bool quick) {
  std::vector<BenchRecord> out;
  conv_gemm_vs_libraries(out, quick);
  rnn_vs_libraries(out, quick);
  pointwise_vs_libraries(out, quick);
  kernels::cuda::synchronize();
  return out;
}

}  // namespace dc::bench
