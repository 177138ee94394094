// Our memory-bound CUDA kernels next to what the libraries have for the same operation
// (records of bench/record.h, GB/s of the bytes a kernel must move: every input read once,
// every output written once; each record validated before it is timed):
//   relu forward / backward and add vs cudnnActivationForward / Backward and cudnnOpTensor,
//     at 16M elements and at DeepChrome's conv output at batch 64 (64 x 50 x 91);
//   log-softmax forward / backward over DeepChrome's two classes (batch 1 and 64) vs
//     cudnnSoftmaxForward / Backward (CUDNN_SOFTMAX_LOG);
//   the Adam update and gradient-norm clipping (sum of squares into one device double, then
//     the scale), over AttentiveChrome's 56 parameter tensors (one launch per tensor, as the
//     engine runs them) and over one 16M tensor, vs device-to-device copies moving the same
//     bytes (cudaMemcpyAsync through cuda::copy_device): how close to a plain copy they run.
// Ours are validated against the CPU twins (kernels/cpu), cuDNN's results against ours.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench_util.cuh"
#include "kernels/base/error.h"
#include "kernels/contract/elementwise.h"
#include "kernels/contract/loss.h"
#include "kernels/contract/optim.h"

namespace dc::bench {
namespace {

namespace k = dc::kernels;
namespace cu = dc::kernels::cuda;

// AttentiveChrome's parameter tensors (models/attentivechrome.h, default sizes): 5 marks x
// 2 directions of a bi-LSTM(1 -> 32) (w_ih 128x1, w_hh 128x32, b_ih, b_hh 128), the mark
// bi-LSTM(64 -> 16) (w_ih 64x64, w_hh 64x16, b_ih, b_hh 64) x 2 directions, five bin
// contexts (64), the mark context (32), out.weight (32), out.bias (1): 56 tensors, 55681 floats.
std::vector<size_t> attentivechrome_parameter_sizes() {
  std::vector<size_t> s;
  for (int i = 0; i < 10; ++i) s.insert(s.end(), {128, 128 * 32, 128, 128});
  for (int i = 0; i < 2; ++i) s.insert(s.end(), {64 * 64, 64 * 16, 64, 64});
  for (int i = 0; i < 5; ++i) s.push_back(64);
  s.insert(s.end(), {32, 32, 1});
  return s;
}

#if DEEPCHROME_HAS_CUDNN
#pragma nv_diag_suppress 1444  // cuDNN 9 marks the activation descriptor deprecated; it is still the reference
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc(int n, int c, int h, int w) {
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d));
    DC_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  }
  ~TensorDesc() { cudnnDestroyTensorDescriptor(d); }
};

struct ReluDesc {
  cudnnActivationDescriptor_t d = nullptr;
  ReluDesc() {
    DC_CUDNN_CHECK(cudnnCreateActivationDescriptor(&d));
    DC_CUDNN_CHECK(cudnnSetActivationDescriptor(d, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0));
  }
  ~ReluDesc() { cudnnDestroyActivationDescriptor(d); }
};

struct AddDesc {
  cudnnOpTensorDescriptor_t d = nullptr;
  AddDesc() {
    DC_CUDNN_CHECK(cudnnCreateOpTensorDescriptor(&d));
    DC_CUDNN_CHECK(cudnnSetOpTensorDescriptor(d, CUDNN_OP_TENSOR_ADD, CUDNN_DATA_FLOAT, CUDNN_NOT_PROPAGATE_NAN));
  }
  ~AddDesc() { cudnnDestroyOpTensorDescriptor(d); }
};
#endif

// The reference of a record: `call` writes its result into `result` (n floats, on the
// device); it is compared with ours and, when it agrees, timed. Without cuDNN, a note.
struct LibraryCall {
  BenchRecord* record;
  std::function<void()> call;
  const DeviceBuffer* result;
  std::vector<float> ours;
};

void time_library(const std::string& library, std::vector<LibraryCall>& calls, bool quick) {
  for (LibraryCall& c : calls) {
    if (!c.record->valid) continue;
    try {
      c.call();
      const std::string disagrees = library_disagrees(library, "result", c.result->host(c.ours.size()), c.ours);
      if (!disagrees.empty()) {
        add_note(*c.record, disagrees);
        continue;
      }
      c.record->reference_ms = median_ms_per_call(c.call, quick);
      c.record->reference = library == "cuDNN" ? "cudnn" : library;
    } catch (const std::exception& e) {
      add_note(*c.record, library + " reference failed: " + e.what() + clear_handled_cuda_error());
    }
  }
}

// ---- relu, add -----------------------------------------------------------------------------

void activation_records(std::vector<BenchRecord>& out, bool quick) {
  struct Size {
    size_t n;
    int nn, nc, nh, nw;  // the same elements as an NCHW tensor, for cuDNN
    std::string shape;
  };
  const Size sizes[] = {{size_t{1} << 24, 1, 1, 4096, 4096, "n=16777216"},
                        {size_t{64} * 50 * 91, 64, 50, 1, 91, "n=291200 (DeepChrome conv output, B=64)"}};
  const optable::Tolerance relu_tol = optable::op_row("activation").cuda_tol, add_tol = optable::op_row("add").cuda_tol;
  for (const Size& s : sizes) {
    const int64_t n = static_cast<int64_t>(s.n);
    const std::vector<float> hx = uniform_floats(s.n, 1), hb = uniform_floats(s.n, 5), hdy = uniform_floats(s.n, 3);
    const DeviceBuffer x(hx), b(hb), dy(hdy), y(s.n * sizeof(float)), dx(s.n * sizeof(float)), out_add(s.n * sizeof(float)),
        ref(s.n * sizeof(float));
    BenchRecord fwd = cuda_record("relu", s.shape, "forward", 0, 8.0 * s.n),
                bwd = cuda_record("relu", s.shape, "backward", 0, 12.0 * s.n),
                add = cuda_record("add", s.shape, "forward", 0, 12.0 * s.n);
    add_note(bwd, "reads dy and the saved output y; cuDNN's backward also reads x");
    auto our_fwd = [&] { cu::activation_forward(y.f(), x.f(), n, k::Activation::Relu); };
    auto our_bwd = [&] { cu::activation_backward({dx.f(), GradMode::Overwrite}, dy.f(), y.f(), n, k::Activation::Relu); };
    auto our_add = [&] { cu::binary_forward(out_add.f(), x.f(), b.f(), n, k::Binary::Add); };
    our_fwd();
    our_bwd();
    our_add();
    std::vector<float> cy(s.n), cdx(s.n), cadd(s.n);
    k::cpu::activation_forward(cy.data(), hx.data(), n, k::Activation::Relu);
    k::cpu::activation_backward({cdx.data(), GradMode::Overwrite}, hdy.data(), cy.data(), n, k::Activation::Relu);
    k::cpu::binary_forward(cadd.data(), hx.data(), hb.data(), n, k::Binary::Add);
    const std::vector<float> y_ours = y.host(s.n), dx_ours = dx.host(s.n), add_ours = out_add.host(s.n);
    Validation vf("the CPU twin (kernels/cpu)"), vb = vf, va = vf;
    vf.check("y", y_ours, cy, relu_tol);
    vb.check("dx", dx_ours, cdx, relu_tol);
    va.check("y", add_ours, cadd, add_tol);
    if (vf.apply(fwd)) fwd.ms = median_ms_per_call(our_fwd, quick);
    if (vb.apply(bwd)) bwd.ms = median_ms_per_call(our_bwd, quick);
    if (va.apply(add)) add.ms = median_ms_per_call(our_add, quick);
#if DEEPCHROME_HAS_CUDNN
    std::string why;
    cudnnHandle_t h = cudnn_handle(&why);
    try {
      if (!h) throw Error("cuDNN unavailable: " + why);
      const TensorDesc t(s.nn, s.nc, s.nh, s.nw);
      const ReluDesc relu;
      const AddDesc op;
      const float one = 1.0f, zero = 0.0f;
      std::vector<LibraryCall> calls = {
          {&fwd, [&] { DC_CUDNN_CHECK(cudnnActivationForward(h, relu.d, &one, t.d, x.f(), &zero, t.d, ref.f())); }, &ref, y_ours},
          {&bwd,
           [&] {
             DC_CUDNN_CHECK(cudnnActivationBackward(h, relu.d, &one, t.d, y.f(), t.d, dy.f(), t.d, x.f(), &zero, t.d, ref.f()));
           },
           &ref, dx_ours},
          {&add, [&] { DC_CUDNN_CHECK(cudnnOpTensor(h, op.d, &one, t.d, x.f(), &one, t.d, b.f(), &zero, t.d, ref.f())); }, &ref,
           add_ours},
      };
      time_library("cuDNN", calls, quick);
    } catch (const Error& e) {
      add_note(fwd, std::string("cuDNN reference failed: ") + e.what() + clear_handled_cuda_error());
    }
#else
    for (BenchRecord* r : {&fwd, &bwd, &add}) add_note(*r, "built without cuDNN: no reference");
#endif
    out.push_back(fwd);
    out.push_back(bwd);
    out.push_back(add);
  }
}

// ---- log-softmax ----------------------------------------------------------------------------

void log_softmax_records(std::vector<BenchRecord>& out, bool quick) {
  const optable::Tolerance tol = optable::op_row("log_softmax").cuda_tol;
  for (int R : {1, 64}) {
    const int C = 2;
    const size_t n = static_cast<size_t>(R) * C;
    const std::vector<float> hx = uniform_floats(n, 11, -3.0, 3.0), hdy = uniform_floats(n, 13);
    const DeviceBuffer x(hx), dy(hdy), y(n * sizeof(float)), dx(n * sizeof(float)), ref(n * sizeof(float));
    const std::string shape = "R=" + std::to_string(R) + " C=2";
    BenchRecord fwd = cuda_record("log_softmax", shape, "forward", 0, 8.0 * n),
                bwd = cuda_record("log_softmax", shape, "backward", 0, 12.0 * n);
    add_note(fwd, "launch-bound at these sizes");
    add_note(bwd, "launch-bound at these sizes");
    auto our_fwd = [&] { cu::log_softmax_forward(y.f(), x.f(), R, C); };
    auto our_bwd = [&] { cu::log_softmax_backward({dx.f(), GradMode::Overwrite}, dy.f(), y.f(), R, C); };
    our_fwd();
    our_bwd();
    std::vector<float> cy(n), cdx(n);
    k::cpu::log_softmax_forward(cy.data(), hx.data(), R, C);
    k::cpu::log_softmax_backward({cdx.data(), GradMode::Overwrite}, hdy.data(), cy.data(), R, C);
    const std::vector<float> y_ours = y.host(n), dx_ours = dx.host(n);
    Validation vf("the CPU twin (kernels/cpu)"), vb = vf;
    vf.check("y", y_ours, cy, tol);
    vb.check("dx", dx_ours, cdx, tol);
    if (vf.apply(fwd)) fwd.ms = median_ms_per_call(our_fwd, quick);
    if (vb.apply(bwd)) bwd.ms = median_ms_per_call(our_bwd, quick);
#if DEEPCHROME_HAS_CUDNN
    std::string why;
    cudnnHandle_t h = cudnn_handle(&why);
    try {
      if (!h) throw Error("cuDNN unavailable: " + why);
      const TensorDesc t(R, C, 1, 1);
      const float one = 1.0f, zero = 0.0f;
      std::vector<LibraryCall> calls = {
          {&fwd,
           [&] {
             DC_CUDNN_CHECK(cudnnSoftmaxForward(h, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE, &one, t.d, x.f(), &zero, t.d,
                                                ref.f()));
           },
           &ref, y_ours},
          {&bwd,
           [&] {
             DC_CUDNN_CHECK(cudnnSoftmaxBackward(h, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE, &one, t.d, y.f(), t.d, dy.f(),
                                                 &zero, t.d, ref.f()));
           },
           &ref, dx_ours},
      };
      time_library("cuDNN", calls, quick);
    } catch (const Error& e) {
      add_note(fwd, std::string("cuDNN reference failed: ") + e.what() + clear_handled_cuda_error());
    }
#else
    for (BenchRecord* r : {&fwd, &bwd}) add_note(*r, "built without cuDNN: no reference");
#endif
    out.push_back(fwd);
    out.push_back(bwd);
  }
}

// ---- the optimizer kernels -------------------------------------------------------------------

// A set of parameter tensors with their gradients and Adam moments, on the device and (for
// the validation) on the host.
struct ParamSet {
  std::vector<size_t> sizes;
  std::vector<std::vector<float>> hp, hg, hm, hv;
  std::vector<std::unique_ptr<DeviceBuffer>> p, g, m, v, copy_src, copy_dst;
  size_t total = 0;

  explicit ParamSet(std::vector<size_t> s) : sizes(std::move(s)) {
    for (size_t i = 0; i < sizes.size(); ++i) {
      hp.push_back(uniform_floats(sizes[i], 20 + i, -0.1, 0.1));
      hg.push_back(uniform_floats(sizes[i], 120 + i, -1e-2, 1e-2));
      hm.push_back(uniform_floats(sizes[i], 220 + i, -1e-3, 1e-3));
      hv.push_back(uniform_floats(sizes[i], 320 + i, 0.0, 1e-4));
      p.push_back(std::make_unique<DeviceBuffer>(hp.back()));
      g.push_back(std::make_unique<DeviceBuffer>(hg.back()));
      m.push_back(std::make_unique<DeviceBuffer>(hm.back()));
      v.push_back(std::make_unique<DeviceBuffer>(hv.back()));
      // 7 floats per element: the 28 bytes Adam moves (p, g, m, v read; p, m, v written) as a copy of 14.
      copy_src.push_back(std::make_unique<DeviceBuffer>(sizes[i] * 7 * sizeof(float)));
      copy_dst.push_back(std::make_unique<DeviceBuffer>(sizes[i] * 7 * sizeof(float)));
      total += sizes[i];
    }
  }
  // One copy per tensor moving `floats_per_element` floats per element in all (read + write).
  void copies(size_t floats_per_element) const {
    for (size_t i = 0; i < sizes.size(); ++i)
      cu::copy_device(copy_dst[i]->get(), copy_src[i]->get(), sizes[i] * floats_per_element / 2 * sizeof(float));
  }
};

void optimizer_records(std::vector<BenchRecord>& out, bool quick) {
  constexpr float kLr = 1e-4f, kB1 = 0.9f, kB2 = 0.999f, kEps = 1e-8f;
  // The CPU twins evaluate the same formulas in the same order; a few ulps allowed for a host
  // compiler that fuses multiply-adds.
  constexpr optable::Tolerance kUpdateTol{1e-7, 2e-6};
  const std::vector<size_t> attentive = attentivechrome_parameter_sizes();
  struct Set {
    std::vector<size_t> sizes;
    std::string shape, note;
  };
  size_t attentive_total = 0;
  for (size_t s : attentive) attentive_total += s;
  const Set sets[] = {{attentive, "AttentiveChrome: " + std::to_string(attentive.size()) + " tensors, " + std::to_string(attentive_total) + " floats",
                       "one launch per parameter tensor (as the engine runs it): launch-bound"},
                      {{size_t{1} << 24}, "n=16777216", ""}};
  for (const Set& set : sets) {
    ParamSet ps(set.sizes);
    // ---- Adam: one step validated against the CPU twin, then timed (the step count grows).
    BenchRecord adam = cuda_record("adam_update", set.shape, "call", 0, 28.0 * static_cast<double>(ps.total));
    add_note(adam, set.note);
    int64_t step = 1;
    auto our_adam = [&] {
      for (size_t i = 0; i < ps.sizes.size(); ++i)
        cu::adam_update(ps.p[i]->f(), ps.g[i]->f(), ps.m[i]->f(), ps.v[i]->f(), static_cast<int64_t>(ps.sizes[i]), kLr, kB1, kB2,
                        kEps, 0.0f, step);
      ++step;
    };
    our_adam();
    Validation va("the CPU twin (kernels/cpu), one step");
    for (size_t i = 0; i < ps.sizes.size(); ++i) {
      std::vector<float> p = ps.hp[i], m = ps.hm[i], v = ps.hv[i];
      k::cpu::adam_update(p.data(), ps.hg[i].data(), m.data(), v.data(), static_cast<int64_t>(ps.sizes[i]), kLr, kB1, kB2, kEps, 0.0f,
                          1);
      va.check("p", ps.p[i]->host(ps.sizes[i]), p, kUpdateTol);
      va.check("m", ps.m[i]->host(ps.sizes[i]), m, kUpdateTol);
      va.check("v", ps.v[i]->host(ps.sizes[i]), v, kUpdateTol);
    }
    if (va.apply(adam)) {
      adam.ms = median_ms_per_call(our_adam, quick);
      adam.reference = "cudaMemcpy";
      adam.reference_ms = median_ms_per_call([&] { ps.copies(7); }, quick);
      add_note(adam, "reference: device-to-device copies moving the same 28 bytes per element, one per tensor");
    }
    out.push_back(adam);

    // ---- clipping: the sum of squares of every gradient into one device double, then the
    // scale of each (max_norm below 1e-6: every call scales; the gradients decaying towards
    // zero changes nothing in the memory traffic). 12 bytes per element.
    BenchRecord clip = cuda_record("clip_grad_norm", set.shape, "call", 0, 12.0 * static_cast<double>(ps.total));
    add_note(clip, "sum_squares_accumulate + clip_scale per tensor, the norm never leaving the device");
    const double max_norm = 1e-7;
    const DeviceBuffer norm2(sizeof(double));
    double* d_norm2 = static_cast<double*>(norm2.get());
    std::vector<std::unique_ptr<DeviceBuffer>> grads;
    for (size_t i = 0; i < ps.sizes.size(); ++i) grads.push_back(std::make_unique<DeviceBuffer>(ps.hg[i]));
    auto our_clip = [&] {
      cu::fill_zero(d_norm2, sizeof(double));
      for (size_t i = 0; i < ps.sizes.size(); ++i) cu::sum_squares_accumulate(d_norm2, grads[i]->f(), static_cast<int64_t>(ps.sizes[i]));
      for (size_t i = 0; i < ps.sizes.size(); ++i) cu::clip_scale(grads[i]->f(), static_cast<int64_t>(ps.sizes[i]), d_norm2, max_norm);
    };
    our_clip();
    double norm2_ours = 0;
    cu::copy_to_host(&norm2_ours, d_norm2, sizeof(double));
    double norm2_cpu = 0;
    for (size_t i = 0; i < ps.sizes.size(); ++i)
      k::cpu::sum_squares_accumulate(&norm2_cpu, ps.hg[i].data(), static_cast<int64_t>(ps.sizes[i]));
    Validation vc("the CPU twin (kernels/cpu)");
    vc.check("sum of squares", std::vector<double>{norm2_ours}, std::vector<double>{norm2_cpu}, optable::Tolerance{0, 1e-10});
    for (size_t i = 0; i < ps.sizes.size(); ++i) {
      std::vector<float> g = ps.hg[i];
      k::cpu::clip_scale(g.data(), static_cast<int64_t>(g.size()), &norm2_ours, max_norm);
      vc.check("clipped gradient", grads[i]->host(ps.sizes[i]), g, optable::Tolerance{0, 0});
    }
    if (vc.apply(clip)) {
      clip.ms = median_ms_per_call(our_clip, quick);
      clip.reference = "cudaMemcpy";
      clip.reference_ms = median_ms_per_call([&] { ps.copies(3); }, quick);
      add_note(clip, "reference: device-to-device copies moving the same 12 bytes per element, one per tensor");
    }
    out.push_back(clip);
  }
}

}  // namespace

void pointwise_vs_libraries(std::vector<BenchRecord>& out, bool quick) {
  activation_records(out, quick);
  log_softmax_records(out, quick);
  optimizer_records(out, quick);
}

}  // namespace dc::bench
