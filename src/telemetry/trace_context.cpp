#include "telemetry/trace_context.hpp"

#include <boost/json.hpp>

#include "core/hex.hpp"
#include "core/random.hpp"

namespace bastion::telemetry {

namespace {

// Trace, span and request ids need to be unique, not secret (W3C Trace Context §3.2.2.3 asks
// for randomness so that ids do not collide across vendors; nothing authenticates with them).
// A per-thread xoshiro256** seeded from the CSPRNG (core/random) gives that without a
// RAND_bytes call, and its getpid() fork check, per id on the request path.
class IdGenerator {
 public:
  IdGenerator() {
    for (auto& word : s_) word = core::random_u64();
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

bool all_zero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// `words` 64-bit words of the per-thread generator as 16 hex digits each, into `out`; returns
// the last word (the value of the last 16 digits).
std::uint64_t fill_hex(char* out, std::size_t words) {
  thread_local IdGenerator generator;
  std::uint64_t last = 0;
  for (std::size_t w = 0; w < words; ++w) {
    last = generator.next();
    core::hex_u64_into(last, out + w * 16);
  }
  return last;
}

template <std::size_t N>
HexId<N> random_id(bool nonzero) {
  char digits[N];
  do fill_hex(digits, N / 16);
  while (nonzero && all_zero(std::string_view(digits, N)));
  return HexId<N>(std::string_view(digits, N));
}

bool lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool printable_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::string_view string_field(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (!v || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  if (v.size() != 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  const std::string_view version = v.substr(0, 2), trace = v.substr(3, 32), parent = v.substr(36, 16),
                         flags = v.substr(53, 2);
  if (version != "00") return std::nullopt;
  if (!lower_hex(trace) || !lower_hex(parent) || !lower_hex(flags)) return std::nullopt;
  if (all_zero(trace) || all_zero(parent)) return std::nullopt;
  TraceContext c;
  c.trace_id.assign(trace);
  c.span_id.assign(parent);
  const int f = std::stoi(std::string(flags), nullptr, 16);
  c.sampled = (f & 0x01) != 0;
  return c;
}

std::string format_traceparent(const TraceContext& c) {
  std::string out = "00-";
  out.append(c.trace_id.view()).push_back('-');
  out.append(c.span_id.view());
  out.append(c.sampled ? "-01" : "-00");
  return out;
}

std::string sanitize_tracestate(std::string_view value) {
  if (value.size() > 512 || !printable_ascii(value)) return {};
  std::size_t members = 1;
  for (char c : value)
    if (c == ',') ++members;
  if (members > 32) return {};
  return std::string(value);
}

std::string sanitize_baggage(std::string_view value) {
  if (value.size() > 8192 || !printable_ascii(value)) return {};
  return std::string(value);
}

std::optional<TraceContext> context_from_meta(const boost::json::object& params) {
  const boost::json::value* meta = params.if_contains("_meta");
  if (!meta || !meta->is_object()) return std::nullopt;
  const auto& m = meta->get_object();
  auto parsed = parse_traceparent(string_field(m, "traceparent"));
  if (!parsed) return std::nullopt;
  parsed->tracestate = sanitize_tracestate(string_field(m, "tracestate"));
  parsed->baggage = sanitize_baggage(string_field(m, "baggage"));
  return parsed;
}

void inject_meta(boost::json::object& meta, const TraceContext& context) {
  if (!context.valid()) return;
  meta["traceparent"] = format_traceparent(context);
  if (!context.tracestate.empty()) meta["tracestate"] = context.tracestate;
  if (!context.baggage.empty()) meta["baggage"] = context.baggage;
}

// An all-zero trace or span id is invalid (§3.2.2.3, §3.2.2.4).
TraceId new_trace_id(std::uint64_t& low_bits) {
  char digits[32];
  do low_bits = fill_hex(digits, 2);
  while (all_zero(std::string_view(digits, sizeof digits)));
  return TraceId(std::string_view(digits, sizeof digits));
}
TraceId new_trace_id() {
  std::uint64_t low_bits;
  return new_trace_id(low_bits);
}
SpanId new_span_id() { return random_id<16>(true); }

}  // namespace bastion::telemetry
