#include "bench/attention_benchmarks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "bench/timing.h"
#include "kernels/cpu/attention.h"

namespace dc::bench {
namespace {

using nlohmann::json;

json bench_one(const char* level, cpu::AttentionShape s, double sample_s) {
  const size_t nh = static_cast<size_t>(s.rows()) * s.T * s.F, np = static_cast<size_t>(s.rows()) * s.F,
               na = static_cast<size_t>(s.rows()) * s.T;
  // h like bi-LSTM outputs in (-1, 1); contexts like AttentiveChrome's init U(-0.1, 0.1).
  const auto h = uniform_floats(nh, 1, -1.0, 1.0), dp = uniform_floats(np, 2, -1.0, 1.0), ctx = uniform_floats(static_cast<size_t>(s.G) * s.F, 3, -0.1, 0.1);
  std::vector<float> dctx(ctx.size()), pooled(np), alpha(na), dh(nh), pooled_ref(np), alpha_ref(na);
  std::vector<const float*> cp;
  std::vector<float*> dcp;
  for (int g = 0; g < s.G; ++g) {
    cp.push_back(ctx.data() + static_cast<size_t>(g) * s.F);
    dcp.push_back(dctx.data() + static_cast<size_t>(g) * s.F);
  }
  const std::vector<GradMode> modes(static_cast<size_t>(s.G), GradMode::Overwrite);

  // Validate before timing: the fast forward against the float reference.
  cpu::attention_forward(pooled.data(), alpha.data(), h.data(), cp.data(), s);
  cpu::attention_forward_reference<float>(pooled_ref.data(), alpha_ref.data(), h.data(), cp.data(), s);
  const double diff = std::max(max_abs_diff(pooled, pooled_ref), max_abs_diff(alpha, alpha_ref));

  const double fwd = time_call([&] { cpu::attention_forward(pooled.data(), alpha.data(), h.data(), cp.data(), s); }, sample_s);
  const double bwd = time_call([&] {
    cpu::attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), dp.data(), h.data(), alpha.data(), cp.data(), s);
  }, sample_s);
  auto ref_fwd = [&] { cpu::attention_forward_reference<float>(pooled_ref.data(), alpha_ref.data(), h.data(), cp.data(), s); };
  auto ref_bwd = [&] {
    cpu::attention_backward_reference<float>(dh.data(), GradMode::Overwrite, dcp.data(), modes.data(), dp.data(), h.data(),
                                             alpha_ref.data(), cp.data(), s);
  };
  const bool quick = sample_s < 0.01;
  const double rf = quick ? time_once(ref_fwd) : time_call(ref_fwd, sample_s, 3);
  const double rb = quick ? time_once(ref_bwd) : time_call(ref_bwd, sample_s, 3);

  // FLOPs per element of h. Forward: the score and the weighted sum, a multiply-add each (4).
  // Backward: dalpha (2), dh = alpha dpooled + dscore ctx (3), the context partial (2).
  const double flops_f = 4.0 * nh, flops_b = 7.0 * nh;
  // Forward reads h (the second pass hits the cache) and writes alpha and pooled; backward
  // reads h, alpha and dpooled and writes dh.
  const double bytes_f = 4.0 * (nh + na + np), bytes_b = 4.0 * (2.0 * nh + na + np);
  return {{"op", "attention_pool"},
          {"level", level},
          {"shape", "h (" + std::to_string(s.G) + ", B, " + std::to_string(s.T) + ", " + std::to_string(s.F) + "), " +
                        std::to_string(s.G) + " contexts (" + std::to_string(s.F) + ")"},
          {"batch", s.B},
          {"forward_ms", fwd * 1e3},
          {"backward_ms", bwd * 1e3},
          {"forward_gbps", bytes_f / fwd / 1e9},
          {"backward_gbps", bytes_b / bwd / 1e9},
          {"forward_gflops", flops_f / fwd / 1e9},
          {"backward_gflops", flops_b / bwd / 1e9},
          {"reference_forward_ms", rf * 1e3},
          {"reference_backward_ms", rb * 1e3},
          {"speedup_vs_reference", (rf + rb) / (fwd + bwd)},
          {"max_abs_diff_vs_reference", diff}};
}

}  // namespace

json bench_attention(double sample_seconds) {
  json out = json::array();
  out.push_back(bench_one("bins", {5, 16, 100, 64}, sample_seconds));
  out.push_back(bench_one("bins", {5, 256, 100, 64}, sample_seconds));
  out.push_back(bench_one("marks", {1, 16, 5, 32}, sample_seconds));
  return out;
}

}  // namespace dc::bench
