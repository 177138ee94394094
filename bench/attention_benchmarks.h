// Attention-pooling kernel benchmarks (JSON entries for `deepchrome bench`).
#pragma once

#include <nlohmann/json.hpp>

namespace dc::bench {

// Forward and backward of attention pooling (fast float kernels) at AttentiveChrome's sizes:
// the bin level (5 marks x B genes x 100 bins x 64 features) at B = 16 and 256 and the mark
// level (1 x 16 x 5 x 32). One entry per size: {op: "attention_pool", level, shape, batch,
// forward_ms, backward_ms, forward_gbps, backward_gbps, forward_gflops, backward_gflops,
// reference_forward_ms, reference_backward_ms, speedup_vs_reference,
// max_abs_diff_vs_reference (forward pooled and alpha, fast vs float reference, checked
// before timing)}. Bytes count one pass over h and dh plus the small tensors; FLOPs count
// the arithmetic per element of h (4 forward, 7 backward). A sample lasts >= sample_seconds;
// below 0.01 s (a --quick run) the reference is timed once.
nlohmann::json bench_attention(double sample_seconds);

}  // namespace dc::bench
