// The runtime layer: copies round-trip, fills, error reporting.
#include <doctest/doctest.h>

#include <vector>

#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace cu = dc::kernels::cuda;

TEST_CASE("cuda runtime: host -> device -> host round trip and fills") {
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

TEST_CASE("cuda runtime: an impossible allocation is a dc::Error naming CUDA") {
  CHECK_THROWS_AS(cu::raw_malloc(size_t(1) << 52), dc::Error);
}
