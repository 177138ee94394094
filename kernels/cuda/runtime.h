// The CUDA runtime as the rest of the program sees it: plain C++ (no CUDA headers), so
// engine/ and the tests compile with the host compiler. Every function throws dc::Error
// with the CUDA error string on failure; none of them is called in a CPU-only build.
//
// One device (the current one) and one stream per process: every kernel wrapper in
// kernels/cuda/ launches on stream() and returns without synchronising; copies to the
// host synchronise the stream.
#pragma once

#include <cstddef>
#include <string>

namespace dc::kernels::cuda {

// Whether a usable CUDA device is present; when not, `why` (if given) says why
// ("no CUDA-capable device", "driver too old", a GPU older than compute capability 8.0, a
// build without code for this GPU's architecture, ...). Never throws.
bool available(std::string* why = nullptr);

// The oldest GPUs the kernels support: compute capability 8.0 (A100; CMake builds sm_80 and
// sm_90). Whether major.minor is supported; when not, `why` says so.
inline constexpr int kMinComputeCapability = 80;  // major * 10 + minor
bool compute_capability_supported(int major, int minor, std::string* why = nullptr);

struct DeviceInfo {
  std::string name;
  int sm_count = 0, cc_major = 0, cc_minor = 0;
  double clock_ghz = 0;            // SM boost clock
  double memory_gb = 0;            // global memory
  double peak_fp32_tflops = 0;     // 2 * FP32 lanes * SMs * clock (FMA = 2 flops)
  double peak_bandwidth_gbs = 0;   // DRAM, from bus width and memory clock (0 if unknown)
};
DeviceInfo device_info();

// Raw device memory (cudaMalloc/cudaFree). The engine's caching allocator sits on top;
// kernels never allocate.
void* raw_malloc(size_t bytes);
void raw_free(void* p);
size_t raw_malloc_count();  // how many raw_malloc calls succeeded so far (for tests)

// Copies and fills, ordered on stream(). Device-to-host copies wait for the data.
void copy_to_device(void* dst, const void* host_src, size_t bytes);
void copy_to_host(void* host_dst, const void* src, size_t bytes);
void copy_device(void* dst, const void* src, size_t bytes);
void fill_zero(void* dst, size_t bytes);
void fill_float(float* dst, float value, size_t count);

// Per-process device scratch for kernels that need temporary space beyond their
// arguments: slot `slot` (0..7) holds at least `floats` floats until the next call with the
// same slot. Grows (raw_malloc) only when a larger size is asked for, so a training loop
// allocates nothing after its first step. Stream order makes reuse safe (one stream).
float* device_scratch(int slot, size_t floats);

// Clears the runtime's last-error state after a failure that was handled (e.g. a failed
// allocation that the caching allocator retried), so the next launch check does not
// report it again.
void clear_last_error();

void synchronize();          // waits for stream() and reports any asynchronous error
void* stream();              // the process's cudaStream_t, as an opaque pointer

}  // namespace dc::kernels::cuda
