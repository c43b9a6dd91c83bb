// JSON-RPC 2.0 and MCP error codes (JSON-RPC 2.0 §5.1; MCP basic/index.mdx §Error Codes).
#pragma once

namespace bastion::jsonrpc {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;

// De facto codes of the TypeScript SDK's Streamable HTTP transport (MCP-REQUIREMENTS item 66).
inline constexpr int kServerError = -32000;      // missing session id, bad transport state
inline constexpr int kSessionNotFound = -32001;  // unknown or ended session

// Legacy-era MCP codes (2025-11-25 and earlier).
inline constexpr int kResourceNotFound = -32002;
inline constexpr int kUrlElicitationRequired = -32042;

// Modern-era MCP codes (2026-07-28).
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingRequiredClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

}  // namespace bastion::jsonrpc
