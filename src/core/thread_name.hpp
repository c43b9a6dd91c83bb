// Names for the threads Bastion starts, as `top -H`, `ps -L`, /proc/<pid>/task/*/comm and
// debuggers show them: an operator can then tell the I/O threads from the log writer or the
// span exporter when one of them takes the CPU.
#pragma once

namespace bastion::core {

// Names the calling thread. Linux keeps the first 15 bytes; elsewhere it does nothing.
void name_this_thread(const char* name);

}  // namespace bastion::core
