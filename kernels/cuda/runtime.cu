// The CUDA runtime layer (kernels/cuda/runtime.h): device checks, raw device memory, copies
// and fills on the process's one stream, the cuBLAS handle, CUDA error messages.
#include <atomic>
#include <mutex>
#include <string>

#include "kernels/cuda/common.cuh"

namespace dc::kernels::cuda {

void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  throw Error(std::string("CUDA error: ") + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ") in " + what + " at " +
              file + ":" + std::to_string(line));
}

void throw_cublas_error(cublasStatus_t s, const char* what, const char* file, int line) {
  throw Error(std::string("cuBLAS error: ") + cublasGetStatusString(s) + " in " + what + " at " + file + ":" +
              std::to_string(line));
}

namespace {

struct Runtime {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
};

std::once_flag g_init;
Runtime g_runtime;
std::atomic<size_t> g_malloc_count{0};

__global__ void fill_kernel(float* dst, float value, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    dst[i] = value;
}

Runtime& runtime() {
  std::call_once(g_init, [] {
    std::string why;
    if (!available(&why)) throw Error("CUDA is unavailable: " + why);
    DC_CUDA_CHECK(cudaStreamCreateWithFlags(&g_runtime.stream, cudaStreamNonBlocking));
  });
  return g_runtime;
}

}  // namespace

bool compute_capability_supported(int major, int minor, std::string* why) {
  if (major * 10 + minor >= kMinComputeCapability) return true;
  if (why)
    *why = "compute capability " + std::to_string(major) + "." + std::to_string(minor) +
           " is below 8.0, the oldest deepchrome's CUDA kernels support";
  return false;
}

bool available(std::string* why) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaSuccess && n == 0) {
    if (why) *why = "no CUDA-capable device is present";
    return false;
  }
  int dev = 0;
  cudaDeviceProp p{};
  if (e == cudaSuccess) e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaGetDeviceProperties(&p, dev);
  if (e != cudaSuccess) {
    if (why) *why = std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
    cudaGetLastError();  // reported here: not left for the next launch check
    return false;
  }
  std::string problem;
  if (!compute_capability_supported(p.major, p.minor, &problem)) {
    if (why) *why = "GPU " + std::to_string(dev) + " (" + p.name + "): " + problem;
    return false;
  }
  // The kernels must have code this GPU can run (a build for other architectures has none).
  cudaFuncAttributes attr{};
  e = cudaFuncGetAttributes(&attr, fill_kernel);
  if (e != cudaSuccess) {
    if (why)
      *why = "GPU " + std::to_string(dev) + " (" + p.name + ", sm_" + std::to_string(p.major) + std::to_string(p.minor) +
             ") cannot run this build's kernels: " + cudaGetErrorString(e) + " (rebuild with -DCMAKE_CUDA_ARCHITECTURES=" +
             std::to_string(p.major) + std::to_string(p.minor) + ")";
    cudaGetLastError();
    return false;
  }
  return true;
}

DeviceInfo device_info() {
  runtime();
  int dev = 0;
  DC_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  DC_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  DeviceInfo d;
  d.name = p.name;
  d.sm_count = p.multiProcessorCount;
  d.cc_major = p.major;
  d.cc_minor = p.minor;
  d.memory_gb = static_cast<double>(p.totalGlobalMem) / 1e9;
  int clock_khz = 0, mem_clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev) != cudaSuccess) clock_khz = 0;
  if (cudaDeviceGetAttribute(&mem_clock_khz, cudaDevAttrMemoryClockRate, dev) != cudaSuccess) mem_clock_khz = 0;
  if (cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, dev) != cudaSuccess) bus_bits = 0;
  cudaGetLastError();
  d.clock_ghz = clock_khz / 1e6;
  // FP32 lanes per SM: 64 on sm_80 (A100), 128 on sm_86/89/90.
  const int lanes = (p.major == 8 && p.minor == 0) ? 64 : 128;
  d.peak_fp32_tflops = 2.0 * lanes * d.sm_count * d.clock_ghz / 1e3;
  d.peak_bandwidth_gbs = 2.0 * mem_clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // DDR
  return d;
}

void* raw_malloc(size_t bytes) {
  runtime();
  void* p = nullptr;
  const size_t n = bytes == 0 ? 256 : bytes;
  const cudaError_t e = cudaMalloc(&p, n);
  if (e != cudaSuccess) {
    // A failed cudaMalloc (out of memory) leaves the context usable but also stays recorded
    // as the thread's last error, which the next launch check (cudaGetLastError) would then
    // report for an unrelated kernel. It is reported here, so clear it, as PyTorch's caching
    // allocator does. (A sticky error, a context broken by a fault, is not cleared by this
    // and surfaces again at the next call.)
    cudaGetLastError();
    throw_cuda_error(e, ("cudaMalloc of " + std::to_string(n) + " bytes").c_str(), __FILE__, __LINE__);
  }
  ++g_malloc_count;
  return p;
}

void raw_free(void* p) {
  if (p) DC_CUDA_CHECK(cudaFree(p));
}

size_t raw_malloc_count() { return g_malloc_count.load(); }

void copy_to_device(void* dst, const void* host_src, size_t bytes) {
  if (bytes == 0) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, runtime().stream));
  // Pageable host memory: the call returns once the source has been staged, so the caller
  // may reuse its buffer; no stream sync needed.
}

void copy_to_host(void* host_dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, runtime().stream));
  DC_CUDA_CHECK(cudaStreamSynchronize(runtime().stream));
}

void copy_device(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return;
  DC_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, runtime().stream));
}

void fill_zero(void* dst, size_t bytes) {
  if (bytes == 0) return;
  DC_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, runtime().stream));
}

void fill_float(float* dst, float value, size_t count) {
  if (count == 0) return;
  fill_kernel<<<grid_for(static_cast<int64_t>(count), 256), 256, 0, runtime().stream>>>(dst, value, count);
  DC_CUDA_CHECK_LAUNCH();
}

float* device_scratch(int slot, size_t floats) {
  static struct Slot { float* p = nullptr; size_t n = 0; } slots[8];
  if (slot < 0 || slot >= 8) throw Error("device_scratch: slot out of range");
  Slot& s = slots[slot];
  if (s.n < floats) {
    if (s.p) {
      DC_CUDA_CHECK(cudaStreamSynchronize(runtime().stream));  // the old buffer may still be in use
      raw_free(s.p);
    }
    s.n = floats + floats / 4;
    s.p = static_cast<float*>(raw_malloc(s.n * sizeof(float)));
  }
  return s.p;
}

void clear_last_error() { cudaGetLastError(); }

void synchronize() { DC_CUDA_CHECK(cudaStreamSynchronize(runtime().stream)); }

void* stream() { return runtime().stream; }

cublasHandle_t cublas_handle() {
  static std::once_flag once;
  std::call_once(once, [] {
    DC_CUBLAS_CHECK(cublasCreate(&g_runtime.cublas));
    DC_CUBLAS_CHECK(cublasSetStream(g_runtime.cublas, runtime().stream));
  });
  return g_runtime.cublas;
}

}  // namespace dc::kernels::cuda
