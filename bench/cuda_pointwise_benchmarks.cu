// CUDA benchmarks of the memory-bound kernels: relu forward / backward, add, log-softmax,
// the Adam update (over AttentiveChrome's 56 parameter tensors, as the optimizer runs it,
// and over one 16M-element tensor), sum, and gradient clipping (sum of squares + scale).
// Each figure is the median time per call over several samples of back-to-back calls,
// timed with CUDA events on the process stream after a warm-up; GB/s counts the bytes a
// kernel must move (every input read once, every output written once) and is reported
// against device_info().peak_bandwidth_gbs. cuDNN is timed next to ours where it has the
// same operation (activation forward / backward, tensor add, log-softmax).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#if DEEPCHROME_HAS_CUDNN
#include <cudnn.h>
#endif

#include "bench/cuda_bench.h"
#include "bench/cuda_bench_util.cuh"
#include "bench/timing.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/runtime.h"

namespace dc::bench {
namespace {

namespace cu = kernels::cuda;

CudaBenchRecord memory_record(const std::string& kernel, const std::string& shape, double ms, double bytes, double peak_gbs,
                              const std::string& note = "") {
  CudaBenchRecord r;
  r.kernel = kernel;
  r.shape = shape;
  r.ms = ms;
  r.gbs = bytes / (ms * 1e-3) / 1e9;
  r.peak_fraction = peak_gbs > 0 ? r.gbs / peak_gbs : 0.0;
  r.note = note;
  return r;
}

// AttentiveChrome's parameter tensors (models/attentivechrome.h, default sizes): 5 marks x
// 2 directions of a bi-LSTM(1 -> 32) (w_ih 128x1, w_hh 128x32, b_ih, b_hh 128), the mark
// bi-LSTM(64 -> 16) (w_ih 64x64, w_hh 64x16, b_ih, b_hh 64) x 2 directions, five bin
// contexts (64), the mark context (32), out.weight (32), out.bias (1): 56 tensors, 55681 floats.
std::vector<size_t> attentivechrome_parameter_sizes() {
  std::vector<size_t> s;
  for (int k = 0; k < 10; ++k) s.insert(s.end(), {128, 128 * 32, 128, 128});
  for (int k = 0; k < 2; ++k) s.insert(s.end(), {64 * 64, 64 * 16, 64, 64});
  for (int k = 0; k < 5; ++k) s.push_back(64);
  s.insert(s.end(), {32, 32, 1});
  return s;
}

#if DEEPCHROME_HAS_CUDNN
#pragma nv_diag_suppress 1444  // cuDNN 9 marks the activation descriptor deprecated; it is still the reference
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define DC_CUDNN_TRY(expr)                                                                   \
  do {                                                                                       \
    const cudnnStatus_t st_ = (expr);                                                        \
    if (st_ != CUDNN_STATUS_SUCCESS) throw Error(std::string(#expr) + ": " + cudnnGetErrorString(st_)); \
  } while (0)

// cuDNN on the process stream, for the reference timings.
struct Cudnn {
  cudnnHandle_t handle = nullptr;
  Cudnn() {
    DC_CUDNN_TRY(cudnnCreate(&handle));
    DC_CUDNN_TRY(cudnnSetStream(handle, cu::current_stream()));
  }
  ~Cudnn() {
    if (handle) cudnnDestroy(handle);
  }
};

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(int n, int c, int h, int w) {
    DC_CUDNN_TRY(cudnnCreateTensorDescriptor(&d));
    DC_CUDNN_TRY(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};

struct ReluDesc {
  cudnnActivationDescriptor_t d = nullptr;
  ReluDesc() {
    DC_CUDNN_TRY(cudnnCreateActivationDescriptor(&d));
    DC_CUDNN_TRY(cudnnSetActivationDescriptor(d, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }
  ~ReluDesc() { cudnnDestroyActivationDescriptor(d); }
};

struct AddDesc {
  cudnnOpTensorDescriptor_t d = nullptr;
  AddDesc() {
    DC_CUDNN_TRY(cudnnCreateOpTensorDescriptor(&d));
    DC_CUDNN_TRY(cudnnSetOpTensorDescriptor(d, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT, CUDNN_NOT_PROPAGATE_NAN));
  }
  ~AddDesc() { cudnnDestroyOpTensorDescriptor(d); }
};

// Times a cuDNN call into r (reference "cudnn"); a cuDNN failure becomes a note instead.
void time_reference(CudaBenchRecord& r, const std::function<void()>& f, bool quick) {
  try {
    r.reference_ms = median_ms_per_call(f, quick);
    r.reference = "cudnn";
  } catch (const std::exception& e) {
    r.note += std::string(r.note.empty() ? "" : "; ") + "cuDNN reference failed: " + e.what() + clear_handled_cuda_error();
  }
}
#endif

}  // namespace

std::vector<CudaBenchRecord> cuda_pointwise_benchmarks(bool quick) {
  constexpr double kClipAlways = 1e-7;  // a max_norm that clips on every call (see below)
  std::vector<CudaBenchRecord> out;
  const double peak = cu::device_info().peak_bandwidth_gbs;
  const float one = 1.0f, zero = 0.0f;
  (void)one;
  (void)zero;
#if DEEPCHROME_HAS_CUDNN
  std::unique_ptr<Cudnn> dnn;
  std::string dnn_error;
  try {
    dnn = std::make_unique<Cudnn>();
  } catch (const std::exception& e) {
    dnn_error = e.what() + clear_handled_cuda_error();
  }
#endif

  // ---- relu forward / backward, add: a 16M-element tensor and DeepChrome's conv output
  //      at batch 64 (64 x 50 x 91), where launch overhead shows.
  struct Size {
    size_t n;
    int nn, nc, nh, nw;  // the same elements as an NCHW tensor, for cuDNN
    std::string shape;
  };
  const std::vector<Size> sizes = {{size_t{1} << 24, 1, 1, 4096, 4096, "n=16777216"},
                                   {size_t{64} * 50 * 91, 64, 50, 1, 91, "n=291200 (DeepChrome conv output, B=64)"}};
  for (const Size& s : sizes) {
    DeviceFloats x(s.n, 1), y(s.n, 2), dy(s.n, 3), dx(s.n, 4), b(s.n, 5);
    const int64_t n = static_cast<int64_t>(s.n);
    cu::activation_forward(y.get(), x.get(), n, cpu::Activation::Relu);  // y = relu(x) for the backward

    CudaBenchRecord fwd = memory_record(
        "relu_forward", s.shape,
        median_ms_per_call([&] { cu::activation_forward(dx.get(), x.get(), n, cpu::Activation::Relu); }, quick), 8.0 * s.n, peak);
    CudaBenchRecord bwd = memory_record(
        "relu_backward", s.shape,
        median_ms_per_call([&] { cu::activation_backward(dx.get(), GradMode::Overwrite, dy.get(), y.get(), n, cpu::Activation::Relu); },
                  quick),
        12.0 * s.n, peak, "reads dy and the saved output y; cuDNN's backward also reads x");
    CudaBenchRecord add = memory_record(
        "add_forward", s.shape, median_ms_per_call([&] { cu::binary_forward(dx.get(), x.get(), b.get(), n, cpu::Binary::Add); }, quick),
        12.0 * s.n, peak);
#if DEEPCHROME_HAS_CUDNN
    if (dnn) {
      try {
        TensorDesc t(s.nn, s.nc, s.nh, s.nw);
        ReluDesc relu;
        AddDesc op;
        time_reference(
            fwd, [&] { DC_CUDNN_TRY(cudnnActivationForward(dnn->handle, relu.d, &one, t.d, x.get(), &zero, t.d, dx.get())); },
            quick);
        time_reference(
            bwd,
            [&] {
              DC_CUDNN_TRY(cudnnActivationBackward(dnn->handle, relu.d, &one, t.d, y.get(), t.d, dy.get(), t.d, x.get(), &zero,
                                                   t.d, dx.get()));
            },
            quick);
        time_reference(
            add,
            [&] {
              DC_CUDNN_TRY(cudnnOpTensor(dnn->handle, op.d, &one, t.d, x.get(), &one, t.d, b.get(), &zero, t.d, dx.get()));
            },
            quick);
      } catch (const std::exception& e) {
        fwd.note += std::string(fwd.note.empty() ? "" : "; ") + "cuDNN reference failed: " + e.what() + clear_handled_cuda_error();
      }
    }
#endif
    out.push_back(fwd);
    out.push_back(bwd);
    out.push_back(add);
  }

  // ---- log-softmax over DeepChrome's two classes, at batch 1 (the paper's) and 64.
  for (int R : {1, 64}) {
    const int C = 2;
    const size_t n = static_cast<size_t>(R) * C;
    DeviceFloats x(n, 11, -3.0, 3.0), y(n, 12), dy(n, 13), dx(n, 14);
    cu::log_softmax_forward(y.get(), x.get(), R, C);
    const std::string shape = "R=" + std::to_string(R) + " C=2";
    CudaBenchRecord fwd = memory_record("log_softmax_forward", shape,
                                        median_ms_per_call([&] { cu::log_softmax_forward(dx.get(), x.get(), R, C); }, quick), 8.0 * n,
                                        peak, "launch-bound at these sizes");
    CudaBenchRecord bwd = memory_record(
        "log_softmax_backward", shape,
        median_ms_per_call([&] { cu::log_softmax_backward(dx.get(), GradMode::Overwrite, dy.get(), y.get(), R, C); }, quick), 12.0 * n,
        peak, "launch-bound at these sizes");
#if DEEPCHROME_HAS_CUDNN
    if (dnn) {
      try {
        TensorDesc t(R, C, 1, 1);
        time_reference(
            fwd,
            [&] {
              DC_CUDNN_TRY(cudnnSoftmaxForward(dnn->handle, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE, &one, t.d, x.get(),
                                               &zero, t.d, dx.get()));
            },
            quick);
        time_reference(
            bwd,
            [&] {
              DC_CUDNN_TRY(cudnnSoftmaxBackward(dnn->handle, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE, &one, t.d, y.get(),
                                                t.d, dy.get(), &zero, t.d, dx.get()));
            },
            quick);
      } catch (const std::exception& e) {
        fwd.note += std::string("; cuDNN reference failed: ") + e.what() + clear_handled_cuda_error();
      }
    }
#endif
    out.push_back(fwd);
    out.push_back(bwd);
  }

  // ---- Adam: AttentiveChrome's parameters (one launch per tensor, as Adam::step runs) and
  //      one 16M-element tensor. 28 bytes per element: p, g, m, v read; p, m, v written.
  {
    const std::vector<size_t> shapes = attentivechrome_parameter_sizes();
    size_t total = 0;
    for (size_t s : shapes) total += s;
    std::vector<std::unique_ptr<DeviceFloats>> p, g, m, v;
    for (size_t i = 0; i < shapes.size(); ++i) {
      p.push_back(std::make_unique<DeviceFloats>(shapes[i], 20 + i, -0.1, 0.1));
      g.push_back(std::make_unique<DeviceFloats>(shapes[i], 120 + i, -1e-2, 1e-2));
      m.push_back(std::make_unique<DeviceFloats>(shapes[i], 220 + i, -1e-3, 1e-3));
      v.push_back(std::make_unique<DeviceFloats>(shapes[i], 320 + i, 0.0, 1e-4));
    }
    int64_t step = 1;
    const double ms = median_ms_per_call(
        [&] {
          for (size_t i = 0; i < shapes.size(); ++i)
            cu::adam_update(p[i]->get(), g[i]->get(), m[i]->get(), v[i]->get(), static_cast<int64_t>(shapes[i]), 1e-4f, 0.9f,
                            0.999f, 1e-8f, 0.0f, step);
          ++step;
        },
        quick);
    out.push_back(memory_record("adam_update", "AttentiveChrome: " + std::to_string(shapes.size()) + " tensors, " +
                                                   std::to_string(total) + " floats",
                                ms, 28.0 * total, peak, "one launch per parameter tensor (as Adam::step); launch-bound"));

    // The engine's clipping over the same tensors: one sum of squares per tensor into one
    // device double, then one scale per tensor. max_norm < 1e-6 makes the factor
    // max_norm / (norm + 1e-6) < 1 on every call, so every call scales (the gradients decay
    // towards zero, which changes nothing in the memory traffic).
    double* norm2 = static_cast<double*>(cu::raw_malloc(sizeof(double)));
    const double clip_ms = median_ms_per_call(
        [&] {
          cu::fill_zero(norm2, sizeof(double));
          for (size_t i = 0; i < shapes.size(); ++i) cu::sum_squares_accumulate(norm2, g[i]->get(), static_cast<int64_t>(shapes[i]));
          for (size_t i = 0; i < shapes.size(); ++i) cu::clip_scale(g[i]->get(), static_cast<int64_t>(shapes[i]), norm2, kClipAlways);
        },
        quick);
    cu::raw_free(norm2);
    out.push_back(memory_record("sum_squares+clip_scale", "AttentiveChrome: " + std::to_string(shapes.size()) + " tensors, " +
                                                              std::to_string(total) + " floats",
                                clip_ms, 12.0 * total, peak, "the engine's clip_grad_norm on the device; launch-bound"));
  }
  {
    const size_t n = size_t{1} << 24;
    DeviceFloats p(n, 31, -0.1, 0.1), g(n, 32, -1e-2, 1e-2), m(n, 33, -1e-3, 1e-3), v(n, 34, 0.0, 1e-4);
    int64_t step = 1;
    const double ms = median_ms_per_call(
        [&] {
          cu::adam_update(p.get(), g.get(), m.get(), v.get(), static_cast<int64_t>(n), 1e-4f, 0.9f, 0.999f, 1e-8f, 0.0f, step);
          ++step;
        },
        quick);
    out.push_back(memory_record("adam_update", "n=16777216", ms, 28.0 * n, peak));

    // Sum of squares + clip over one 16M tensor: 4 bytes read for the sum, 8 for the scale.
    double* norm2 = static_cast<double*>(cu::raw_malloc(sizeof(double)));
    const double clip_ms = median_ms_per_call(
        [&] {
          cu::fill_zero(norm2, sizeof(double));
          cu::sum_squares_accumulate(norm2, g.get(), static_cast<int64_t>(n));
          cu::clip_scale(g.get(), static_cast<int64_t>(n), norm2, kClipAlways);
        },
        quick);
    const double sq_ms = median_ms_per_call(
        [&] {
          cu::fill_zero(norm2, sizeof(double));
          cu::sum_squares_accumulate(norm2, g.get(), static_cast<int64_t>(n));
        },
        quick);
    cu::raw_free(norm2);
    out.push_back(memory_record("sum_squares+clip_scale", "n=16777216", clip_ms, 12.0 * n, peak, "max_norm 1e-7: clipping applies on every call"));
    out.push_back(memory_record("sum_squares_accumulate", "n=16777216", sq_ms, 4.0 * n, peak, "deterministic two-pass, double"));

    float* s = static_cast<float*>(cu::raw_malloc(sizeof(float)));
    const double sum_ms = median_ms_per_call([&] { cu::sum_forward(s, p.get(), static_cast<int64_t>(n)); }, quick);
    cu::raw_free(s);
    out.push_back(memory_record("sum_forward", "n=16777216", sum_ms, 4.0 * n, peak, "deterministic two-pass, double"));
  }
#if DEEPCHROME_HAS_CUDNN
  if (!dnn && !out.empty()) out.front().note += "; cuDNN unavailable: " + dnn_error;
#endif
  return out;
}

}  // namespace dc::bench
