#include "bench/record.h"

namespace dc::bench {

nlohmann::json BenchRecord::to_json() const {
  nlohmann::json j = {{"op", op}, {"shape", shape}, {"device", device}, {"pass", pass}};
  if (!valid) {
    j["valid"] = false;
    j["validated_against"] = validated_against;
    j["max_error"] = max_error;
    j["note"] = note;
    return j;
  }
  j["ms"] = ms;
  if (flops > 0 && ms > 0) {
    j["gflops"] = flops / ms / 1e6;
    if (peak_gflops > 0) j["fraction_of_peak"] = flops / ms / 1e6 / peak_gflops;
  } else if (bytes > 0 && ms > 0) {
    j["gbs"] = bytes / ms / 1e6;
    if (peak_gbs > 0) j["fraction_of_peak"] = bytes / ms / 1e6 / peak_gbs;
  }
  if (!reference.empty()) {
    j["reference"] = reference;
    j["reference_ms"] = reference_ms;
    if (ms > 0) j["speedup_vs_reference"] = reference_ms / ms;
  }
  if (!validated_against.empty()) {
    j["validated_against"] = validated_against;
    j["max_error"] = max_error;
  }
  if (!note.empty()) j["note"] = note;
  return j;
}

}  // namespace dc::bench
