// The runtime layer: copies round-trip, fills, error reporting, and a handled failure (an
// impossible allocation, directly or through the caching allocator) leaving no stale error
// behind for the next kernel launch; the compute capabilities the build supports.
#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/device_allocator.h"
#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace cu = dc::kernels::cuda;

namespace {

// A kernel launch (fill_float checks its launch with cudaGetLastError) and a copy back.
void expect_launch_works(const char* after) {
  INFO("a fill kernel after " << after);
  const size_t n = 1000;
  float* d = static_cast<float*>(cu::raw_malloc(n * sizeof(float)));
  std::vector<float> back(n, 0.0f);
  try {
    cu::fill_float(d, 1.5f, n);
    cu::copy_to_host(back.data(), d, n * sizeof(float));
  } catch (const dc::Error& e) {
    FAIL_CHECK("unexpected error: " << e.what());
  }
  cu::raw_free(d);
  CHECK(back == std::vector<float>(n, 1.5f));
}

}  // namespace

TEST_CASE("cuda runtime: host -> device -> host round trip and fills" * doctest::test_suite("small")) {
  std::vector<float> h(1000);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<float>(i) * 0.5f - 7.0f;
  float* d = static_cast<float*>(cu::raw_malloc(h.size() * sizeof(float)));
  float* e = static_cast<float*>(cu::raw_malloc(h.size() * sizeof(float)));
  cu::copy_to_device(d, h.data(), h.size() * sizeof(float));
  cu::copy_device(e, d, h.size() * sizeof(float));
  std::vector<float> back(h.size(), 0.0f);
  cu::copy_to_host(back.data(), e, h.size() * sizeof(float));
  CHECK(back == h);
  cu::fill_float(e, 3.25f, h.size());
  cu::copy_to_host(back.data(), e, h.size() * sizeof(float));
  for (float v : back) REQUIRE(v == 3.25f);
  cu::fill_zero(e, 10 * sizeof(float));
  cu::copy_to_host(back.data(), e, h.size() * sizeof(float));
  CHECK(back[0] == 0.0f);
  CHECK(back[9] == 0.0f);
  CHECK(back[10] == 3.25f);
  cu::raw_free(d);
  cu::raw_free(e);
}

TEST_CASE("cuda runtime: an impossible allocation is a dc::Error naming CUDA, and the next launch still works" *
          doctest::test_suite("small")) {
  std::string message;
  try {
    cu::raw_malloc(size_t(1) << 52);  // 4 PiB
  } catch (const dc::Error& e) {
    message = e.what();
  }
  CHECK(message.find("CUDA error") != std::string::npos);
  CHECK(message.find("cudaMalloc") != std::string::npos);
  // The failed cudaMalloc must not stay recorded as the last error: the next launch check
  // would report "out of memory" for an unrelated kernel.
  expect_launch_works("a failed cudaMalloc");
}

TEST_CASE("cuda runtime: an allocation the caching allocator cannot serve leaves no stale error" *
          doctest::test_suite("small")) {
  dc::DeviceAllocator& alloc = dc::DeviceAllocator::instance();
  alloc.deallocate(alloc.allocate(4096));  // a cached block: the allocator releases its cache and retries
  REQUIRE(alloc.stats().bytes_cached > 0);
  CHECK_THROWS_AS(alloc.allocate(size_t(1) << 52), dc::Error);
  CHECK(alloc.stats().bytes_cached == 0);
  expect_launch_works("the caching allocator's failed retry");
  CHECK_THROWS_AS(alloc.allocate(size_t(1) << 52), dc::Error);  // and with an empty cache (no retry)
  expect_launch_works("the caching allocator's failed allocation");
}

TEST_CASE("cuda runtime: GPUs below compute capability 8.0 are refused with a reason" * doctest::test_suite("small")) {
  std::string why;
  CHECK_FALSE(cu::compute_capability_supported(7, 5, &why));
  CHECK(why.find("7.5") != std::string::npos);
  CHECK(why.find("8.0") != std::string::npos);
  CHECK_FALSE(cu::compute_capability_supported(6, 1));
  const std::pair<int, int> supported[] = {{8, 0}, {8, 6}, {8, 9}, {9, 0}, {10, 0}, {12, 0}};
  for (const std::pair<int, int>& cc : supported) {
    INFO("compute capability " << cc.first << "." << cc.second);
    CHECK(cu::compute_capability_supported(cc.first, cc.second));
  }
  CHECK(cu::available());  // this suite runs only where the GPU is usable
}
