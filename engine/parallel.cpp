#include "engine/parallel.h"

#include <algorithm>
#include <atomic>

#include "kernels/cpu/thread_pool.h"

namespace dc {

void set_num_threads(int n) { kernels::cpu::set_team_size(n <= 0 ? kernels::cpu::available_cores() : n); }

int num_threads() { return kernels::cpu::team_size(); }

int available_cores() { return kernels::cpu::available_cores(); }

void parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& body) {
  chunk = std::max<int64_t>(chunk, 1);
  std::atomic<int64_t> next{0};
  auto take = [&] {
    for (int64_t b; (b = next.fetch_add(chunk, std::memory_order_relaxed)) < n;) body(b, std::min(n, b + chunk));
  };
  if (n > chunk) kernels::cpu::run_team(take);
  else take();
}

}  // namespace dc
