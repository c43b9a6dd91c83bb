// The `conformance` built-in module: every fixture the official MCP conformance suite expects on
// the route under test (shared/spec/CONFORMANCE.md), for @modelcontextprotocol/conformance 0.1.16
// (2025 wire) and 0.2.0-alpha.12 (adds the 2026-07-28 wire: MRTR, stateless capability checks,
// subscriptions/listen hooks).
//
// Never serve this module on a production route: its tools exist to be poked at by a test suite
// (one of them rewrites the tool list of the whole route).
//
// Takes no settings.
#pragma once

#include "bastion/module.hpp"

namespace bastion::modules::conformance {

// Throws std::invalid_argument when given settings (it has none).
void install(ServerDefinition& server, const ModuleOptions& options);

}  // namespace bastion::modules::conformance
