#include "bench/rnn_benchmarks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "kernels/cpu/lstm.h"

namespace dc::bench {
namespace {

using nlohmann::json;

json bench_one(const std::string& name, cpu::LstmShape s, double sample_s, double peak) {
  const int G4 = 4 * s.H, P = s.P();
  const int64_t BT = s.BT();
  // AttentiveChrome's init U(-0.1, 0.1); inputs like log counts.
  const auto x = uniform_floats(static_cast<size_t>(s.G) * BT * s.I, 1, 0.0, 3.0);
  const auto w_ih = uniform_floats(static_cast<size_t>(P) * G4 * s.I, 2, -0.1, 0.1);
  const auto w_hh = uniform_floats(static_cast<size_t>(P) * G4 * s.H, 3, -0.1, 0.1);
  const auto b = uniform_floats(static_cast<size_t>(P) * G4 * 2, 4, -0.1, 0.1);
  const auto dy = uniform_floats(static_cast<size_t>(s.G) * BT * s.D * s.H, 5, -1.0, 1.0);
  cpu::LstmParams<float> w;
  for (int p = 0; p < P; ++p) {
    w.w_ih.push_back(w_ih.data() + static_cast<size_t>(p) * G4 * s.I);
    w.w_hh.push_back(w_hh.data() + static_cast<size_t>(p) * G4 * s.H);
    w.b_ih.push_back(b.data() + static_cast<size_t>(p) * G4);
    w.b_hh.push_back(b.data() + static_cast<size_t>(P + p) * G4);
  }
  std::vector<float> y(dy.size()), y_ref(dy.size()), ws(static_cast<size_t>(cpu::lstm_workspace_size(s)));
  std::vector<float> dx(x.size()), dw_ih(w_ih.size()), dw_hh(w_hh.size()), db(b.size());
  cpu::LstmParamGrads<float> g;
  for (int p = 0; p < P; ++p) {
    g.w_ih.push_back({dw_ih.data() + static_cast<size_t>(p) * G4 * s.I, GradMode::Overwrite});
    g.w_hh.push_back({dw_hh.data() + static_cast<size_t>(p) * G4 * s.H, GradMode::Overwrite});
    g.b_ih.push_back({db.data() + static_cast<size_t>(p) * G4, GradMode::Overwrite});
    g.b_hh.push_back({db.data() + static_cast<size_t>(P + p) * G4, GradMode::Overwrite});
  }

  // Validate before timing: the fast forward against the float reference.
  cpu::lstm_forward(y.data(), ws.data(), x.data(), w, s);
  cpu::lstm_forward_reference<float>(y_ref.data(), nullptr, x.data(), w, s);
  const double max_diff = max_abs_diff(y, y_ref);

  const double fwd = time_call([&] { cpu::lstm_forward(y.data(), ws.data(), x.data(), w, s); }, sample_s);
  const double bwd = time_call([&] {
    cpu::lstm_backward(dx.data(), GradMode::Overwrite, g, dy.data(), x.data(), y.data(), w, ws.data(), s);
  }, sample_s);
  auto ref_fwd = [&] { cpu::lstm_forward_reference<float>(y_ref.data(), ws.data(), x.data(), w, s); };
  auto ref_bwd = [&] {
    cpu::lstm_backward_reference<float>(dx.data(), GradMode::Overwrite, g, dy.data(), x.data(), y_ref.data(), w,
                                        ws.data(), s);
  };
  const bool quick = sample_s < 0.01;
  const double rf = quick ? time_once(ref_fwd) : time_call(ref_fwd, sample_s, 3);  // also refills ws for ref_bwd
  const double rb = quick ? time_once(ref_bwd) : time_call(ref_bwd, sample_s, 3);

  const double f = 2.0 * G4 * (s.I + s.H) * P * BT;
  const double fb = 2 * f;
  return {{"op", "lstm"},
          {"shape", name + ": x (" + std::to_string(s.G) + ", B, " + std::to_string(s.T) + ", " + std::to_string(s.I) +
                        "), hidden " + std::to_string(s.H) + (s.D == 2 ? ", bidirectional" : ", unidirectional")},
          {"batch", s.B},
          {"forward_ms", fwd * 1e3},
          {"backward_ms", bwd * 1e3},
          {"forward_gflops", f / fwd / 1e9},
          {"backward_gflops", fb / bwd / 1e9},
          {"fwd_bwd_gflops", (f + fb) / (fwd + bwd) / 1e9},
          {"fraction_of_peak", (f + fb) / (fwd + bwd) / 1e9 / peak},
          {"reference_forward_ms", rf * 1e3},
          {"reference_backward_ms", rb * 1e3},
          {"speedup_vs_reference", (rf + rb) / (fwd + bwd)},
          {"max_abs_diff_vs_reference", max_diff},
          {"vector_lanes", cpu::lstm_limit_lanes(0)}};
}

}  // namespace

json bench_lstm(double sample_seconds, double peak_gflops) {
  json out = json::array();
  // AttentiveChrome: bin level (5 marks x 2 directions over 100 bins, 1 feature, hidden 32)
  // at its batch 16 and at 256; mark level (over the 5 mark vectors of 64, hidden 16).
  // The `lstm` baseline: one bi-LSTM over the 100 bins with the 5 marks as features.
  out.push_back(bench_one("bin-level bi-LSTM", {5, 16, 100, 1, 32, 2}, sample_seconds, peak_gflops));
  out.push_back(bench_one("bin-level bi-LSTM", {5, 256, 100, 1, 32, 2}, sample_seconds, peak_gflops));
  out.push_back(bench_one("mark-level bi-LSTM", {1, 16, 5, 64, 16, 2}, sample_seconds, peak_gflops));
  out.push_back(bench_one("lstm baseline", {1, 16, 100, 5, 32, 2}, sample_seconds, peak_gflops));
  return out;
}

}  // namespace dc::bench
