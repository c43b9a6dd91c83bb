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

// Up to kKept freed blocks of `Size` bytes (alignment `Align`) per thread; more go back to the
// heap. A block freed on another thread than the one that took it joins that other thread's
// cache: blocks of one size are interchangeable.
template <std::size_t Size, std::size_t Align>
class BlockCache {
 public:
  static constexpr std::size_t kKept = 64;

  static void* take() {
    if (exited()) return allocate();
    Cache& cache = local();
    if (cache.count > 0) return cache.blocks[--cache.count];
    return allocate();
  }

  // How many blocks this thread's cache holds now.
  static std::size_t cached() { return exited() ? 0 : local().count; }

  static void give(void* block) {
    if (exited()) return release(block);
    Cache& cache = local();
    if (cache.count < kKept) {
      cache.blocks[cache.count++] = block;
      return;
    }
    release(block);
  }

 private:
  static constexpr bool kOverAligned = Align > __STDCPP_DEFAULT_NEW_ALIGNMENT__;

  static void* allocate() {
    if constexpr (kOverAligned) return ::operator new(Size, std::align_val_t{Align});
    else return ::operator new(Size);
  }
  static void release(void* block) {
    if constexpr (kOverAligned) ::operator delete(block, std::align_val_t{Align});
    else ::operator delete(block);
  }

  struct Cache {
    void* blocks[kKept];
    std::size_t count = 0;
    ~Cache() {
      // The thread is ending: its blocks go back, and any object it frees after this point
      // (another thread-local's destructor may drop one) goes straight to the heap.
      exited() = true;
      while (count > 0) release(blocks[--count]);
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

  T* allocate(std::size_t n) {
    if (n != 1) return static_cast<T*>(Bulk::allocate(n));
    return static_cast<T*>(BlockCache<sizeof(T), alignof(T)>::take());
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (n != 1) return Bulk::release(p);
    BlockCache<sizeof(T), alignof(T)>::give(p);
  }

  template <class U>
  bool operator==(const CachingAllocator<U>&) const noexcept {
    return true;
  }

 private:
  // Arrays (never made by allocate_shared, here for completeness): the plain heap.
  struct Bulk {
    static void* allocate(std::size_t n) {
      if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__)
        return ::operator new(n * sizeof(T), std::align_val_t{alignof(T)});
      else
        return ::operator new(n * sizeof(T));
    }
    static void release(void* p) {
      if constexpr (alignof(T) > __STDCPP_DEFAULT_NEW_ALIGNMENT__) ::operator delete(p, std::align_val_t{alignof(T)});
      else ::operator delete(p);
    }
  };
};

}  // namespace bastion::core
