// Thread control for the CPU kernels (OpenMP when built with it).
#pragma once

namespace dc {

void set_num_threads(int n);  // n <= 0: all hardware threads
int num_threads();

}  // namespace dc
