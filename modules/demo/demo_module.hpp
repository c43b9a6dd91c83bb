// The `demo` built-in module: a few genuinely useful, safe tools (echo, current_time,
// calculate, search_text), one resource and one prompt, so that every MCP feature shows up in a
// client connected to a fresh server.
//
// Settings (the module's block in the config file; unknown keys are errors, DESIGN.md §5):
//   root:           folder that `search_text` may read. Without it the tool is not registered.
//   max_files:      files read per search            (default 5000)
//   max_file_bytes: larger files are skipped          (default 1048576)
//   max_matches:    matching lines per search         (default 100)
//   zoneinfo_dir:   compiled tz database              (default $TZDIR, else /usr/share/zoneinfo)
#pragma once

#include "bastion/module.hpp"

namespace bastion::modules::demo {

// Throws std::invalid_argument for bad settings (a start-up error with one clear message).
void install(ServerDefinition& server, const ModuleOptions& options);

}  // namespace bastion::modules::demo
