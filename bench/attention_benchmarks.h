// Attention-pooling kernel benchmarks (JSON entries for `deepchrome bench`).
#pragma once

#include <nlohmann/json.hpp>

namespace dc::bench {

// Forward and backward of attention pooling at AttentiveChrome's sizes: the bin level
// (5 marks x B genes x 100 bins x 64 features) at B = 16 and 256, the mark level
// (1 x 16 x 5 x 32).
nlohmann::json bench_attention(double sample_seconds);

}  // namespace dc::bench
