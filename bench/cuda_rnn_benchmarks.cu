// Our CUDA LSTM (kernels/cuda/lstm.h) next to cuDNN's RNN on the same inputs and weights, at
// AttentiveChrome's bin level (5 marks with their own weights, I = 1, H = 32, T = 100) and
// mark level (I = 64, H = 16, T = 5), batches 16 and 256: forward, and forward + backward.
// Records of bench/record.h, each validated before it is timed: ours against the CPU twin
// (kernels/cpu: y, dx and every weight gradient, under the lstm row's cuda_tol), cuDNN's y
// and dx against ours (a cuDNN that disagrees is not used as the reference).
//
// Times: bench/cuda_bench_util.cuh's median_ms_per_call. FLOPs count the gate products
// only, 2 * 4H * (I + H) per sequence step and direction for the forward pass and three
// times that for forward + backward.
//
// cuDNN: the v8 RNN API of cuDNN 9 (cudnnRNNForward, cudnnRNNBackwardData_v8,
// cudnnRNNBackwardWeights_v8), a bidirectional single-layer LSTM, FP32 with FMA math (no
// TF32), batch-major data like ours. cuDNN has no "G independent LSTMs" operation, so the
// bin level is 5 cuDNN calls, one per mark, on the same stream. Both the standard and the
// persistent-static algorithms are tried; the faster one is the reference and the note
// says which.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bench/cuda_bench_util.cuh"
#include "kernels/base/error.h"
#include "kernels/contract/lstm.h"
#include "kernels/cuda/lstm.h"

namespace dc::bench {
namespace {

namespace k = dc::kernels;
namespace cu = dc::kernels::cuda;

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, v);
  return buf;
}

#if DEEPCHROME_HAS_CUDNN

// G independent bidirectional LSTMs as G cuDNN calls (each group its own weight space and
// reserve space), on our data layout: x (G, B, T, I), y / dy (G, B, T, 2H).
class CudnnLstm {
 public:
  CudnnLstm(cudnnHandle_t handle, k::LstmShape s, cudnnRNNAlgo_t algo) : h_(handle), s_(s) {
    cudnnHandle_t h = h_;
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
  void set_weights(const k::LstmParams<float>& w) {
    cudnnHandle_t h = h_;
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
      DC_CUDNN_CHECK(cudnnRNNForward(h_, rnn_, CUDNN_FWD_MODE_TRAINING, static_cast<const int32_t*>(seq_->get()),
                                     x_desc_, x + x_off(g), y_desc_, y + y_off(g), h_desc_, nullptr, nullptr, h_desc_, nullptr,
                                     nullptr, wsize_, weights_[g]->get(), work_size_, work_->get(), reserve_size_,
                                     reserve_[g]->get()));
  }

  // After forward(): dx and the weight gradients (zeroed first: cuDNN only adds).
  void backward(const float* x, const float* y, const float* dy, float* dx) {
    for (int g = 0; g < s_.G; ++g) {
      DC_CUDNN_CHECK(cudnnRNNBackwardData_v8(h_, rnn_, static_cast<const int32_t*>(seq_->get()), y_desc_, y + y_off(g),
                                             dy + y_off(g), x_desc_, dx + x_off(g), h_desc_, nullptr, nullptr, nullptr,
                                             h_desc_, nullptr, nullptr, nullptr, wsize_, weights_[g]->get(), work_size_,
                                             work_->get(), reserve_size_, reserve_[g]->get()));
      cu::fill_zero(dweights_[g]->get(), wsize_);
      DC_CUDNN_CHECK(cudnnRNNBackwardWeights_v8(h_, rnn_, CUDNN_WGRAD_MODE_ADD,
                                                static_cast<const int32_t*>(seq_->get()), x_desc_, x + x_off(g), h_desc_,
                                                nullptr, y_desc_, y + y_off(g), wsize_, dweights_[g]->get(), work_size_,
                                                work_->get(), reserve_size_, reserve_[g]->get()));
    }
  }

 private:
  size_t x_off(int g) const { return static_cast<size_t>(g) * s_.B * s_.T * s_.I; }
  size_t y_off(int g) const { return static_cast<size_t>(g) * s_.B * s_.T * s_.D * s_.H; }

  cudnnHandle_t h_;
  k::LstmShape s_;
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
void lstm_records(std::vector<BenchRecord>& out, const std::string& level, k::LstmShape s, bool quick) {
  const int G4 = 4 * s.H, P = s.P();
  const int64_t BT = s.BT();
  const size_t nx = static_cast<size_t>(s.G) * BT * s.I, ny = static_cast<size_t>(s.G) * BT * s.D * s.H,
               nws = static_cast<size_t>(k::lstm_workspace_size(s));
  // AttentiveChrome's init U(-0.1, 0.1); inputs like log counts.
  const auto hx = uniform_floats(nx, 1, 0.0, 3.0);
  const auto hw_ih = uniform_floats(static_cast<size_t>(P) * G4 * s.I, 2, -0.1, 0.1);
  const auto hw_hh = uniform_floats(static_cast<size_t>(P) * G4 * s.H, 3, -0.1, 0.1);
  const auto hb = uniform_floats(static_cast<size_t>(P) * G4 * 2, 4, -0.1, 0.1);  // b_ih of every pair, then b_hh
  const auto hdy = uniform_floats(ny, 5, -1.0, 1.0);
  const DeviceBuffer x(hx), w_ih(hw_ih), w_hh(hw_hh), b(hb), dy(hdy);
  const DeviceBuffer y(ny * sizeof(float)), ws(nws * sizeof(float));
  const DeviceBuffer dx(nx * sizeof(float)), dw_ih(hw_ih.size() * sizeof(float)), dw_hh(hw_hh.size() * sizeof(float)),
      db(hb.size() * sizeof(float));
  // The same weights as device pointers (ours), host pointers (the CPU twin); the gradients likewise.
  std::vector<float> cdw_ih(hw_ih.size()), cdw_hh(hw_hh.size()), cdb(hb.size());
  k::LstmParams<float> w, hw;
  k::LstmParamGrads<float> g, hg;
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
    hg.w_ih.push_back({cdw_ih.data() + oi, GradMode::Overwrite});
    hg.w_hh.push_back({cdw_hh.data() + oh, GradMode::Overwrite});
    hg.b_ih.push_back({cdb.data() + ob, GradMode::Overwrite});
    hg.b_hh.push_back({cdb.data() + ob2, GradMode::Overwrite});
  }
  auto fwd = [&] { cu::lstm_forward(y.f(), ws.f(), x.f(), w, s); };
  auto bwd = [&] { cu::lstm_backward({dx.f(), GradMode::Overwrite}, g, dy.f(), x.f(), y.f(), w, ws.f(), s); };
  auto fwd_bwd = [&] {
    fwd();
    bwd();
  };

  const double f = 2.0 * G4 * (s.I + s.H) * P * static_cast<double>(BT);
  const std::string shape = level + ": G=" + std::to_string(s.G) + " B=" + std::to_string(s.B) + " T=" + std::to_string(s.T) +
                            " I=" + std::to_string(s.I) + " H=" + std::to_string(s.H) + (s.D == 2 ? " bidirectional" : "");
  BenchRecord rf = cuda_record("lstm", shape, "forward", f, 0), rfb = cuda_record("lstm", shape, "forward+backward", 3 * f, 0);

  // Ours once, against the CPU twin.
  fwd_bwd();
  const std::vector<float> y_ours = y.host(ny), dx_ours = dx.host(nx);
  std::vector<float> cy(ny), cws(nws), cdx(nx);
  k::cpu::lstm_forward(cy.data(), cws.data(), hx.data(), hw, s);
  k::cpu::lstm_backward({cdx.data(), GradMode::Overwrite}, hg, hdy.data(), hx.data(), cy.data(), hw, cws.data(), s);
  const optable::Tolerance tol = optable::op_row("lstm").cuda_tol;
  Validation vf("the CPU twin (kernels/cpu)"), vfb = vf;
  vf.check("y", y_ours, cy, tol);
  vfb.check("y", y_ours, cy, tol);
  vfb.check("dx", dx_ours, cdx, tol);
  vfb.check("dw_ih", dw_ih.host(cdw_ih.size()), cdw_ih, tol);
  vfb.check("dw_hh", dw_hh.host(cdw_hh.size()), cdw_hh, tol);
  vfb.check("db", db.host(cdb.size()), cdb, tol);
  const bool ok_f = vf.apply(rf), ok_fb = vfb.apply(rfb);
  if (ok_f) rf.ms = median_ms_per_call(fwd, quick);
  if (ok_fb) rfb.ms = median_ms_per_call(fwd_bwd, quick);

#if DEEPCHROME_HAS_CUDNN
  std::string why, notes, best;
  cudnnHandle_t h = cudnn_handle(&why);
  if (!h) notes = "cuDNN unavailable: " + why;
  const DeviceBuffer y_ref(ny * sizeof(float)), dx_ref(nx * sizeof(float));
  struct Algo {
    cudnnRNNAlgo_t algo;
    const char* name;
  };
  for (const Algo a : {Algo{CUDNN_RNN_ALGO_STANDARD, "standard"}, Algo{CUDNN_RNN_ALGO_PERSIST_STATIC, "persist_static"}}) {
    if (!h || !(ok_f || ok_fb)) break;
    try {
      CudnnLstm c(h, s, a.algo);
      c.set_weights(w);
      c.forward(x.f(), y_ref.f());
      c.backward(x.f(), y_ref.f(), dy.f(), dx_ref.f());
      std::string disagrees = library_disagrees(std::string("cuDNN ") + a.name, "y", y_ref.host(ny), y_ours);
      if (disagrees.empty()) disagrees = library_disagrees(std::string("cuDNN ") + a.name, "dx", dx_ref.host(nx), dx_ours);
      if (!disagrees.empty()) {
        notes += (notes.empty() ? "" : "; ") + disagrees;
        continue;
      }
      const double tf = median_ms_per_call([&] { c.forward(x.f(), y_ref.f()); }, quick);
      const double tfb = median_ms_per_call(
          [&] {
            c.forward(x.f(), y_ref.f());
            c.backward(x.f(), y_ref.f(), dy.f(), dx_ref.f());
          },
          quick);
      if (rfb.reference_ms == 0 || tfb < rfb.reference_ms) {
        rf.reference_ms = tf;
        rfb.reference_ms = tfb;
        best = a.name;
      }
      notes += (notes.empty() ? "" : "; ") + std::string("cuDNN ") + a.name + ": fwd " + fmt("%.3f", tf) + " ms, fwd+bwd " +
               fmt("%.3f", tfb) + " ms";
    } catch (const Error& e) {
      notes += (notes.empty() ? "" : "; ") + std::string("cuDNN ") + a.name + " unavailable (" + e.what() + ")" +
               clear_handled_cuda_error();
    }
  }
  kernels::cuda::synchronize();
  if (!best.empty()) {
    rf.reference = rfb.reference = "cudnn";
    notes = "reference = cuDNN " + best + " (the faster; its y and dx checked against ours); " + notes;
  }
  if (s.G > 1) notes += "; cuDNN runs " + std::to_string(s.G) + " calls, one per mark (no grouped LSTM in cuDNN)";
  if (!ok_f) rf.reference_ms = 0;
  if (!ok_fb) rfb.reference_ms = 0;
  add_note(rf, notes);
  add_note(rfb, notes);
#else
  add_note(rf, "built without cuDNN: no reference");
  add_note(rfb, "built without cuDNN: no reference");
#endif
  out.push_back(rf);
  out.push_back(rfb);
}

}  // namespace

void rnn_vs_libraries(std::vector<BenchRecord>& out, bool quick) {
  for (int B : {16, 256}) lstm_records(out, "bin level", {5, B, 100, 1, 32, 2}, quick);
  for (int B : {16, 256}) lstm_records(out, "mark level", {1, B, 5, 64, 16, 2}, quick);
}

}  // namespace dc::bench
