// core::SpinLock: mutual exclusion under contention, and try_lock's answers.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <vector>

#include "core/spin_lock.hpp"

namespace bastion::core {
namespace {

TEST(SpinLock, ContendedIncrementsAreNeverLost) {
  // A plain counter: without mutual exclusion, concurrent read-modify-writes lose updates.
  SpinLock lock;
  long counter = 0;
  constexpr int kThreads = 4;
  constexpr int kIncrements = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        std::lock_guard guard(lock);
        const long seen = counter;
        if (i % 64 == 0) std::this_thread::yield();  // hold it across a yield now and then
        counter = seen + 1;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, long{kThreads} * kIncrements);
}

TEST(SpinLock, TryLockFailsWhileHeldAndSucceedsOnceReleased) {
  SpinLock lock;
  ASSERT_TRUE(lock.try_lock());
  bool other_got_it = true;
  std::thread([&] { other_got_it = lock.try_lock(); }).join();
  EXPECT_FALSE(other_got_it);
  lock.unlock();
  std::thread([&] {
    other_got_it = lock.try_lock();
    if (other_got_it) lock.unlock();
  }).join();
  EXPECT_TRUE(other_got_it);
}

}  // namespace
}  // namespace bastion::core
