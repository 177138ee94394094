// CUDA benchmarks of the LSTM and attention-pooling kernels (kernels/cuda/lstm.h,
// kernels/cuda/attention.h), the LSTM next to cuDNN's RNN on the same inputs and weights.
//
// Times: bench/cuda_bench_util.cuh's median_ms_per_call (CUDA events around back-to-back
// calls on the process stream, median of the samples after a warm-up). LSTM FLOPs count the gate products only, 2 * 4H * (I + H) per sequence step
// and direction for the forward pass and twice that for the backward (as the CPU
// benchmarks); attention reports the bytes it must move (h read once, alpha, pooled, dh).
//
// cuDNN: the v8 RNN API of cuDNN 9 (cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8), a bidirectional single-layer LSTM, FP32 with FMA math (no
// TF32), batch-major data like ours. cuDNN has no "G independent LSTMs" operation, so the
// bin level (5 marks with their own weights) is 5 cuDNN calls, one per mark, on the same
// stream. Both the standard and the persistent-static algorithms are tried; the faster
// one is the reference and the note says which. cuDNN is given our weights (through
// cudnnGetRNNWeightParams), and the note gives the largest difference between its outputs
// and ours, and between ours and the CPU kernels.
#include <cuda_runtime.h>
#if DEEPCHROME_HAS_CUDNN
#include <cudnn.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench.h"
#include "bench/cuda_bench_util.cuh"
#include "bench/timing.h"
#include "kernels/base/error.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/lstm.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/lstm.h"

namespace dc::bench {
namespace {

namespace cu = dc::kernels::cuda;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

#if DEEPCHROME_HAS_CUDNN

#define DC_CUDNN_CHECK(expr)                                                                                     \
  do {                                                                                                           \
    const cudnnStatus_t dc_st_ = (expr);                                                                         \
    if (dc_st_ != CUDNN_STATUS_SUCCESS)                                                                          \
      throw ::dc::Error(std::string("cuDNN error: ") + cudnnGetErrorString(dc_st_) + " in " #expr " at " __FILE__ \
                        ":" + std::to_string(__LINE__));                                                         \
  } while (0)

cudnnHandle_t cudnn_handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t handle = nullptr;
    DC_CUDNN_CHECK(cudnnCreate(&handle));
    DC_CUDNN_CHECK(cudnnSetStream(handle, cu::current_stream()));
    return handle;
  }();
  return h;
}

// G independent bidirectional LSTMs as G cuDNN calls (each group its own weight space and
// reserve space), on our data layout: x (G, B, T, I), y / dy (G, B, T, 2H).
class CudnnLstm {
 public:
  CudnnLstm(cpu::LstmShape s, cudnnRNNAlgo_t algo) : s_(s) {
    cudnnHandle_t h = cudnn_handle();
    DC_CUDNN_CHECK(cudnnCreateRNNDescriptor(&rnn_));
    DC_CUDNN_CHECK(cudnnCreateDropoutDescriptor(&drop_));
    size_t states = 0;
    DC_CUDNN_CHECK(cudnnDropoutGetStatesSize(h, &states));
    drop_states_ = std::make_unique<DeviceBuffer>(std::max<size_t>(states, 4));
    DC_CUDNN_CHECK(cudnnSetDropoutDescriptor(drop_, h, 0.0f, drop_states_->get(), states, 0));
    DC_CUDNN_CHECK(cudnnSetRNNDescriptor_v8(rnn_, algo, CUDNN_LSTM, CUDNN_RNN_DOUBLE_BIAS,
                                            s.D == 2 ? CUDNN_BIDIRECTIONAL : CUDNN_UNIDIRECTIONAL, CUDNN_LINEAR_INPUT,
                                            CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT, CUDNN_FMA_MATH, s.I, s.H, s.H, 1, drop_,
                                            CUDNN_RNN_PADDED_IO_ENABLED));
    const std::vector<int> lengths(static_cast<size_t>(s.B), s.T);
    float pad = 0.0f;
    DC_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&x_desc_));
    DC_CUDNN_CHECK(cudnnCreateRNNDataDescriptor(&y_desc_));
    DC_CUDNN_CHECK(cudnnSetRNNDataDescriptor(x_desc_, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, s.T, s.B,
                                             s.I, lengths.data(), &pad));
    DC_CUDNN_CHECK(cudnnSetRNNDataDescriptor(y_desc_, CUDNN_DATA_FLOAT, CUDNN_RNN_DATA_LAYOUT_BATCH_MAJOR_UNPACKED, s.T, s.B,
                                             s.D * s.H, lengths.data(), &pad));
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&h_desc_));
    const int dims[3] = {s.D, s.B, s.H}, strides[3] = {s.B * s.H, s.H, 1};
    DC_CUDNN_CHECK(cudnnSetTensorNdDescriptor(h_desc_, CUDNN_DATA_FLOAT, 3, dims, strides));
    seq_ = std::make_unique<DeviceBuffer>(static_cast<size_t>(s.B) * sizeof(int32_t));
    const std::vector<int32_t> lens32(static_cast<size_t>(s.B), s.T);
    cu::copy_to_device(seq_->get(), lens32.data(), lens32.size() * sizeof(int32_t));
    DC_CUDNN_CHECK(cudnnGetRNNWeightSpaceSize(h, rnn_, &wsize_));
    DC_CUDNN_CHECK(cudnnGetRNNTempSpaceSizes(h, rnn_, CUDNN_FWD_MODE_TRAINING, x_desc_, &work_size_, &reserve_size_));
    work_ = std::make_unique<DeviceBuffer>(std::max<size_t>(work_size_, 4));
    for (int g = 0; g < s.G; ++g) {
      weights_.push_back(std::make_unique<DeviceBuffer>(std::max<size_t>(wsize_, 4)));
      dweights_.push_back(std::make_unique<DeviceBuffer>(std::max<size_t>(wsize_, 4)));
      reserve_.push_back(std::make_unique<DeviceBuffer>(std::max<size_t>(reserve_size_, 4)));
    }
  }
  ~CudnnLstm() {
    cudnnDestroyTensorDescriptor(h_desc_);
    cudnnDestroyRNNDataDescriptor(x_desc_);
    cudnnDestroyRNNDataDescriptor(y_desc_);
    cudnnDestroyRNNDescriptor(rnn_);
    cudnnDestroyDropoutDescriptor(drop_);
  }
  CudnnLstm(const CudnnLstm&) = delete;
  CudnnLstm& operator=(const CudnnLstm&) = delete;

  // Copies our weights (device pointers, pair p = g*D + d) into each group's weight space:
  // cuDNN's linear layers 0-3 are the input matrices of gates i, f, g, o (torch's order),
  // 4-7 the recurrent ones; pseudo-layer d is direction d.
  void set_weights(const cpu::LstmParams<float>& w) {
    cudnnHandle_t h = cudnn_handle();
    cudnnTensorDescriptor_t m_desc = nullptr, b_desc = nullptr;
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&m_desc));
    DC_CUDNN_CHECK(cudnnCreateTensorDescriptor(&b_desc));
    const size_t H = static_cast<size_t>(s_.H), I = static_cast<size_t>(s_.I);
    for (int g = 0; g < s_.G; ++g)
      for (int d = 0; d < s_.D; ++d) {
        const int p = g * s_.D + d;
        for (int lin = 0; lin < 8; ++lin) {
          void* m_addr = nullptr;
          void* b_addr = nullptr;
          DC_CUDNN_CHECK(cudnnGetRNNWeightParams(h, rnn_, d, wsize_, weights_[g]->get(), lin, m_desc, &m_addr, b_desc, &b_addr));
          const int q = lin % 4;
          const float* m_src = lin < 4 ? w.w_ih[p] + q * H * I : w.w_hh[p] + q * H * H;
          const float* b_src = lin < 4 ? w.b_ih[p] + q * H : w.b_hh[p] + q * H;
          if (m_addr) cu::copy_device(m_addr, m_src, H * (lin < 4 ? I : H) * sizeof(float));
          if (b_addr) cu::copy_device(b_addr, b_src, H * sizeof(float));
        }
      }
    cudnnDestroyTensorDescriptor(m_desc);
    cudnnDestroyTensorDescriptor(b_desc);
  }

  void forward(const float* x, float* y) {
    for (int g = 0; g < s_.G; ++g)
      DC_CUDNN_CHECK(cudnnRNNForward(cudnn_handle(), rnn_, CUDNN_FWD_MODE_TRAINING, static_cast<const int32_t*>(seq_->get()),
                                     x_desc_, x + x_off(g), y_desc_, y + y_off(g), h_desc_, nullptr, nullptr, h_desc_, nullptr,
                                     nullptr, wsize_, weights_[g]->get(), work_size_, work_->get(), reserve_size_,
                                     reserve_[g]->get()));
  }

  // After forward(): dx and the weight gradients (zeroed first: cuDNN only adds).
  void backward(const float* x, const float* y, const float* dy, float* dx) {
    for (int g = 0; g < s_.G; ++g) {
      DC_CUDNN_CHECK(cudnnRNNBackwardData_v8(cudnn_handle(), rnn_, static_cast<const int32_t*>(seq_->get()), y_desc_, y + y_off(g),
                                             dy + y_off(g), x_desc_, dx + x_off(g), h_desc_, nullptr, nullptr, nullptr,
                                             h_desc_, nullptr, nullptr, nullptr, wsize_, weights_[g]->get(), work_size_,
                                             work_->get(), reserve_size_, reserve_[g]->get()));
      cu::fill_zero(dweights_[g]->get(), wsize_);
      DC_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(cudnn_handle(), rnn_, CUDNN_WGRAD_MODE_ADD,
                                                static_cast<const int32_t*>(seq_->get()), x_desc_, x + x_off(g), h_desc_,
                                                nullptr, y_desc_, y + y_off(g), wsize_, dweights_[g]->get(), work_size_,
                                                work_->get(), reserve_size_, reserve_[g]->get()));
    }
  }

 private:
  size_t x_off(int g) const { return static_cast<size_t>(g) * s_.B * s_.T * s_.I; }
  size_t y_off(int g) const { return static_cast<size_t>(g) * s_.B * s_.T * s_.D * s_.H; }

  cpu::LstmShape s_;
  cudnnRNNDescriptor_t rnn_ = nullptr;
  cudnnDropoutDescriptor_t drop_ = nullptr;
  cudnnRNNDataDescriptor_t x_desc_ = nullptr, y_desc_ = nullptr;
  cudnnTensorDescriptor_t h_desc_ = nullptr;
  size_t wsize_ = 0, work_size_ = 0, reserve_size_ = 0;
  std::unique_ptr<DeviceBuffer> drop_states_, seq_, work_;
  std::vector<std::unique_ptr<DeviceBuffer>> weights_, dweights_, reserve_;
};

#endif  // DEEPCHROME_HAS_CUDNN

// Bin-level or mark-level LSTM: forward and forward + backward, ours and cuDNN's.
void lstm_records(std::vector<CudaBenchRecord>& out, const std::string& level, cpu::LstmShape s, bool quick, double peak_gflops) {
  const int G4 = 4 * s.H, P = s.P();
  const int64_t BT = s.BT();
  const size_t nx = static_cast<size_t>(s.G) * BT * s.I, ny = static_cast<size_t>(s.G) * BT * s.D * s.H;
  // AttentiveChrome's init U(-0.1, 0.1); inputs like log counts.
  const auto hx = uniform_floats(nx, 1, 0.0, 3.0);
  const auto hw_ih = uniform_floats(static_cast<size_t>(P) * G4 * s.I, 2, -0.1, 0.1);
  const auto hw_hh = uniform_floats(static_cast<size_t>(P) * G4 * s.H, 3, -0.1, 0.1);
  const auto hb = uniform_floats(static_cast<size_t>(P) * G4 * 2, 4, -0.1, 0.1);
  const auto hdy = uniform_floats(ny, 5, -1.0, 1.0);
  const DeviceBuffer x(hx), w_ih(hw_ih), w_hh(hw_hh), b(hb), dy(hdy);
  const DeviceBuffer y(ny * sizeof(float)), ws(static_cast<size_t>(cpu::lstm_workspace_size(s)) * sizeof(float));
  const DeviceBuffer dx(nx * sizeof(float)), dw_ih(hw_ih.size() * sizeof(float)), dw_hh(hw_hh.size() * sizeof(float)),
      db(hb.size() * sizeof(float));
  cpu::LstmParams<float> w, hw;
  cpu::LstmParamGrads<float> g;
  for (int p = 0; p < P; ++p) {
    const size_t oi = static_cast<size_t>(p) * G4 * s.I, oh = static_cast<size_t>(p) * G4 * s.H, ob = static_cast<size_t>(p) * G4,
                 ob2 = static_cast<size_t>(P + p) * G4;
    w.w_ih.push_back(w_ih.f() + oi);
    w.w_hh.push_back(w_hh.f() + oh);
    w.b_ih.push_back(b.f() + ob);
    w.b_hh.push_back(b.f() + ob2);
    hw.w_ih.push_back(hw_ih.data() + oi);
    hw.w_hh.push_back(hw_hh.data() + oh);
    hw.b_ih.push_back(hb.data() + ob);
    hw.b_hh.push_back(hb.data() + ob2);
    g.w_ih.push_back({dw_ih.f() + oi, GradMode::Overwrite});
    g.w_hh.push_back({dw_hh.f() + oh, GradMode::Overwrite});
    g.b_ih.push_back({db.f() + ob, GradMode::Overwrite});
    g.b_hh.push_back({db.f() + ob2, GradMode::Overwrite});
  }
  auto fwd = [&] { cu::lstm_forward(y.f(), ws.f(), x.f(), w, s); };
  auto fwd_bwd = [&] {
    cu::lstm_forward(y.f(), ws.f(), x.f(), w, s);
    cu::lstm_backward(dx.f(), GradMode::Overwrite, g, dy.f(), x.f(), y.f(), w, ws.f(), s);
  };

  // Check before timing: our forward against the CPU kernels.
  fwd();
  const std::vector<float> ours = y.host(ny);
  std::vector<float> cpu_y(ny);
  cpu::lstm_forward(cpu_y.data(), nullptr, hx.data(), hw, s);
  std::string check = "max |y - y_cpu| " + fmt("%.1e", max_abs_diff(ours, cpu_y));

  const double t_fwd = median_ms_per_call(fwd, quick);
  const double t_fb = median_ms_per_call(fwd_bwd, quick);

  double ref_fwd = 0, ref_fb = 0;
  std::string ref_note;
#if DEEPCHROME_HAS_CUDNN
  {
    const DeviceBuffer y_ref(ny * sizeof(float)), dx_ref(nx * sizeof(float));
    struct Algo {
      cudnnRNNAlgo_t algo;
      const char* name;
    };
    std::string best;
    for (const Algo a : {Algo{CUDNN_RNN_ALGO_STANDARD, "standard"}, Algo{CUDNN_RNN_ALGO_PERSIST_STATIC, "persist_static"}}) {
      try {
        CudnnLstm c(s, a.algo);
        c.set_weights(w);
        c.forward(x.f(), y_ref.f());
        const double diff = max_abs_diff(y_ref.host(ny), ours);
        const double tf = median_ms_per_call([&] { c.forward(x.f(), y_ref.f()); }, quick);
        const double tfb = median_ms_per_call(
            [&] {
              c.forward(x.f(), y_ref.f());
              c.backward(x.f(), y_ref.f(), dy.f(), dx_ref.f());
            },
            quick);
        if (ref_fb == 0 || tfb < ref_fb) {
          ref_fwd = tf;
          ref_fb = tfb;
          best = a.name;
        }
        ref_note += std::string(ref_note.empty() ? "" : "; ") + "cuDNN " + a.name + ": fwd " + fmt("%.3f", tf) + " ms, fwd+bwd " +
                    fmt("%.3f", tfb) + " ms, max |y - y_ours| " + fmt("%.1e", diff);
      } catch (const Error& e) {
        ref_note += std::string(ref_note.empty() ? "" : "; ") + "cuDNN " + a.name + " unavailable (" + e.what() + ")" +
                    clear_handled_cuda_error();
      }
    }
    cu::synchronize();
    if (!best.empty()) ref_note = "reference = cuDNN " + best + " (the faster); " + ref_note;
    if (s.G > 1) ref_note += "; cuDNN runs " + std::to_string(s.G) + " calls, one per mark (no grouped LSTM in cuDNN)";
  }
#else
  ref_note = "built without cuDNN";
#endif

  const double f = 2.0 * G4 * (s.I + s.H) * P * static_cast<double>(BT);
  const std::string shape = level + ": G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) +
                            " I=" + std::to_string(s.I) + " H=" + std::to_string(s.H) + (s.D == 2 ? " bidirectional" : "");
  auto record = [&](const char* kernel, double ms, double flops, double rms) {
    CudaBenchRecord rec;
    rec.kernel = kernel;
    rec.shape = shape;
    rec.ms = ms;
    rec.gflops = flops / (ms * 1e-3) / 1e9;
    rec.peak_fraction = peak_gflops > 0 ? rec.gflops / peak_gflops : 0;
    rec.reference = rms > 0 ? "cudnn" : "";
    rec.reference_ms = rms;
    rec.note = check + "; " + ref_note;
    out.push_back(rec);
  };
  record("lstm_forward", t_fwd, f, ref_fwd);
  record("lstm_fwd_bwd", t_fb, 3 * f, ref_fb);
}

// Attention pooling forward and backward (dh and dctx), GB/s of the bytes each must move.
void attention_records(std::vector<CudaBenchRecord>& out, const std::string& level, cpu::AttentionShape s, bool quick,
                       double peak_gbs) {
  const size_t nh = static_cast<size_t>(s.rows()) * s.T * s.F, np = static_cast<size_t>(s.rows()) * s.F,
               na = static_cast<size_t>(s.rows()) * s.T, nc = static_cast<size_t>(s.G) * s.F;
  const auto hh = uniform_floats(nh, 11, -1.0, 1.0), hc = uniform_floats(nc, 12, -2.0, 2.0), hdp = uniform_floats(np, 13);
  const DeviceBuffer h(hh), ctx(hc), dp(hdp), pooled(np * sizeof(float)), alpha(na * sizeof(float)),
      dh(nh * sizeof(float)), dctx(nc * sizeof(float));
  std::vector<const float*> cp;
  std::vector<float*> dcp;
  std::vector<const float*> hcp;
  for (int g = 0; g < s.G; ++g) {
    cp.push_back(ctx.f() + static_cast<size_t>(g) * s.F);
    dcp.push_back(dctx.f() + static_cast<size_t>(g) * s.F);
    hcp.push_back(hc.data() + static_cast<size_t>(g) * s.F);
  }
  const std::vector<GradMode> modes(static_cast<size_t>(s.G), GradMode::Overwrite);
  auto fwd = [&] { cu::attention_forward(pooled.f(), alpha.f(), h.f(), cp.data(), s); };
  auto bwd = [&] {
    cu::attention_backward(dh.f(), GradMode::Overwrite, dcp.data(), modes.data(), dp.f(), h.f(), alpha.f(), cp.data(), s);
  };
  fwd();
  std::vector<float> cpu_pooled(np), cpu_alpha(na);
  cpu::attention_forward(cpu_pooled.data(), cpu_alpha.data(), hh.data(), hcp.data(), s);
  const std::string check = "max |pooled - pooled_cpu| " + fmt("%.1e", max_abs_diff(pooled.host(np), cpu_pooled));
  const double t_fwd = median_ms_per_call(fwd, quick);
  const double t_bwd = median_ms_per_call(bwd, quick);
  const std::string shape = level + ": G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) +
                            " F=" + std::to_string(s.F);
  auto record = [&](const char* kernel, double ms, double bytes, const std::string& note) {
    CudaBenchRecord rec;
    rec.kernel = kernel;
    rec.shape = shape;
    rec.ms = ms;
    rec.gbs = bytes / (ms * 1e-3) / 1e9;
    rec.peak_fraction = peak_gbs > 0 ? rec.gbs / peak_gbs : 0;
    rec.note = note;
    out.push_back(rec);
  };
  const double f4 = sizeof(float);
  record("attention_forward", t_fwd, f4 * (nh + na + np + nc), check + "; bytes: h, alpha, pooled, ctx once each");
  record("attention_backward", t_bwd, f4 * (2.0 * nh + na + 3.0 * np + nc),
         "bytes: h, alpha, dpooled read, dh written, per-row dctx partials written and read, dctx; no library has this op");
}

}  // namespace

std::vector<CudaBenchRecord> cuda_rnn_benchmarks(bool quick) {
  std::vector<CudaBenchRecord> out;
  const cu::DeviceInfo info = cu::device_info();
  const double peak_gflops = info.peak_fp32_tflops * 1e3, peak_gbs = info.peak_bandwidth_gbs;
  for (int B : {16, 256}) lstm_records(out, "bin level", {5, B, 100, 1, 32, 2}, quick, peak_gflops);
  for (int B : {16, 256}) lstm_records(out, "mark level", {1, B, 5, 64, 16, 2}, quick, peak_gflops);
  for (int B : {16, 256}) attention_records(out, "bin level", {5, B, 100, 64}, quick, peak_gbs);
  attention_records(out, "mark level", {1, 256, 5, 32}, quick, peak_gbs);
  return out;
}

}  // namespace dc::bench
