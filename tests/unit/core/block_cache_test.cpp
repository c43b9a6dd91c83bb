#include "core/block_cache.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace bastion::core {
namespace {

struct Tracked : std::enable_shared_from_this<Tracked> {
  explicit Tracked(int v, int& live) : value(v), live_count(live) { ++live_count; }
  ~Tracked() { --live_count; }
  int value;
  int& live_count;
  char payload[200] = {};
};

std::shared_ptr<Tracked> make(int value, int& live) {
  return std::allocate_shared<Tracked>(CachingAllocator<Tracked>(), value, live);
}

TEST(BlockCache, ObjectsAreBuiltAndDestroyedAndTheirBlockIsReused) {
  int live = 0;
  const void* first = nullptr;
  {
    auto a = make(7, live);
    EXPECT_EQ(live, 1);
    EXPECT_EQ(a->value, 7);
    EXPECT_EQ(a->shared_from_this().get(), a.get());  // allocate_shared keeps enable_shared_from_this
    first = a.get();
  }
  EXPECT_EQ(live, 0);
  // The freed block is this thread's most recently cached one: the next object gets it.
  auto b = make(8, live);
  EXPECT_EQ(b.get(), first);
  EXPECT_EQ(b->value, 8);
}

using Cache256 = BlockCache<256, alignof(std::max_align_t)>;

TEST(BlockCache, KeepsAtMostItsLimitAndServesEveryLiveObjectADistinctBlock) {
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < Cache256::kKept + 10; ++i) blocks.push_back(Cache256::take());
  EXPECT_EQ(Cache256::cached(), 0u);
  EXPECT_EQ(std::set<void*>(blocks.begin(), blocks.end()).size(), blocks.size());
  for (void* b : blocks) Cache256::give(b);  // the last 10 go back to the heap
  EXPECT_EQ(Cache256::cached(), Cache256::kKept);
  std::vector<void*> again;
  for (std::size_t i = 0; i < Cache256::kKept; ++i) again.push_back(Cache256::take());
  EXPECT_EQ(Cache256::cached(), 0u);
  // Taken back from the cache: exactly the first kKept blocks given.
  EXPECT_EQ(std::set<void*>(again.begin(), again.end()),
            std::set<void*>(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(Cache256::kKept)));
  for (void* b : again) Cache256::give(b);
}

TEST(BlockCache, ABlockFreedOnAnotherThreadJoinsThatThreadsCache) {
  void* block = Cache256::take();
  const std::size_t here = Cache256::cached();
  std::size_t there_after_give = 0;
  void* taken_there = nullptr;
  std::thread other([&] {
    Cache256::give(block);
    there_after_give = Cache256::cached();
    taken_there = Cache256::take();
    Cache256::give(taken_there);  // released to the heap when the thread ends
  });
  other.join();
  EXPECT_EQ(there_after_give, 1u);
  EXPECT_EQ(taken_there, block);
  EXPECT_EQ(Cache256::cached(), here);  // this thread's cache did not change
}

struct alignas(64) Aligned {
  std::uint64_t words[3] = {};
};

TEST(BlockCache, OverAlignedTypesGetAlignedBlocks) {
  std::vector<std::shared_ptr<Aligned>> objects;
  for (int i = 0; i < 20; ++i) objects.push_back(std::allocate_shared<Aligned>(CachingAllocator<Aligned>()));
  for (const auto& o : objects) EXPECT_EQ(reinterpret_cast<std::uintptr_t>(o.get()) % 64, 0u);
}

}  // namespace
}  // namespace bastion::core
