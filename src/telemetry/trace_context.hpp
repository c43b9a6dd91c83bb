// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
// headers, and the same three fields (plus W3C `baggage`) carried in MCP `params._meta`, as the
// OpenTelemetry MCP semantic conventions propagate them.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <cstring>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace bastion::telemetry {

// A fixed-length id in lowercase hex (trace ids 32 digits, span and request ids 16; also the
// "sha256:<hex>" argument digest), held inline: ids are made and copied several times per
// request, and a std::string of 16 or more characters allocates every time (it outgrows the
// small-string buffer).
template <std::size_t N>
class HexId {
 public:
  static constexpr std::size_t kSize = N;  // the length of every id it holds
  HexId() = default;
  explicit HexId(std::string_view hex) { assign(hex); }
  HexId& operator=(std::string_view hex) {
    assign(hex);
    return *this;
  }
  // Holds `hex` when it has exactly N characters; empty otherwise.
  void assign(std::string_view hex) {
    size_ = hex.size() == N ? N : 0;
    if (size_) std::memcpy(digits_, hex.data(), N);
  }
  std::string_view view() const { return {digits_, size_}; }
  operator std::string_view() const { return view(); }  // NOLINT: reads like the string it replaces
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  friend bool operator==(const HexId& a, const HexId& b) { return a.view() == b.view(); }
  friend bool operator==(const HexId& a, std::string_view b) { return a.view() == b; }
  friend std::ostream& operator<<(std::ostream& out, const HexId& id) { return out << id.view(); }

 private:
  char digits_[N] = {};
  std::uint8_t size_ = 0;
};
using TraceId = HexId<32>;
using SpanId = HexId<16>;
using RequestId = HexId<16>;

struct TraceContext {
  TraceId trace_id;      // 32 lowercase hex digits, not all zero
  SpanId span_id;        // 16 lowercase hex digits, not all zero
  bool sampled = false;  // trace-flags bit 0
  std::string tracestate;  // passed on as received (already bounded and checked)
  std::string baggage;     // passed on as received; never recorded in spans or logs

  bool valid() const { return trace_id.size() == 32 && span_id.size() == 16; }
};

// Parses a traceparent value strictly: version 00, exactly 55 characters, lowercase hex, a
// non-zero trace id and parent id (§3.2.2). Anything else is nullopt and the request starts a
// new trace (§3.2: a vendor MUST NOT... use an invalid traceparent; it restarts the trace).
// Higher versions are refused too: we cannot know their format.
std::optional<TraceContext> parse_traceparent(std::string_view value);

// "00-<trace-id>-<span-id>-<flags>".
std::string format_traceparent(const TraceContext& context);

// tracestate (§3.3): kept when at most 512 characters of printable ASCII and at most 32
// list-members; otherwise dropped (the spec allows discarding it rather than truncating).
std::string sanitize_tracestate(std::string_view value);
// baggage (W3C Baggage §3.3.2 limits): kept when at most 8192 bytes of printable ASCII.
std::string sanitize_baggage(std::string_view value);

// The context in an MCP request's params._meta (keys traceparent, tracestate, baggage), or
// nullopt when there is none or its traceparent is invalid.
std::optional<TraceContext> context_from_meta(const boost::json::object& params);

// Adds traceparent (and tracestate, baggage when set) to an outbound MCP `_meta` object.
void inject_meta(boost::json::object& meta, const TraceContext& context);

// New random ids: unique without coordination (§3.2.2.3), from a per-thread generator seeded
// by the CSPRNG in core/random. Not for anything secret.
TraceId new_trace_id();
// The same, with the id's low 64 bits (its last 16 digits) as a number: the ratio sampler's
// input, without parsing the digits back.
TraceId new_trace_id(std::uint64_t& low_bits);
SpanId new_span_id();

}  // namespace bastion::telemetry
