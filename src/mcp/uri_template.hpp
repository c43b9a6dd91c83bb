// Matching URIs against RFC 6570 templates: level 1 ({var}, matches one path segment) and
// reserved expansion ({+var}, may span '/'), which is what resource templates use in practice.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace bastion::mcp {

// The variables when `uri` matches `uri_template`, else nullopt. Matched values are not
// percent-decoded (handlers see exactly what the client sent).
std::optional<std::map<std::string, std::string>> match_uri_template(std::string_view uri_template,
                                                                     std::string_view uri);

}  // namespace bastion::mcp
