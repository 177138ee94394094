#include "engine/device_allocator.h"

#include <bit>

#include "kernels/base/error.h"
#include "kernels/cuda/runtime.h"

namespace dc {

namespace {
constexpr size_t kSmallStep = 512;
constexpr size_t kSmallLimit = size_t{1} << 20;  // 1 MiB
}  // namespace

DeviceAllocator& DeviceAllocator::instance() {
  static auto* allocator = new DeviceAllocator;  // leaked on purpose: see the header
  return *allocator;
}

size_t DeviceAllocator::round_size(size_t bytes) {
  if (bytes <= kSmallLimit) return bytes <= kSmallStep ? kSmallStep : (bytes + kSmallStep - 1) / kSmallStep * kSmallStep;
  const size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

// In a build without CUDA the first raw_malloc throws "built without the CUDA backend".
void* DeviceAllocator::allocate(size_t bytes) {
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  void* p = nullptr;
  auto it = free_.find(size);
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= size;
    ++stats_.cache_hits;
  } else {
    try {
      p = kernels::cuda::raw_malloc(size);
    } catch (const Error&) {
      if (stats_.bytes_cached == 0) throw;
      kernels::cuda::clear_last_error();  // handled here: later launch checks must not see it
      release_cache_locked();             // out of memory, perhaps only because of the cache
      p = kernels::cuda::raw_malloc(size);
    }
    ++stats_.raw_allocations;
  }
  live_.emplace(p, size);
  stats_.bytes_in_use += size;
  return p;
}

void DeviceAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours (cannot happen via Storage); called from destructors: never throw
  const size_t size = it->second;
  live_.erase(it);
  free_[size].push_back(p);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
}

void DeviceAllocator::release_cache_locked() {
  if (stats_.bytes_cached == 0) return;
  kernels::cuda::synchronize();  // queued kernels may still use cached blocks
  for (auto& [size, blocks] : free_) {
    for (void* p : blocks) {
      kernels::cuda::raw_free(p);
      ++stats_.raw_frees;
    }
    blocks.clear();
  }
  free_.clear();
  stats_.bytes_cached = 0;
}

void DeviceAllocator::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cache_locked();
}

DeviceAllocatorStats DeviceAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace dc
