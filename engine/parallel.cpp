#include "engine/parallel.h"

#include "kernels/cpu/thread_pool.h"

namespace dc {

void set_num_threads(int n) { kernels::cpu::set_team_size(n <= 0 ? kernels::cpu::available_cores() : n); }

int num_threads() { return kernels::cpu::team_size(); }

int available_cores() { return kernels::cpu::available_cores(); }

}  // namespace dc
