// LSTM kernel benchmarks (the AttentiveChrome sizes), timed next to the plain reference.
#pragma once

#include <nlohmann/json.hpp>

namespace dc::bench {

// One entry per size: {op: "lstm", shape, batch, forward_ms, backward_ms, forward_gflops,
// backward_gflops, fwd_bwd_gflops, fraction_of_peak, reference_forward_ms,
// reference_backward_ms, speedup_vs_reference, max_abs_diff_vs_reference (forward, fast vs
// reference, checked before timing), vector_lanes (16 AVX-512, 8 AVX2, 4 SSE)}. FLOPs count the
// matrix products only: 2 * 4H * (I + H) per sequence step forward, twice that backward.
// A sample lasts >= sample_seconds; below 0.01 s (a --quick run) the reference is timed once.
nlohmann::json bench_lstm(double sample_seconds, double peak_gflops);

}  // namespace dc::bench
