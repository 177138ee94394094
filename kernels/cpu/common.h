// Threading helpers shared by the CPU kernels (OpenMP when built with it).
#pragma once

#include <cstdint>
#include <climits>

#include "kernels/base/grad.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dc::kernels::cpu {

// Whether `work` is worth splitting across the OpenMP threads. Kernels branch on this
// instead of writing `#pragma omp parallel if (...)`: with libgomp a parallel region
// costs microseconds even when its if() is false, which is most of a batch-of-one step.
inline bool use_threads(int64_t work, int64_t threshold) {
#ifdef _OPENMP
  return work > threshold && omp_get_max_threads() > 1;
#else
  (void)work;
  (void)threshold;
  return false;
#endif
}

struct Range {
  int64_t begin, end;
};

// The calling thread's contiguous share of [0, n) inside a parallel region (thread t of T
// always gets the same rows, so repeated passes over a weight matrix hit the same cache).
inline Range thread_range(int64_t n) {
#ifdef _OPENMP
  const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
#else
  const int64_t t = 0, nt = 1;
#endif
  return {n * t / nt, n * (t + 1) / nt};
}

// body(begin, end) over [0, n): split across the threads when n > threshold, else inline.
template <class F>
inline void parallel_for(int64_t n, int64_t threshold, F&& body) {
  if (use_threads(n, threshold)) {
#pragma omp parallel
    {
      const Range r = thread_range(n);
      body(r.begin, r.end);
    }
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
