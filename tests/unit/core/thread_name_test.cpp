// core::name_this_thread: the name the kernel shows for the thread (/proc/self/task/<tid>/comm),
// cut to the 15 bytes Linux keeps instead of refused.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "core/thread_name.hpp"

namespace bastion::core {
namespace {

#if defined(__linux__)
std::string name_of_this_thread() {
  std::ifstream comm("/proc/self/task/" + std::to_string(::syscall(SYS_gettid)) + "/comm");
  std::string name;
  std::getline(comm, name);
  return name;
}

TEST(ThreadName, TheKernelShowsTheName) {
  std::string seen;
  std::thread([&] {
    name_this_thread("log-writer");
    seen = name_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "log-writer");
}

TEST(ThreadName, ALongNameIsCutToWhatLinuxKeeps) {
  std::string seen;
  std::thread([&] {
    name_this_thread("a-name-longer-than-fifteen-bytes");
    seen = name_of_this_thread();
  }).join();
  EXPECT_EQ(seen, "a-name-longer-t");
}
#endif

}  // namespace
}  // namespace bastion::core
