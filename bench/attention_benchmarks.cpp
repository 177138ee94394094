#include "bench/attention_benchmarks.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "engine/rng.h"
#include "kernels/cpu/attention.h"

namespace dc::bench {
namespace {

using Clock = std::chrono::steady_clock;

double median_seconds(const std::function<void()>& f, double sample_s) {
  f();
  int inner = 1;
  while (true) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (t >= sample_s || inner >= (1 << 20)) break;
    inner *= 2;
  }
  std::vector<double> v;
  for (int s = 0; s < 7; ++s) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    v.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / inner);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  CounterRng rng(seed, 3);
  for (auto& x : v) x = static_cast<float>(rng.uniform() * 2 - 1);
  return v;
}

nlohmann::json one(const char* level, cpu::AttentionShape s, double sample_s) {
  const size_t nh = static_cast<size_t>(s.G) * s.B * s.T * s.F;
  auto h = random_floats(nh, 1), dp = random_floats(static_cast<size_t>(s.G) * s.B * s.F, 2);
  std::vector<std::vector<float>> ctx(s.G, random_floats(static_cast<size_t>(s.F), 3)), dctx(s.G, std::vector<float>(s.F));
  std::vector<const float*> cp;
  std::vector<float*> dcp;
  for (int g = 0; g < s.G; ++g) {
    cp.push_back(ctx[g].data());
    dcp.push_back(dctx[g].data());
  }
  std::vector<float> pooled(static_cast<size_t>(s.G) * s.B * s.F), alpha(static_cast<size_t>(s.G) * s.B * s.T), dh(nh),
      scratch(alpha.size());
  const double fwd = median_seconds([&] { cpu::attention_forward(pooled.data(), alpha.data(), h.data(), cp.data(), s); }, sample_s);
  const double bwd = median_seconds([&] {
    cpu::attention_backward(dh.data(), GradMode::Overwrite, dcp.data(), GradMode::Overwrite, dp.data(), h.data(), alpha.data(),
                            cp.data(), scratch.data(), s);
  }, sample_s);
  // Forward: scores and the weighted sum, 2 multiply-adds per element of h; backward: 4.
  const double flops_f = 4.0 * nh, flops_b = 8.0 * nh;
  const double bytes_f = 4.0 * (nh + alpha.size() + pooled.size()), bytes_b = 4.0 * (2.0 * nh + 2.0 * alpha.size() + pooled.size());
  return {{"op", "attention_pool"},
          {"level", level},
          {"batch", s.B},
          {"shape", "(G=" + std::to_string(s.G) + ", B, T=" + std::to_string(s.T) + ", F=" + std::to_string(s.F) + ")"},
          {"forward_ms", fwd * 1e3},
          {"backward_ms", bwd * 1e3},
          {"forward_gflops", flops_f / fwd / 1e9},
          {"backward_gflops", flops_b / bwd / 1e9},
          {"forward_gbps", bytes_f / fwd / 1e9},
          {"backward_gbps", bytes_b / bwd / 1e9}};
}

}  // namespace

nlohmann::json bench_attention(double sample_seconds) {
  nlohmann::json out = nlohmann::json::array();
  out.push_back(one("bins", {5, 16, 100, 64}, sample_seconds));
  out.push_back(one("bins", {5, 256, 100, 64}, sample_seconds));
  out.push_back(one("marks", {1, 16, 5, 32}, sample_seconds));
  return out;
}

}  // namespace dc::bench
