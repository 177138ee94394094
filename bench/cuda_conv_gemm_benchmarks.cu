// CUDA benchmarks of the conv1d, max-pool, dropout, linear and GEMM kernels
// (kernels/cuda/{conv1d,pool,dropout,linear,gemm}), next to cuDNN / cuBLAS where those have
// the same operation:
//   conv1d forward / backward-data / backward-weights at the DeepChrome sizes (B = 1, 64)
//     vs cudnnConvolutionForward / BackwardData / BackwardFilter (the 1-D convolution as a
//     2-D one with H = 1, FP32 FMA math (no TF32), the fastest algorithm from cudnnFind*,
//     workspace allocated once outside the timed loop);
//   sgemm_tiled vs cuBLAS at 512^3, 4096^3 and the DeepChrome linear-layer shapes;
//   linear forward + backward vs its three bare cuBLAS GEMMs;
//   max-pool forward (vs cudnnPoolingForward) and backward, dropout forward and backward,
//     in GB/s.
// Times: bench/cuda_bench_util.cuh's median_ms_per_call (CUDA events around back-to-back
// calls on the process stream, median of the samples after a warm-up).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench.h"
#include "bench/cuda_bench_util.cuh"
#include "bench/timing.h"
#include "kernels/base/error.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/linear.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/runtime.h"

#if DEEPCHROME_HAS_CUDNN
#include <cudnn.h>
#endif

namespace dc::bench {
namespace {

namespace cu = dc::kernels::cuda;
using cpu::Trans;

#if DEEPCHROME_HAS_CUDNN
#define DC_CUDNN_CHECK(expr)                                                                                  \
  do {                                                                                                        \
    const cudnnStatus_t dc_st_ = (expr);                                                                      \
    if (dc_st_ != CUDNN_STATUS_SUCCESS)                                                                       \
      throw ::dc::Error(std::string("cuDNN error: ") + cudnnGetErrorString(dc_st_) + " in " + #expr + " at " + \
                        __FILE__ + ":" + std::to_string(__LINE__));                                          \
  } while (0)
#endif

struct Peaks {
  double gflops = 0, gbs = 0;
};

CudaBenchRecord compute_record(const std::string& kernel, const std::string& shape, double ms, double flops,
                               const Peaks& peak) {
  CudaBenchRecord r;
  r.kernel = kernel;
  r.shape = shape;
  r.ms = ms;
  r.gflops = flops / (ms * 1e-3) / 1e9;
  r.peak_fraction = peak.gflops > 0 ? r.gflops / peak.gflops : 0;
  return r;
}

CudaBenchRecord memory_record(const std::string& kernel, const std::string& shape, double ms, double bytes,
                              const Peaks& peak) {
  CudaBenchRecord r;
  r.kernel = kernel;
  r.shape = shape;
  r.ms = ms;
  r.gbs = bytes / (ms * 1e-3) / 1e9;
  r.peak_fraction = peak.gbs > 0 ? r.gbs / peak.gbs : 0;
  return r;
}

// ---- conv1d -------------------------------------------------------------------------------

#if DEEPCHROME_HAS_CUDNN
// The 1-D convolution as cuDNN sees it: NCHW with H = 1, its descriptors and algorithms.
class CudnnConv {
 public:
  CudnnConv(cudnnHandle_t h, const cpu::Conv1dShape& s) : h_(h) {
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x_));
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y_));
    DC_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w_));
    DC_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv_));
    DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.N, s.CIN, 1, s.L));
    DC_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.COUT, s.CIN, 1, s.K));
    DC_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv_, 0, s.pad, 1, s.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT));
    DC_CUDNN_CHECK(cudnnSetConvolutionMathType(conv_, CUDNN_FMA_MATH));  // FP32, as our kernels (no TF32)
    int n = 0, c = 0, hh = 0, ww = 0;
    DC_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv_, x_, w_, &n, &c, &hh, &ww));
    if (n != s.N || c != s.COUT || hh != 1 || ww != s.LOUT()) throw Error("cuDNN conv: unexpected output shape");
    DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y_, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.N, s.COUT, 1, s.LOUT()));

    int got = 0;
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    DC_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithm(h_, x_, w_, conv_, y_, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, fwd));
    fwd_ = pick(fwd, got, "forward", &fwd_bytes_);
    cudnnConvolutionBwdDataAlgoPerf_t bwd_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    DC_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithm(h_, w_, y_, conv_, x_, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT,
                                                             &got, bwd_data));
    data_ = pick(bwd_data, got, "backward data", &data_bytes_);
    cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    DC_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithm(h_, x_, y_, conv_, w_,
                                                               CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, bwd_filter));
    filter_ = pick(bwd_filter, got, "backward filter", &filter_bytes_);
    workspace_ = std::make_unique<DeviceBuffer>(std::max({fwd_bytes_, data_bytes_, filter_bytes_}));
  }
  ~CudnnConv() {
    cudnnDestroyConvolutionDescriptor(conv_);
    cudnnDestroyFilterDescriptor(w_);
    cudnnDestroyTensorDescriptor(y_);
    cudnnDestroyTensorDescriptor(x_);
  }
  CudnnConv(const CudnnConv&) = delete;
  CudnnConv& operator=(const CudnnConv&) = delete;

  void forward(float* y, const float* x, const float* w) {
    DC_CUDNN_CHECK(cudnnConvolutionForward(h_, &one_, x_, x, w_, w, conv_, fwd_, workspace_->get(), fwd_bytes_, &zero_,
                                           y_, y));
  }
  void backward_data(float* dx, const float* dy, const float* w) {
    DC_CUDNN_CHECK(cudnnConvolutionBackwardData(h_, &one_, w_, w, y_, dy, conv_, data_, workspace_->get(), data_bytes_,
                                                &zero_, x_, dx));
  }
  void backward_filter(float* dw, const float* dy, const float* x) {
    DC_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h_, &one_, x_, x, y_, dy, conv_, filter_, workspace_->get(),
                                                  filter_bytes_, &zero_, w_, dw));
  }

 private:
  // The fastest algorithm that ran (cudnnFind* sorts by time).
  template <class Perf>
  static auto pick(const Perf* perf, int count, const char* what, size_t* bytes) -> decltype(perf->algo) {
    for (int i = 0; i < count; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) {
        *bytes = perf[i].memory;
        return perf[i].algo;
      }
    throw Error(std::string("cuDNN conv: no ") + what + " algorithm ran for this shape");
  }

  cudnnHandle_t h_;
  cudnnTensorDescriptor_t x_ = nullptr, y_ = nullptr;
  cudnnFilterDescriptor_t w_ = nullptr;
  cudnnConvolutionDescriptor_t conv_ = nullptr;
  cudnnConvolutionFwdAlgo_t fwd_{};
  cudnnConvolutionBwdDataAlgo_t data_{};
  cudnnConvolutionBwdFilterAlgo_t filter_{};
  size_t fwd_bytes_ = 0, data_bytes_ = 0, filter_bytes_ = 0;
  std::unique_ptr<DeviceBuffer> workspace_;
  const float one_ = 1.0f, zero_ = 0.0f;
};

class CudnnHandle {
 public:
  CudnnHandle() {
    DC_CUDNN_CHECK(cudnnCreate(&h_));
    DC_CUDNN_CHECK(cudnnSetStream(h_, cu::current_stream()));
  }
  ~CudnnHandle() { cudnnDestroy(h_); }
  CudnnHandle(const CudnnHandle&) = delete;
  CudnnHandle& operator=(const CudnnHandle&) = delete;
  cudnnHandle_t get() const { return h_; }

 private:
  cudnnHandle_t h_ = nullptr;
};
#endif

std::string conv_shape(const cpu::Conv1dShape& s) {
  return "B=" + std::to_string(s.N) + " Cin=" + std::to_string(s.CIN) + " Cout=" + std::to_string(s.COUT) +
         " L=" + std::to_string(s.L) + " K=" + std::to_string(s.K);
}

void conv_benchmarks(std::vector<CudaBenchRecord>& out, bool quick, const Peaks& peak) {
#if DEEPCHROME_HAS_CUDNN
  // A cuDNN that cannot run (no handle, no algorithm) becomes a note; our kernels are still timed.
  std::unique_ptr<CudnnHandle> cudnn;
  std::string cudnn_error;
  try {
    cudnn = std::make_unique<CudnnHandle>();
  } catch (const Error& e) {
    cudnn_error = e.what() + clear_handled_cuda_error();
  }
#endif
  for (int batch : {1, 64}) {
    const cpu::Conv1dShape s{batch, 5, 100, 50, 10, 1, 0};
    const std::string shape = conv_shape(s);
    const size_t nx = static_cast<size_t>(s.N) * s.CIN * s.L, nw = static_cast<size_t>(s.COUT) * s.CIN * s.K,
                 ny = static_cast<size_t>(s.N) * s.COUT * s.LOUT();
    DeviceFloats x(nx, 1), w(nw, 2), b(static_cast<size_t>(s.COUT), 3), dy(ny, 4), y(ny, kUninit), dx(nx, kUninit),
        dw(nw, kUninit), db(static_cast<size_t>(s.COUT), kUninit),
        col(static_cast<size_t>(cpu::conv1d_col_size(s)), kUninit);
    const double flops = 2.0 * s.N * s.COUT * s.LOUT() * s.CIN * s.K;  // each of the three passes

    cu::conv1d_forward(y.get(), col.get(), x.get(), w.get(), b.get(), s);  // col for the backward passes
    auto fwd = compute_record("conv1d_forward", shape, median_ms_per_call([&] {
      cu::conv1d_forward(y.get(), col.get(), x.get(), w.get(), nullptr, s);
    }, quick), flops, peak);
    auto data = compute_record("conv1d_backward_data", shape, median_ms_per_call([&] {
      cu::conv1d_backward(dx.get(), GradMode::Overwrite, nullptr, GradMode::Overwrite, nullptr, GradMode::Overwrite,
                          dy.get(), col.get(), w.get(), s);
    }, quick), flops, peak);
    auto filter = compute_record("conv1d_backward_weights", shape, median_ms_per_call([&] {
      cu::conv1d_backward(nullptr, GradMode::Overwrite, dw.get(), GradMode::Overwrite, nullptr, GradMode::Overwrite,
                          dy.get(), col.get(), w.get(), s);
    }, quick), flops, peak);
    fwd.note = "no bias on either side; ours also hands x to the backward pass (col)";
    data.note = "dx only";
    filter.note = "dw only (no bias gradient on either side)";
#if DEEPCHROME_HAS_CUDNN
    try {
      if (!cudnn) throw Error("cuDNN unavailable: " + cudnn_error);
      CudnnConv ref(cudnn->get(), s);
      fwd.reference_ms = median_ms_per_call([&] { ref.forward(y.get(), x.get(), w.get()); }, quick);
      data.reference_ms = median_ms_per_call([&] { ref.backward_data(dx.get(), dy.get(), w.get()); }, quick);
      filter.reference_ms = median_ms_per_call([&] { ref.backward_filter(dw.get(), dy.get(), x.get()); }, quick);
      fwd.reference = data.reference = filter.reference = "cudnn";
      for (auto* r : {&fwd, &data, &filter}) r->note += "; cuDNN: 2-D conv with H = 1, FP32 FMA math, fastest cudnnFind algorithm";
    } catch (const Error& e) {
      for (auto* r : {&fwd, &data, &filter}) {
        r->reference_ms = 0;
        r->note += std::string("; cuDNN reference failed: ") + e.what();
      }
      fwd.note += clear_handled_cuda_error();
    }
#endif
    // The whole backward pass as the engine calls it.
    auto all = compute_record("conv1d_backward", shape, median_ms_per_call([&] {
      cu::conv1d_backward(dx.get(), GradMode::Overwrite, dw.get(), GradMode::Overwrite, db.get(), GradMode::Overwrite,
                          dy.get(), col.get(), w.get(), s);
    }, quick), 2 * flops, peak);
    all.note = "dx, dw and db in one call (as the engine runs it)";
    out.push_back(fwd);
    out.push_back(data);
    out.push_back(filter);
    out.push_back(all);
  }
}

// ---- GEMM and linear ----------------------------------------------------------------------

void gemm_benchmarks(std::vector<CudaBenchRecord>& out, bool quick, const Peaks& peak) {
  struct Case {
    int M, N, K;
    Trans ta, tb;
    const char* what;
  };
  const Case cases[] = {
      {512, 512, 512, Trans::No, Trans::No, "square"},
      {4096, 4096, 4096, Trans::No, Trans::No, "square"},
      {64, 625, 900, Trans::No, Trans::Yes, "DeepChrome linear 900->625 forward, B=64"},
      {64, 900, 625, Trans::No, Trans::No, "DeepChrome linear 900->625 dx, B=64"},
      {625, 900, 64, Trans::Yes, Trans::No, "DeepChrome linear 900->625 dw, B=64"},
      {64, 125, 625, Trans::No, Trans::Yes, "DeepChrome linear 625->125 forward, B=64"},
  };
  for (const Case& c : cases) {
    const int a_rows = c.ta == Trans::No ? c.M : c.K, a_cols = c.ta == Trans::No ? c.K : c.M;
    const int b_rows = c.tb == Trans::No ? c.K : c.N, b_cols = c.tb == Trans::No ? c.N : c.K;
    DeviceFloats A(static_cast<size_t>(a_rows) * a_cols, 11), B(static_cast<size_t>(b_rows) * b_cols, 12),
        C(static_cast<size_t>(c.M) * c.N, kUninit);
    const std::string shape = std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) + " " +
                              (c.ta == Trans::No ? "N" : "T") + (c.tb == Trans::No ? "N" : "T");
    const double flops = 2.0 * c.M * c.N * c.K;
    auto r = compute_record("sgemm_tiled", shape, median_ms_per_call([&] {
      cu::sgemm_tiled(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.get(), a_cols, B.get(), b_cols, 0.0f, C.get(), c.N);
    }, quick), flops, peak);
    r.reference = "cublas";
    r.reference_ms = median_ms_per_call([&] {
      cu::sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.get(), a_cols, B.get(), b_cols, 0.0f, C.get(), c.N);
    }, quick);
    r.note = std::string(c.what) + "; M x N x K, row-major, transposes of A and B";
    out.push_back(r);
  }

  for (int batch : {1, 64}) {
    const cpu::LinearShape s{batch, 900, 625};
    DeviceFloats x(static_cast<size_t>(s.N) * s.IN, 21), w(static_cast<size_t>(s.OUT) * s.IN, 22), b(s.OUT, 23),
        dy(static_cast<size_t>(s.N) * s.OUT, 24), y(static_cast<size_t>(s.N) * s.OUT, kUninit),
        dx(static_cast<size_t>(s.N) * s.IN, kUninit), dw(static_cast<size_t>(s.OUT) * s.IN, kUninit),
        db(s.OUT, kUninit);
    const std::string shape = "N=" + std::to_string(s.N) + " IN=900 OUT=625";
    auto r = compute_record("linear_fwd_bwd", shape, median_ms_per_call([&] {
      cu::linear_forward(y.get(), x.get(), w.get(), b.get(), s);
      cu::linear_backward(dx.get(), GradMode::Overwrite, dw.get(), GradMode::Overwrite, db.get(), GradMode::Overwrite,
                          dy.get(), x.get(), w.get(), s);
    }, quick), 6.0 * s.N * s.IN * s.OUT, peak);
    r.reference = "cublas";
    r.reference_ms = median_ms_per_call([&] {
      cu::sgemm(Trans::No, Trans::Yes, s.N, s.OUT, s.IN, 1.0f, x.get(), s.IN, w.get(), s.IN, 0.0f, y.get(), s.OUT);
      cu::sgemm(Trans::No, Trans::No, s.N, s.IN, s.OUT, 1.0f, dy.get(), s.OUT, w.get(), s.IN, 0.0f, dx.get(), s.IN);
      cu::sgemm(Trans::Yes, Trans::No, s.OUT, s.IN, s.N, 1.0f, dy.get(), s.OUT, x.get(), s.IN, 0.0f, dw.get(), s.IN);
    }, quick);
    r.note = "forward + dx, dw, db; reference: the three cuBLAS GEMMs alone (no bias add, no bias gradient)";
    out.push_back(r);
  }
}

// ---- max-pool and dropout -----------------------------------------------------------------

void pool_dropout_benchmarks(std::vector<CudaBenchRecord>& out, bool quick, const Peaks& peak) {
#if DEEPCHROME_HAS_CUDNN
  CudnnHandle cudnn;
#endif
  for (int batch : {64, 256}) {
    const int C = 50;
    const cpu::Pool1dShape s{batch * C, 91, 5, 5};
    const size_t nx = static_cast<size_t>(s.R) * s.L, ny = static_cast<size_t>(s.R) * s.LOUT();
    DeviceFloats x(nx, 31), dy(ny, 32), y(ny, kUninit), dx(nx, kUninit), argmax(ny, kUninit);  // int32 in float slots
    int32_t* arg = reinterpret_cast<int32_t*>(argmax.get());
    const std::string shape = "B=" + std::to_string(batch) + " C=50 L=91 K=5 stride=5";
    cu::maxpool1d_forward(y.get(), arg, x.get(), s);
    auto fwd = memory_record("maxpool1d_forward", shape, median_ms_per_call([&] { cu::maxpool1d_forward(y.get(), arg, x.get(), s); }, quick),
                             4.0 * nx + 8.0 * ny, peak);
    fwd.note = "reads x, writes y and int32 argmax";
#if DEEPCHROME_HAS_CUDNN
    {
      cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
      cudnnPoolingDescriptor_t pd = nullptr;
      struct Cleanup {
        cudnnTensorDescriptor_t& a;
        cudnnTensorDescriptor_t& b;
        cudnnPoolingDescriptor_t& p;
        ~Cleanup() {
          if (a) cudnnDestroyTensorDescriptor(a);
          if (b) cudnnDestroyTensorDescriptor(b);
          if (p) cudnnDestroyPoolingDescriptor(p);
        }
      } cleanup{xd, yd, pd};
      DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
      DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
      DC_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pd));
      DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, C, 1, s.L));
      DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, C, 1, s.LOUT()));
      DC_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pd, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN, 1, s.K, 0, 0, 1, s.stride));
      const float one = 1.0f, zero = 0.0f;
      fwd.reference = "cudnn";
      fwd.reference_ms = median_ms_per_call([&] {
        DC_CUDNN_CHECK(cudnnPoolingForward(cudnn.get(), pd, &one, xd, x.get(), &zero, yd, y.get()));
      }, quick);
      fwd.note += "; cuDNN writes no argmax";
    }
#endif
    auto bwd = memory_record("maxpool1d_backward", shape, median_ms_per_call([&] {
      cu::maxpool1d_backward(dx.get(), GradMode::Overwrite, dy.get(), arg, s);
    }, quick), 8.0 * ny + 4.0 * nx, peak);
    bwd.note = "reads dy and argmax, writes dx (gather, no atomics)";
    out.push_back(fwd);
    out.push_back(bwd);
  }

  for (int64_t n : {int64_t{900} * 64, int64_t{900} * 256, int64_t{1} << 24}) {
    DeviceFloats x(static_cast<size_t>(n), 41), y(static_cast<size_t>(n), kUninit), dx(static_cast<size_t>(n), kUninit);
    const cpu::DropoutKey key{1234, 5};
    const std::string shape = "n=" + std::to_string(n) + " p=0.5";
    auto fwd = memory_record("dropout_forward", shape, median_ms_per_call([&] { cu::dropout_forward(y.get(), x.get(), n, 0.5f, key); }, quick),
                             8.0 * static_cast<double>(n), peak);
    auto bwd = memory_record("dropout_backward", shape, median_ms_per_call([&] {
      cu::dropout_backward(dx.get(), GradMode::Overwrite, y.get(), n, 0.5f, key);
    }, quick), 8.0 * static_cast<double>(n), peak);
    fwd.note = bwd.note = "Philox mask recomputed per element (bit-identical to the CPU)";
    out.push_back(fwd);
    out.push_back(bwd);
  }
}

}  // namespace

std::vector<CudaBenchRecord> cuda_conv_gemm_benchmarks(bool quick) {
  const cu::DeviceInfo info = cu::device_info();
  const Peaks peak{info.peak_fp32_tflops * 1e3, info.peak_bandwidth_gbs};
  std::vector<CudaBenchRecord> out;
  conv_benchmarks(out, quick, peak);
  gemm_benchmarks(out, quick, peak);
  pool_dropout_benchmarks(out, quick, peak);
  cu::synchronize();
  return out;
}

}  // namespace dc::bench
