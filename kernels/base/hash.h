// FNV-1a, 64-bit: a stable hash of a name (RNG stream ids, cache file names, simulated
// cell types). Stable across runs, platforms and compilers, unlike std::hash.
#pragma once

#include <cstdint>
#include <string_view>

namespace dc {

inline constexpr uint64_t kFnvOffsetBasis = 0xCBF29CE484222325ull;

// `basis` other than FNV's own only where existing outputs depend on it (engine/init.h).
constexpr uint64_t fnv1a(std::string_view s, uint64_t basis = kFnvOffsetBasis) {
  uint64_t h = basis;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
  return h;
}

}  // namespace dc
