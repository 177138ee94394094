// A caching allocator for device (CUDA) memory, on top of kernels::cuda::raw_malloc/raw_free.
//
// Requests are rounded up to a size class: multiples of 512 bytes up to 1 MiB, above that
// multiples of 1/8 of the request's power of two (so at most 12.5% is wasted). A freed
// block goes onto its class's free list and the next request of the same class reuses it,
// so a training loop, which asks for the same sizes every step, stops calling cudaMalloc
// after its first step. All kernels run on the process's one stream, so a block freed on
// the host while queued kernels still use it may be handed out again at once: anything
// that writes the new owner's data is queued after them.
//
// When a raw allocation fails the cache is released and the allocation tried once more.
// Thread-safe (one mutex). In a build without the CUDA backend every allocation throws.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace dc {

struct DeviceAllocatorStats {
  size_t bytes_in_use = 0;     // handed out and not yet freed (rounded sizes)
  size_t bytes_cached = 0;     // held in the free lists
  size_t raw_allocations = 0;  // raw_malloc calls this allocator made
  size_t raw_frees = 0;        // raw_free calls this allocator made
  size_t cache_hits = 0;       // allocations served from the free lists
};

class DeviceAllocator {
 public:
  static DeviceAllocator& instance();  // never destroyed (blocks may be freed during exit)

  void* allocate(size_t bytes);  // never null; at least 512 bytes, 512-byte aligned
  void deallocate(void* p);      // back to the cache; null (or a pointer it did not hand out) is ignored
  void empty_cache();            // raw_free every cached block
  DeviceAllocatorStats stats() const;

  // The size class of a request (what a block of `bytes` really occupies).
  static size_t round_size(size_t bytes);

 private:
  DeviceAllocator() = default;
  void release_cache_locked();

  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // size class -> cached blocks
  std::unordered_map<void*, size_t> live_;               // block -> size class
  DeviceAllocatorStats stats_;
};

}  // namespace dc
