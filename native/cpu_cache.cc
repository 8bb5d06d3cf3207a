#include "cpu_cache.h"

#include <c10/core/CPUAllocator.h>
#include <c10/util/Exception.h>

#include <sys/mman.h>

#include <cstdlib>

namespace w2v {
namespace {
constexpr size_t kMinBlock = 64 << 10;  // smaller blocks stay with the default allocator (malloc's heap)
constexpr size_t kAlignment = 64;       // c10's alignment for CPU tensors
constexpr size_t kDefaultLimit = size_t(2) << 30;
constexpr size_t kHugePage = size_t(2) << 20;

// Large blocks on 2 MiB boundaries, marked for transparent huge pages (kernels set to "madvise", as this machine's,
// give them on request only). Why: a new block is fresh memory, and faulting it in 4 KiB at a time costs about as much
// as computing in it: the default model on a batch of 4 x 10.4 s whose blocks were all new took 557 ms with 4 KiB pages
// (22,190 faults), 448 ms with huge pages, 207 ms once cached (1 thread, AMD EPYC VM). PyTorch's THP_MEM_ALLOC_ENABLE
// does the same for its own allocator.
void* AllocateBlock(size_t size) {
  const bool huge = size >= 2 * kHugePage;
  void* ptr = nullptr;
  if (posix_memalign(&ptr, huge ? kHugePage : kAlignment, size) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  if (huge) madvise(ptr, size / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice only: without THP it changes nothing
#endif
  return ptr;
}

// Block sizes: whole pages below 1 MiB, then eight classes per octave (at most 1/8 more than asked). Why classes: the
// tensors of inputs a few percent apart (a server's requests, a job's files) then share blocks instead of each faulting
// in fresh memory. Measured on batches of 4 growing by 0.37 s from 10 s (default model, 1 thread): the first call at
// each new length took 312-485 ms with blocks in steps of 64 KiB, 209-273 ms with classes except where a class was
// crossed, against 200-250 ms cached.
size_t RoundUp(size_t n) {
  size_t grain = 4096;
  if (n >= (size_t(1) << 20)) {
    grain = size_t(1) << 17;  // 1 MiB / 8
    while (grain * 16 <= n) grain *= 2;
  }
  return (n + grain - 1) / grain * grain;
}
}  // namespace

CpuCache::CpuCache() : fallback_(c10::GetDefaultCPUAllocator()), limit_(kDefaultLimit) {}

CpuCache& CpuCache::Instance() {
  // Never destroyed: tensors may be freed during static destruction at exit.
  static CpuCache* cache = new CpuCache();
  return *cache;
}

void CpuCache::Install() {
  static std::once_flag once;
  std::call_once(once, [] { c10::SetCPUAllocator(&Instance(), /*priority=*/100); });
}

c10::DataPtr CpuCache::allocate(size_t n) {
  if (n < kMinBlock) return fallback_->allocate(n);
  const size_t size = RoundUp(n);
  void* ptr = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Best fit, wasting at most half: same-shaped calls find their blocks again exactly, and inputs of other lengths
    // (a batch job's files, a server's requests) reuse blocks a little larger instead of faulting in new ones. Measured
    // on bench:batch's 236 pieces (default model, 2 replicas of 1 thread): system CPU 1.25-1.51 s with at most an
    // eighth wasted, 0.94-0.98 s with half (0.89 s with all), model-alone time 10.7-11.3 s -> 10.4-10.6 s.
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first <= size + size / 2) {
      ptr = it->second;
      cached_ -= it->first;
      free_.erase(it);
    }
  }
  if (!ptr) {
    if (!(ptr = AllocateBlock(size))) {
      Release();  // give the cache back and try once more before reporting out of memory
      if (!(ptr = AllocateBlock(size))) {
        TORCH_CHECK_WITH(OutOfMemoryError, false, "DefaultCPUAllocator: can't allocate memory: you tried to allocate ", n, " bytes.");
      }
    }
    std::lock_guard<std::mutex> lock(mutex_);
    sizes_[ptr] = size;
  }
  return {ptr, ptr, &Free, c10::Device(c10::DeviceType::CPU)};
}

void CpuCache::Free(void* ptr) {
  if (ptr) Instance().Put(ptr);
}

void CpuCache::Put(void* ptr) {
  std::unique_lock<std::mutex> lock(mutex_);
  const auto it = sizes_.find(ptr);
  if (it == sizes_.end()) {
    // A small block from the default allocator reaching us through raw_deallocate.
    lock.unlock();
    fallback_->raw_deleter()(ptr);
    return;
  }
  const size_t size = it->second;
  if (cached_ + size <= limit_) {
    free_.emplace(size, ptr);
    cached_ += size;
  } else {
    sizes_.erase(it);
    std::free(ptr);
  }
}

void CpuCache::TrimTo(size_t bytes) {
  // Largest blocks first: they are the rarest to reuse and the most memory.
  while (cached_ > bytes && !free_.empty()) {
    auto it = std::prev(free_.end());
    cached_ -= it->first;
    sizes_.erase(it->second);
    std::free(it->second);
    free_.erase(it);
  }
}

void CpuCache::Release() {
  std::lock_guard<std::mutex> lock(mutex_);
  TrimTo(0);
}

void CpuCache::SetLimit(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  limit_ = bytes;
  TrimTo(bytes);
}

size_t CpuCache::limit() {
  std::lock_guard<std::mutex> lock(mutex_);
  return limit_;
}

size_t CpuCache::cached() {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace w2v
