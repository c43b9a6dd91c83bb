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

// The name the kernel shows for a new thread that named itself `name`.
std::string shown_after_naming(const char* name) {
  std::string seen;
  std::thread([&] {
    name_this_thread(name);
    seen = name_of_this_thread();
  }).join();
  return seen;
}

TEST(ThreadName, TheKernelShowsTheName) { EXPECT_EQ(shown_after_naming("log-writer"), "log-writer"); }

TEST(ThreadName, ALongNameIsCutToWhatLinuxKeeps) {
  EXPECT_EQ(shown_after_naming("a-name-longer-than-fifteen-bytes"), "a-name-longer-t");
}
#endif

}  // namespace
}  // namespace bastion::core
