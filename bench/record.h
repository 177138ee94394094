// The one record type of every benchmark (CPU and CUDA, op table rows, GEMMs, the CUDA
// comparisons with cuDNN / cuBLAS): what ran, where, how long, how fast against the
// machine's peak, against which baseline timed in the same run, and how it was validated
// before it was timed.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace dc::bench {

struct BenchRecord {
  std::string op;      // e.g. "linear", "sgemm", "lstm"
  std::string shape;   // the case, e.g. "N=64 900->625"
  std::string device;  // "cpu" or "cuda"
  std::string pass;    // "forward", "backward" or "call"
  double ms = 0;       // median milliseconds per call
  double flops = 0;    // work of one call: FLOPs (compute-bound ops) ...
  double bytes = 0;    // ... or bytes moved (memory-bound ones); 0 when not counted
  double peak_gflops = 0, peak_gbs = 0;  // the device's measured or nominal peaks
  std::string reference;                 // the baseline: "reference" (our plain loops), "cudnn", "cublas", ...
  double reference_ms = 0;
  std::string validated_against;  // what the result was compared with before timing
  double max_error = -1;          // the largest |error| found then (-1: not validated)
  bool valid = true;              // false: the validation failed and nothing was timed
  std::string note;

  nlohmann::json to_json() const;
};

}  // namespace dc::bench
