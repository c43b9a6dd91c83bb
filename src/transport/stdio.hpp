// The same server over stdin/stdout: one JSON-RPC message per line, nothing but MCP messages on
// stdout, logs on stderr (MCP-REQUIREMENTS item 68).
#pragma once

#include <iosfwd>
#include <memory>

#include "bastion/server.hpp"

namespace bastion::transport {

struct StdioOptions {
  std::size_t max_line_bytes = 4 * 1024 * 1024;
  std::size_t worker_threads = 4;
};

// Runs until end of input; returns the process exit code.
int run_stdio(std::shared_ptr<ServerDefinition> server, const StdioOptions& options, std::istream& in,
              std::ostream& out);

}  // namespace bastion::transport
