// A caching allocator for LibTorch's CPU tensors. Why: glibc serves large blocks with mmap and returns them
// to the OS on free, so every forward pass page-faults its whole working set in again (measured: ~530k minor
// faults and 1.1-1.5 s of system CPU per 4 x 10 s base-size batch). Keeping freed blocks for the next call
// removes that. Scope: only LibTorch CPU tensors of 64 KiB and more pass through it (the host's own memory
// is untouched); the cache is bounded (setCpuCacheLimit) and emptied when a model is disposed.
#pragma once

#include <c10/core/Allocator.h>

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

namespace w2v {

class CpuCache final : public c10::Allocator {
 public:
  static CpuCache& Instance();
  // Registers the cache as LibTorch's CPU allocator (once; later calls do nothing).
  static void Install();

  c10::DataPtr allocate(size_t n) override;
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }
  void copy_data(void* dest, const void* src, std::size_t count) const override { default_copy_data(dest, src, count); }

  // Frees every cached block. In-use blocks are unaffected.
  void Release();
  // 0 disables caching (blocks are freed at once). Lowering the limit frees cached blocks beyond it.
  void SetLimit(size_t bytes);
  size_t limit();
  size_t cached();

 private:
  CpuCache();
  static void Free(void* ptr);
  void Put(void* ptr);
  void TrimTo(size_t bytes);  // requires mutex_

  c10::Allocator* fallback_;
  std::mutex mutex_;
  std::unordered_map<void*, size_t> sizes_;  // every block made here, in use or cached
  std::multimap<size_t, void*> free_;        // cached blocks by size
  size_t cached_ = 0;
  size_t limit_;
};

}  // namespace w2v
