// Thread control for the CPU kernels (their own team of threads, kernels/cpu/thread_pool.h).
#pragma once

namespace dc {

// n <= 0: one thread per available core. Without a call, the team has OMP_NUM_THREADS
// threads when that is set, else one per available core.
void set_num_threads(int n);
int num_threads();

// The cores this process may use: its affinity mask, capped by a cgroup CPU quota.
int available_cores();

}  // namespace dc
