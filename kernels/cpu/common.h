// Threading helpers shared by the CPU kernels (OpenMP when built with it).
#pragma once

#include <cstdint>
#include <climits>

#include "kernels/base/grad.h"
#include "kernels/cpu/thread_pool.h"

namespace dc::kernels::cpu {

// Whether `work` is worth splitting across the team (thread_pool.h). Inside a region the
// answer is no: a nested region would run on one thread anyway.
inline bool use_threads(int64_t work, int64_t threshold) {
  return work > threshold && team_members() == 1 && team_size() > 1;
}

// The body of a region, compiled for AVX-512, AVX2 and baseline x86-64, the loader picking
// the best for the CPU. A region's body runs in a lambda that cannot carry the
// instruction-set attributes of the function around it, so the function that does the
// work carries them itself (and is not inlined into the lambda).
// (clang refuses noinline beside target_clones, and never inlines a multiversioned function.)
#if defined(__clang__)
#define DC_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define DC_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), noinline))
#endif

struct Range {
  int64_t begin, end;
};

// The calling thread's contiguous share of [0, n) inside a region (member t of T always
// gets the same rows, so repeated passes over a weight matrix hit the same cache).
inline Range thread_range(int64_t n) {
  const int64_t t = team_member(), nt = team_members();
  return {n * t / nt, n * (t + 1) / nt};
}

// body(begin, end) over [0, n): split across the threads when n > threshold, else inline.
template <class F>
inline void parallel_for(int64_t n, int64_t threshold, F&& body) {
  if (use_threads(n, threshold)) {
    run_team([&] {
      const Range r = thread_range(n);
      body(r.begin, r.end);
    });
  } else {
    body(int64_t{0}, n);
  }
}

// body(begin, end) over [0, n): split across the threads when `parallel` (and more than one
// thread is available), else inline.
template <class F>
inline void parallel_for_if(bool parallel, int64_t n, F&& body) {
  parallel_for(n, parallel ? -1 : INT64_MAX, body);
}

}  // namespace dc::kernels::cpu
