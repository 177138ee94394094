#include "engine/init.h"

#include "engine/rng.h"

namespace dc {

void init_uniform(Tensor& t, float lo, float hi, uint64_t seed, uint64_t stream) {
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = lo + (hi - lo) * uniform01(seed, stream, static_cast<uint64_t>(i));
}

uint64_t stream_id(const char* name) {
  uint64_t h = 1469598103934665603ull;
  for (const char* c = name; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ull;
  return h;
}

}  // namespace dc
