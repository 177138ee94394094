// DC_HOST_DEVICE marks the small inline functions that both the host compiler and nvcc
// compile (the Philox RNG, gradient writes), so CPU and CUDA kernels share one definition.
#pragma once

#if defined(__CUDACC__)
#define DC_HOST_DEVICE __host__ __device__
#else
#define DC_HOST_DEVICE
#endif
