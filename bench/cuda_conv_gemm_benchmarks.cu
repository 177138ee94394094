// Our CUDA conv1d, tiled SGEMM, linear layer and max-pool next to cuDNN / cuBLAS on the same
// inputs (records of bench/record.h; every one validated before it is timed):
//   conv1d forward / backward-data / backward-filter at the DeepChrome sizes (B = 1, 64)
//     vs cudnnConvolutionForward / BackwardData / BackwardFilter (the 1-D convolution as a
//     2-D one with H = 1, FP32 FMA math (no TF32), the fastest algorithm from cudnnFind*,
//     workspace allocated once outside the timed loop); ours validated against the CPU twin
//     (kernels/cpu), cuDNN's result against ours;
//   sgemm_tiled (ours) vs cuBLAS (cuda::sgemm) at 512^3, 4096^3 and the DeepChrome
//     linear-layer shapes, validated against cuBLAS's result;
//   linear forward + backward (cuBLAS GEMMs plus our bias kernels) vs its three bare cuBLAS
//     GEMMs, validated against the CPU twin;
//   max-pool forward vs cudnnPoolingForward, validated against the CPU twin (exactly) and
//     cuDNN's result against ours.
// The plain per-op timings are the op table's (bench/op_benchmarks.cpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench_util.cuh"
#include "kernels/base/error.h"
#include "kernels/contract/conv1d.h"
#include "kernels/contract/gemm.h"
#include "kernels/contract/linear.h"
#include "kernels/contract/pool.h"
#include "kernels/cuda/gemm.h"

namespace dc::bench {
namespace {

namespace k = dc::kernels;
namespace cu = dc::kernels::cuda;
using k::Trans;

// ---- conv1d -------------------------------------------------------------------------------

#if DEEPCHROME_HAS_CUDNN
// The 1-D convolution as cuDNN sees it: NCHW with H = 1, its descriptors and algorithms.
class CudnnConv {
 public:
  CudnnConv(cudnnHandle_t h, const k::Conv1dShape& s) : h_(h) {
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
#endif

std::string conv_shape(const k::Conv1dShape& s) {
  return "B=" + std::to_string(s.N) + " Cin=" + std::to_string(s.CIN) + " Cout=" + std::to_string(s.COUT) +
         " L=" + std::to_string(s.L) + " K=" + std::to_string(s.K);
}

void conv_records(std::vector<BenchRecord>& out, bool quick) {
  const optable::Tolerance tol = optable::op_row("conv1d").cuda_tol;
  for (int batch : {1, 64}) {
    const k::Conv1dShape s{batch, 5, 100, 50, 10, 1, 0};
    const std::string shape = conv_shape(s);
    const size_t nx = static_cast<size_t>(s.N) * s.CIN * s.L, nw = static_cast<size_t>(s.COUT) * s.CIN * s.K,
                 ny = static_cast<size_t>(s.N) * s.COUT * s.LOUT(), ncol = static_cast<size_t>(k::conv1d_col_size(s));
    // DeepChrome's inputs are counts (0..20 after binning); its init U(+-1/sqrt(CIN*K)).
    const double wb = 1.0 / std::sqrt(static_cast<double>(s.CIN * s.K));
    const std::vector<float> hx = uniform_floats(nx, 1, 0.0, 8.0), hw = uniform_floats(nw, 2, -wb, wb), hdy = uniform_floats(ny, 4);
    const DeviceBuffer x(hx), w(hw), dy(hdy), y(ny * sizeof(float)), dx(nx * sizeof(float)), dw(nw * sizeof(float)),
        col(ncol * sizeof(float));
    const double flops = 2.0 * s.N * s.COUT * s.LOUT() * s.CIN * s.K;  // each of the three passes
    BenchRecord fwd = cuda_record("conv1d", shape, "forward", flops, 0), data = cuda_record("conv1d", shape, "backward_data", flops, 0),
                filter = cuda_record("conv1d", shape, "backward_filter", flops, 0);
    fwd.note = "no bias on either side; ours also hands x to the backward pass (col)";
    data.note = "dx only";
    filter.note = "dw only (no bias gradient on either side)";

    // Ours once, against the CPU twin.
    auto our_fwd = [&] { cu::conv1d_forward(y.f(), col.f(), x.f(), w.f(), nullptr, s); };
    auto our_data = [&] { cu::conv1d_backward({dx.f(), GradMode::Overwrite}, {}, {}, dy.f(), col.f(), w.f(), s); };
    auto our_filter = [&] { cu::conv1d_backward({}, {dw.f(), GradMode::Overwrite}, {}, dy.f(), col.f(), w.f(), s); };
    our_fwd();
    our_data();
    our_filter();
    const std::vector<float> y_ours = y.host(ny), dx_ours = dx.host(nx), dw_ours = dw.host(nw);
    std::vector<float> y_cpu(ny), col_cpu(ncol), dx_cpu(nx), dw_cpu(nw);
    k::cpu::conv1d_forward(y_cpu.data(), col_cpu.data(), hx.data(), hw.data(), nullptr, s);
    k::cpu::conv1d_backward({dx_cpu.data(), GradMode::Overwrite}, {dw_cpu.data(), GradMode::Overwrite}, {}, hdy.data(),
                            col_cpu.data(), hw.data(), s);
    Validation vf("the CPU twin (kernels/cpu)"), vd = vf, vw = vf;
    vf.check("y", y_ours, y_cpu, tol);
    vd.check("dx", dx_ours, dx_cpu, tol);
    vw.check("dw", dw_ours, dw_cpu, tol);
    const bool ok_f = vf.apply(fwd), ok_d = vd.apply(data), ok_w = vw.apply(filter);
    if (ok_f) fwd.ms = median_ms_per_call(our_fwd, quick);
    if (ok_d) data.ms = median_ms_per_call(our_data, quick);
    if (ok_w) filter.ms = median_ms_per_call(our_filter, quick);

#if DEEPCHROME_HAS_CUDNN
    std::string why;
    cudnnHandle_t h = cudnn_handle(&why);
    try {
      if (!h) throw Error("cuDNN unavailable: " + why);
      CudnnConv ref(h, s);
      const DeviceBuffer y_ref(ny * sizeof(float)), dx_ref(nx * sizeof(float)), dw_ref(nw * sizeof(float));
      ref.forward(y_ref.f(), x.f(), w.f());
      ref.backward_data(dx_ref.f(), dy.f(), w.f());
      ref.backward_filter(dw_ref.f(), dy.f(), x.f());
      struct Pass {
        BenchRecord* r;
        bool ok;
        std::string disagrees;
        std::function<void()> call;
      };
      Pass passes[] = {
          {&fwd, ok_f, library_disagrees("cuDNN", "y", y_ref.host(ny), y_ours), [&] { ref.forward(y_ref.f(), x.f(), w.f()); }},
          {&data, ok_d, library_disagrees("cuDNN", "dx", dx_ref.host(nx), dx_ours),
           [&] { ref.backward_data(dx_ref.f(), dy.f(), w.f()); }},
          {&filter, ok_w, library_disagrees("cuDNN", "dw", dw_ref.host(nw), dw_ours),
           [&] { ref.backward_filter(dw_ref.f(), dy.f(), x.f()); }},
      };
      for (Pass& p : passes) {
        if (!p.ok) continue;
        if (!p.disagrees.empty()) {
          add_note(*p.r, p.disagrees);
          continue;
        }
        p.r->reference = "cudnn";
        p.r->reference_ms = median_ms_per_call(p.call, quick);
        add_note(*p.r, "cuDNN: 2-D conv with H = 1, FP32 FMA math, the fastest cudnnFind algorithm (its result checked against ours)");
      }
    } catch (const Error& e) {
      const std::string note = std::string("cuDNN reference failed: ") + e.what() + clear_handled_cuda_error();
      for (BenchRecord* r : {&fwd, &data, &filter}) add_note(*r, note);
    }
#else
    for (BenchRecord* r : {&fwd, &data, &filter}) add_note(*r, "built without cuDNN: no reference");
#endif
    out.push_back(fwd);
    out.push_back(data);
    out.push_back(filter);
  }
}

// ---- GEMM and linear ----------------------------------------------------------------------

void gemm_records(std::vector<BenchRecord>& out, bool quick) {
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
    const size_t nc = static_cast<size_t>(c.M) * c.N;
    const DeviceBuffer A(uniform_floats(static_cast<size_t>(a_rows) * a_cols, 11)),
        B(uniform_floats(static_cast<size_t>(b_rows) * b_cols, 12)), C(nc * sizeof(float)), C_ref(nc * sizeof(float));
    const std::string shape = std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K) + " " +
                              (c.ta == Trans::No ? "N" : "T") + (c.tb == Trans::No ? "N" : "T");
    BenchRecord r = cuda_record("sgemm_tiled", shape, "call", 2.0 * c.M * c.N * c.K, 0);
    r.note = std::string(c.what) + "; M x N x K, row-major, transposes of A and B";
    auto ours = [&] { cu::sgemm_tiled(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.f(), a_cols, B.f(), b_cols, 0.0f, C.f(), c.N); };
    auto cublas = [&] { cu::sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.0f, A.f(), a_cols, B.f(), b_cols, 0.0f, C_ref.f(), c.N); };
    ours();
    cublas();
    Validation v("cuBLAS (cuda::sgemm) on the same inputs");
    v.check("C", C.host(nc), C_ref.host(nc), optable::Tolerance{1e-5, 1e-4});
    if (v.apply(r)) {
      r.ms = median_ms_per_call(ours, quick);
      r.reference = "cublas";
      r.reference_ms = median_ms_per_call(cublas, quick);
    }
    out.push_back(r);
  }

  const optable::Tolerance tol = optable::op_row("linear").cuda_tol;
  for (int batch : {1, 64}) {
    const k::LinearShape s{batch, 900, 625};
    const size_t nx = static_cast<size_t>(s.N) * s.IN, nw = static_cast<size_t>(s.OUT) * s.IN, ny = static_cast<size_t>(s.N) * s.OUT;
    const double wb = 1.0 / std::sqrt(900.0);
    const std::vector<float> hx = uniform_floats(nx, 21), hw = uniform_floats(nw, 22, -wb, wb), hb = uniform_floats(s.OUT, 23, -wb, wb),
                             hdy = uniform_floats(ny, 24);
    const DeviceBuffer x(hx), w(hw), b(hb), dy(hdy), y(ny * sizeof(float)), dx(nx * sizeof(float)), dw(nw * sizeof(float)),
        db(s.OUT * sizeof(float));
    BenchRecord r = cuda_record("linear", "N=" + std::to_string(s.N) + " IN=900 OUT=625", "forward+backward",
                                6.0 * s.N * s.IN * s.OUT, 0);
    r.note = "forward + dx, dw, db; reference: the three cuBLAS GEMMs alone (no bias add, no bias gradient)";
    auto ours = [&] {
      cu::linear_forward(y.f(), x.f(), w.f(), b.f(), s);
      cu::linear_backward({dx.f(), GradMode::Overwrite}, {dw.f(), GradMode::Overwrite}, {db.f(), GradMode::Overwrite}, dy.f(),
                          x.f(), w.f(), s);
    };
    ours();
    std::vector<float> y_cpu(ny), dx_cpu(nx), dw_cpu(nw), db_cpu(s.OUT);
    k::cpu::linear_forward(y_cpu.data(), hx.data(), hw.data(), hb.data(), s);
    k::cpu::linear_backward({dx_cpu.data(), GradMode::Overwrite}, {dw_cpu.data(), GradMode::Overwrite},
                            {db_cpu.data(), GradMode::Overwrite}, hdy.data(), hx.data(), hw.data(), s);
    Validation v("the CPU twin (kernels/cpu)");
    v.check("y", y.host(ny), y_cpu, tol);
    v.check("dx", dx.host(nx), dx_cpu, tol);
    v.check("dw", dw.host(nw), dw_cpu, tol);
    v.check("db", db.host(s.OUT), db_cpu, tol);
    if (v.apply(r)) {
      r.ms = median_ms_per_call(ours, quick);
      r.reference = "cublas";
      r.reference_ms = median_ms_per_call([&] {
        cu::sgemm(Trans::No, Trans::Yes, s.N, s.OUT, s.IN, 1.0f, x.f(), s.IN, w.f(), s.IN, 0.0f, y.f(), s.OUT);
        cu::sgemm(Trans::No, Trans::No, s.N, s.IN, s.OUT, 1.0f, dy.f(), s.OUT, w.f(), s.IN, 0.0f, dx.f(), s.IN);
        cu::sgemm(Trans::Yes, Trans::No, s.OUT, s.IN, s.N, 1.0f, dy.f(), s.OUT, x.f(), s.IN, 0.0f, dw.f(), s.IN);
      }, quick);
    }
    out.push_back(r);
  }
}

// ---- max-pool -----------------------------------------------------------------------------

void pool_records(std::vector<BenchRecord>& out, bool quick) {
  const optable::Tolerance tol = optable::op_row("max_pool1d").cuda_tol;
  for (int batch : {64, 256}) {
    const int C = 50;
    const k::Pool1dShape s{batch * C, 91, 5, 5};
    const size_t nx = static_cast<size_t>(s.R) * s.L, ny = static_cast<size_t>(s.R) * s.LOUT();
    const std::vector<float> hx = uniform_floats(nx, 31);
    const DeviceBuffer x(hx), y(ny * sizeof(float)), argmax(ny * sizeof(int32_t));
    int32_t* arg = static_cast<int32_t*>(argmax.get());
    BenchRecord r = cuda_record("max_pool1d", "B=" + std::to_string(batch) + " C=50 L=91 K=5 stride=5", "forward", 0,
                                4.0 * nx + 8.0 * ny);
    r.note = "reads x, writes y and int32 argmax";
    auto ours = [&] { cu::maxpool1d_forward(y.f(), arg, x.f(), s); };
    ours();
    const std::vector<float> y_ours = y.host(ny);
    std::vector<float> y_cpu(ny);
    std::vector<int32_t> arg_cpu(ny);
    k::cpu::maxpool1d_forward(y_cpu.data(), arg_cpu.data(), hx.data(), s);
    Validation v("the CPU twin (kernels/cpu)");
    v.check("y", y_ours, y_cpu, tol);
    const bool ok = v.apply(r);
    if (ok) r.ms = median_ms_per_call(ours, quick);
#if DEEPCHROME_HAS_CUDNN
    std::string why;
    cudnnHandle_t h = cudnn_handle(&why);
    cudnnTensorDescriptor_t xd = nullptr, yd = nullptr;
    cudnnPoolingDescriptor_t pd = nullptr;
    try {
      if (!h) throw Error("cuDNN unavailable: " + why);
      DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&xd));
      DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&yd));
      DC_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&pd));
      DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, C, 1, s.L));
      DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, batch, C, 1, s.LOUT()));
      DC_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pd, CUDNN_POOLING_MAX, CUDNN_NOT_PROPAGATE_NAN, 1, s.K, 0, 0, 1, s.stride));
      const float one = 1.0f, zero = 0.0f;
      const DeviceBuffer y_ref(ny * sizeof(float));
      auto ref = [&] { DC_CUDNN_CHECK(cudnnPoolingForward(h, pd, &one, xd, x.f(), &zero, yd, y_ref.f())); };
      ref();
      const std::string disagrees = library_disagrees("cuDNN", "y", y_ref.host(ny), y_ours);
      if (ok && disagrees.empty()) {
        r.reference = "cudnn";
        r.reference_ms = median_ms_per_call(ref, quick);
        add_note(r, "cuDNN writes no argmax");
      }
      add_note(r, disagrees);
    } catch (const Error& e) {
      add_note(r, std::string("cuDNN reference failed: ") + e.what() + clear_handled_cuda_error());
    }
    if (xd) cudnnDestroyTensorDescriptor(xd);
    if (yd) cudnnDestroyTensorDescriptor(yd);
    if (pd) cudnnDestroyPoolingDescriptor(pd);
#else
    add_note(r, "built without cuDNN: no reference");
#endif
    out.push_back(r);
  }
}

}  // namespace

void conv_gemm_vs_libraries(std::vector<BenchRecord>& out, bool quick) {
  conv_records(out, quick);
  gemm_records(out, quick);
  pool_records(out, quick);
}

}  // namespace dc::bench
