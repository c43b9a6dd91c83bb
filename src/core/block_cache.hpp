// A per-thread cache of freed memory blocks, for objects that every request makes and drops
// (std::allocate_shared with CachingAllocator).
//
// Why not just malloc: glibc keeps at most 7 freed blocks of a size per thread (its tcache);
// past that, malloc and free take the arena's lock and its bins. An I/O thread serves a pass
// over up to dozens of ready connections before the first of their answers is written, so that
// many objects of a kind are alive at once and the eighth on went the slow way. Under
// bench/run.sh's load, GLIBC_TUNABLES=glibc.malloc.tcache_count=250 set for the server alone
// cut its CPU per request by 1.5 to 2.1 us with telemetry off (docs/operations.md).
#pragma once

#include <cstddef>
#include <new>

namespace bastion::core {

namespace detail {
// operator new and delete for `align`, over-aligned or not (the two must be paired alike).
inline void* heap_allocate(std::size_t size, std::size_t align) {
  if (align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator new(size, std::align_val_t{align});
  return ::operator new(size);
}
inline void heap_release(void* block, std::size_t align) noexcept {
  if (align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) return ::operator delete(block, std::align_val_t{align});
  ::operator delete(block);
}
}  // namespace detail

// Up to kKept freed blocks of `Size` bytes (alignment `Align`) per thread; more go back to the
// heap. A block freed on another thread than the one that took it joins that other thread's
// cache: blocks of one size are interchangeable.
template <std::size_t Size, std::size_t Align>
class BlockCache {
 public:
  static constexpr std::size_t kKept = 64;

  static void* take() {
    if (exited()) return detail::heap_allocate(Size, Align);
    Cache& cache = local();
    if (cache.count > 0) return cache.blocks[--cache.count];
    return detail::heap_allocate(Size, Align);
  }

  // How many blocks this thread's cache holds now.
  static std::size_t cached() { return exited() ? 0 : local().count; }

  static void give(void* block) {
    if (exited()) return detail::heap_release(block, Align);
    Cache& cache = local();
    if (cache.count < kKept) {
      cache.blocks[cache.count++] = block;
      return;
    }
    detail::heap_release(block, Align);
  }

 private:
  struct Cache {
    void* blocks[kKept];
    std::size_t count = 0;
    ~Cache() {
      // The thread is ending: its blocks go back, and any object it frees after this point
      // (another thread-local's destructor may drop one) goes straight to the heap.
      exited() = true;
      while (count > 0) detail::heap_release(blocks[--count], Align);
    }
  };
  static Cache& local() {
    thread_local Cache cache;
    return cache;
  }
  // Trivially destructible, so still readable while the thread's other locals are destroyed.
  static bool& exited() {
    thread_local bool value = false;
    return value;
  }
};

// std::allocate_shared<T>(CachingAllocator<T>(), ...) takes the object and its control block in
// one block from this thread's BlockCache for that size.
template <class T>
struct CachingAllocator {
  using value_type = T;
  CachingAllocator() = default;
  template <class U>
  CachingAllocator(const CachingAllocator<U>&) noexcept {}  // NOLINT: rebinding, as allocators do

  // One object (all allocate_shared asks for) from the cache; arrays from the heap.
  T* allocate(std::size_t n) {
    if (n != 1) return static_cast<T*>(detail::heap_allocate(n * sizeof(T), alignof(T)));
    return static_cast<T*>(BlockCache<sizeof(T), alignof(T)>::take());
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n != 1) return detail::heap_release(p, alignof(T));
    BlockCache<sizeof(T), alignof(T)>::give(p);
  }

  template <class U>
  bool operator==(const CachingAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace bastion::core
