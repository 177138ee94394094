// Parameter initialisation from the counter-based RNG: a value depends only on
// (seed, stream, element index), so it is identical for any thread count and device.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

namespace dc {

// Fills t with U(lo, hi); element i uses uniform01(seed, stream, i).
void init_uniform(Tensor& t, float lo, float hi, uint64_t seed, uint64_t stream);

// A stable 64-bit stream id from a name (FNV-1a), e.g. stream_id("fc1.weight").
uint64_t stream_id(const char* name);

}  // namespace dc
