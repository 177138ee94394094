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

// SplitMix64's finaliser: a 64-bit value scrambled so that nearby inputs land far apart.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A well-mixed 64-bit hash of a name (simulated cell types' random streams).
constexpr uint64_t name_hash(std::string_view s) { return splitmix64(fnv1a(s)); }

}  // namespace dc
