// Thread control for the CPU kernels (their own team of threads, kernels/cpu/thread_pool.h).
#pragma once

#include <cstdint>
#include <functional>

namespace dc {

// n <= 0: one thread per available core. Without a call, the team has OMP_NUM_THREADS
// threads when that is set, else one per available core.
void set_num_threads(int n);
int num_threads();

// The cores this process may use: its affinity mask, capped by a cgroup CPU quota.
int available_cores();

// body(begin, end) over [0, n) in chunks of `chunk`, on the kernels' team: each member takes
// the next chunk as it finishes one (for work of uneven cost, like simulating genes). The
// chunks must not depend on each other: which member runs one changes nothing. body must not
// throw (an exception on a worker ends the process, as in the kernels).
void parallel_chunks(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& body);

}  // namespace dc
