#include "bench/attention_benchmarks.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "kernels/cpu/attention.h"

namespace dc::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Median seconds per call of f: calls are grouped so one sample lasts >= sample_s.
double time_call(const std::function<void()>& f, double sample_s, int samples = 7) {
  f();  // warm-up (allocations, caches)
  int inner = 1;
  while (true) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    const double t = since(t0);
    if (t >= sample_s || inner >= (1 << 20)) break;
    inner = std::max(inner * 2, static_cast<int>(inner * sample_s / std::max(t, 1e-9) * 1.2));
  }
  std::vector<double> v;
  for (int s = 0; s < samples; ++s) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    v.push_back(since(t0) / inner);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One timed call, for the slow reference in a --quick run.
double time_once(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return since(t0);
}

std::vector<float> uniform(size_t n, uint64_t seed, double lo, double hi) {
  std::vector<float> v(n);
  CounterRng rng(seed, 5);
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

json bench_one(const char* level, cpu::AttentionShape s, double sample_s) {
  const size_t nh = static_cast<size_t>(s.rows()) * s.T * s.F, np = static_cast<size_t>(s.rows()) * s.F,
               na = static_cast<size_t>(s.rows()) * s.T;
  // h like bi-LSTM outputs in (-1, 1); contexts like AttentiveChrome's init U(-0.1, 0.1).
  const auto h = uniform(nh, 1, -1.0, 1.0), dp = uniform(np, 2, -1.0, 1.0), ctx = uniform(static_cast<size_t>(s.G) * s.F, 3, -0.1, 0.1);
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
