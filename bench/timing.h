// Timing and input helpers shared by the benchmarks.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/base/philox.h"

namespace dc::bench {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Median seconds per call of f: calls are grouped so one sample lasts >= sample_s. `sync`
// (if given) runs after each group and is timed with it: for work queued on a device, it
// waits for the group to finish.
inline double time_call(const std::function<void()>& f, double sample_s, int samples = 7,
                        const std::function<void()>& sync = {}) {
  f();  // warm-up (allocations, caches)
  if (sync) sync();
  int inner = 1;
  while (true) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    if (sync) sync();
    const double t = since(t0);
    if (t >= sample_s || inner >= (1 << 20)) break;
    inner = std::max(inner * 2, static_cast<int>(inner * sample_s / std::max(t, 1e-9) * 1.2));
  }
  std::vector<double> v;
  for (int s = 0; s < samples; ++s) {
    const auto t0 = Clock::now();
    for (int i = 0; i < inner; ++i) f();
    if (sync) sync();
    v.push_back(since(t0) / inner);
  }
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One timed call, for slow reference kernels in a --quick run.
inline double time_once(const std::function<void()>& f) {
  const auto t0 = Clock::now();
  f();
  return since(t0);
}

// n values uniform in [lo, hi) from the counter-based RNG (benchmark inputs).
inline std::vector<float> uniform_floats(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::vector<float> v(n);
  CounterRng rng(seed, 3);
  for (auto& x : v) x = static_cast<float>(lo + (hi - lo) * rng.uniform());
  return v;
}

// Largest |a[i] - b[i]|: the fast kernel against its reference before timing.
inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  return m;
}

}  // namespace dc::bench
