#include "core/thread_name.hpp"

#if defined(__linux__)
#include <pthread.h>

#include <cstring>
#endif

namespace bastion::core {

void name_this_thread(const char* name) {
#if defined(__linux__)
  // pthread_setname_np refuses names of 16 bytes or more (ERANGE): cut to what the kernel keeps.
  char cut[16] = {};
  std::strncpy(cut, name, sizeof cut - 1);
  pthread_setname_np(pthread_self(), cut);
#else
  (void)name;
#endif
}

}  // namespace bastion::core
