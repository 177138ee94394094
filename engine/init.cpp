#include "engine/init.h"

#include "kernels/base/hash.h"
#include "kernels/base/philox.h"

namespace dc {

void init_uniform(Tensor& t, float lo, float hi, uint64_t seed, uint64_t stream) {
  float* p = t.data();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = lo + (hi - lo) * uniform01(seed, stream, static_cast<uint64_t>(i));
}

// The basis is one digit short of FNV's standard offset (14695981039346656037): kept, since
// every parameter's initial values (and the PyTorch parity fixtures) depend on these ids.
uint64_t stream_id(const char* name) { return fnv1a(name, 1469598103934665603ull); }

}  // namespace dc
