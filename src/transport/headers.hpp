// MCP's HTTP header names (transports.mdx of each revision). Header names compare
// case-insensitively (RFC 9110 §5.1); these are the spellings we send.
#pragma once

#include <string_view>

namespace bastion::transport {

inline constexpr std::string_view kSessionHeader = "Mcp-Session-Id";
inline constexpr std::string_view kVersionHeader = "MCP-Protocol-Version";
inline constexpr std::string_view kMethodHeader = "Mcp-Method";
inline constexpr std::string_view kNameHeader = "Mcp-Name";

}  // namespace bastion::transport
