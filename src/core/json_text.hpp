// JSON text written straight into a std::string, for the encoders that run per request or per
// span (log lines, OTLP export) where building a boost::json tree first costs more than the
// data: string escaping per RFC 8259 §7 and integers without a temporary string.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bastion::core {

// `s` as a JSON string, quotes included: '"', '\\' and control characters are escaped; other
// bytes are copied as they are (UTF-8 passes through unchanged).
void append_json_string(std::string& out, std::string_view s);

void append_decimal(std::string& out, std::int64_t value);
void append_decimal(std::string& out, std::uint64_t value);

}  // namespace bastion::core
