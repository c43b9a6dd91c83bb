// JSON text written straight into a std::string, for the encoders that run per request or per
// span (log lines, OTLP export) where building a boost::json tree first costs more than the
// data: string escaping per RFC 8259 §7 and integers without a temporary string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bastion::core {

// `s` as a JSON string, quotes included: '"', '\\' and control characters are escaped; other
// bytes are copied as they are (UTF-8 passes through unchanged).
void append_json_string(std::string& out, std::string_view s);

// The most bytes a JSON string of `size` input bytes takes: every byte escaped as \u00XX, and
// the quotes.
constexpr std::size_t json_string_bound(std::size_t size) { return 6 * size + 2; }
// append_json_string into memory that holds json_string_bound(s.size()) bytes: for writers that
// size a whole line once instead of growing a string piece by piece. Returns the end.
char* write_json_string(char* out, std::string_view s);

void append_decimal(std::string& out, std::int64_t value);
void append_decimal(std::string& out, std::uint64_t value);

}  // namespace bastion::core
