// The observed request pipeline end to end in memory: a real McpEndpoint behind
// Telemetry::observe(), with the OTLP exporter's Fetcher and the log sink as the only fakes.
// One request is one trace (header or _meta context), spans nest, the request line carries its
// fields, and no secret reaches logs, audit records, metric labels or spans.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <future>
#include <thread>

#include "core/hex.hpp"
#include "core/sha256.hpp"
#include "core/worker_pool.hpp"
#include "support/fake_exchange.hpp"
#include "telemetry/log.hpp"
#include "telemetry/telemetry.hpp"
#include "transport/mcp_endpoint.hpp"
#include "support/echo_tool.hpp"

using namespace bastion;
using bastion::testing::FakeExchange;
using ::testing::HasSubstr;
namespace json = boost::json;

namespace {

constexpr const char* kAccept = "application/json, text/event-stream";
constexpr const char* kHeaderTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr const char* kMetaTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

std::shared_ptr<ServerDefinition> definition() {
  auto def = std::make_shared<ServerDefinition>();
  def->add_tool(bastion::testing::echo_tool());
  Tool context;  // answers with the trace context its handler sees (for outbound _meta)
  context.name = "context";
  context.description = "Shows trace_meta()";
  context.handler = [](const json::object&, RequestContext& ctx) -> ToolOutcome {
    return ToolResult::text(json::serialize(ctx.trace_meta()));
  };
  def->add_tool(context);
  Tool failing;  // a tool error (isError), not a JSON-RPC error
  failing.name = "failing";
  failing.description = "Always fails";
  failing.handler = [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::error("no"); };
  def->add_tool(failing);
  return def;
}

struct Harness {
  std::ostringstream log_stream;
  std::mutex otlp_mutex;
  std::vector<std::string> otlp_bodies;
  std::string audit_path;
  std::unique_ptr<telemetry::Telemetry> tel;
  telemetry::RouteTag tag;
  std::unique_ptr<transport::McpEndpoint> endpoint;
  std::shared_ptr<ServerDefinition> def = definition();

  // `digest_key`: the argument digests' key (empty: the random key of a process without one).
  explicit Harness(bool log_arguments = false, std::string digest_key = {}) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_stream);
    telemetry::LoggingOptions lo;
    lo.format = telemetry::LogFormat::json;
    telemetry::setup_logging(lo, sink);
    audit_path = (std::filesystem::temp_directory_path() /
                  ("bastion-pipeline-audit-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++)))
                     .string();
    std::filesystem::remove(audit_path);
    telemetry::TelemetryOptions o;
    o.tracing.enabled = true;
    o.tracing.sample_ratio = 1.0;
    o.audit = telemetry::AuditOptions{true, telemetry::AuditOptions::Sink::file, audit_path};
    o.argument_digest_key = std::move(digest_key);
    tel = std::make_unique<telemetry::Telemetry>(
        o, [this](const http::ClientRequest& r, const http::ClientOptions&) -> Result<http::ClientResponse> {
          std::lock_guard lock(otlp_mutex);
          otlp_bodies.push_back(r.body);
          http::ClientResponse ok;
          ok.status = 200;
          return ok;
        });
    tag.route = "/mcp";
    tag.log_tool_arguments = log_arguments;
    tel->bind_route(tag);  // as apps/bastion/app.cpp does
    transport::EndpointOptions eo;
    eo.telemetry = tel.get();
    endpoint = std::make_unique<transport::McpEndpoint>(def, eo);
  }
  ~Harness() {
    endpoint.reset();
    tel.reset();
    std::filesystem::remove(audit_path);
    telemetry::setup_logging(telemetry::LoggingOptions{});
  }
  static int& counter() {
    static int n = 0;
    return n;
  }

  std::shared_ptr<FakeExchange> post(const std::string& target, const std::string& body,
                                     std::vector<std::pair<std::string, std::string>> headers,
                                     const telemetry::RouteTag* route_tag = nullptr) {
    headers.emplace_back("Accept", kAccept);
    headers.emplace_back("Content-Type", "application/json");
    auto fake = FakeExchange::make("POST", target, body, std::move(headers));
    tel->observe(*fake, route_tag ? *route_tag : tag);
    // The app's guard step, as apps/bastion/app.cpp runs it.
    auto refused = tel->first_step(*fake, "guard", [] { return std::optional<int>(); });
    EXPECT_FALSE(refused);
    endpoint->handle(fake);
    EXPECT_TRUE(fake->wait_answered());
    return fake;
  }

  std::string initialize(std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto r = post("/mcp",
                  R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})",
                  std::move(headers));
    EXPECT_EQ(r->status(), 200) << r->body();
    return r->header("Mcp-Session-Id");
  }

  static std::vector<std::pair<std::string, std::string>> session_headers(const std::string& session) {
    return {{"Mcp-Session-Id", session}, {"MCP-Protocol-Version", "2025-11-25"}};
  }

  std::shared_ptr<FakeExchange> call(const std::string& session, const std::string& tool, json::object arguments,
                                     std::vector<std::pair<std::string, std::string>> headers = {},
                                     json::object meta = {}, const std::string& target = "/mcp") {
    json::object params{{"name", tool}, {"arguments", std::move(arguments)}};
    if (!meta.empty()) params["_meta"] = std::move(meta);
    json::object msg{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/call"}, {"params", std::move(params)}};
    for (auto& h : session_headers(session)) headers.push_back(std::move(h));
    return post(target, json::serialize(msg), std::move(headers));
  }

  // Every span exported so far (flushes the exporter: call once, at the end).
  std::vector<json::object> spans() {
    tel->exporter()->shutdown();
    std::vector<json::object> out;
    std::lock_guard lock(otlp_mutex);
    for (const auto& body : otlp_bodies) {
      const json::value parsed = json::parse(body);
      for (const auto& rs : parsed.at("resourceSpans").as_array())
        for (const auto& ss : rs.at("scopeSpans").as_array())
          for (const auto& s : ss.at("spans").as_array()) out.push_back(s.as_object());
    }
    return out;
  }

  std::vector<json::object> request_lines() {
    std::vector<json::object> out;
    std::istringstream in(log_stream.str());
    for (std::string line; std::getline(in, line);) {
      auto v = json::parse(line);
      if (v.as_object().at("logger").as_string() == "request") out.push_back(v.as_object());
    }
    return out;
  }

  std::string audit_text() {
    std::ifstream in(audit_path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

std::string attr(const json::object& span, std::string_view key) {
  for (const auto& a : span.at("attributes").as_array())
    if (a.at("key").as_string() == key) {
      const auto& v = a.at("value").as_object();
      if (v.contains("stringValue")) return std::string(v.at("stringValue").as_string());
      if (v.contains("intValue")) return std::string(v.at("intValue").as_string());
    }
  return {};
}

std::string str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The spans of one trace, with their parent links checked: exactly one root whose parent is
// `remote_parent`, every other span's parent inside the trace.
void expect_one_nested_trace(const std::vector<json::object>& all, const std::string& trace_id,
                             const std::string& remote_parent, std::size_t expected_spans) {
  std::vector<json::object> mine;
  for (const auto& s : all)
    if (str(s, "traceId") == trace_id) mine.push_back(s);
  ASSERT_EQ(mine.size(), expected_spans);
  std::set<std::string> ids;
  for (const auto& s : mine) ids.insert(str(s, "spanId"));
  int roots = 0;
  for (const auto& s : mine) {
    const std::string parent = str(s, "parentSpanId");
    if (parent == remote_parent) {
      ++roots;
      EXPECT_EQ(s.at("kind").as_int64(), 2) << "the request span is a SERVER span";
      EXPECT_EQ(str(s, "name"), "POST /mcp");
    } else {
      EXPECT_TRUE(ids.contains(parent)) << str(s, "name") << " has a parent outside the trace";
    }
    EXPECT_LE(std::stoull(str(s, "startTimeUnixNano")), std::stoull(str(s, "endTimeUnixNano")));
  }
  EXPECT_EQ(roots, 1);
}

}  // namespace

TEST(Pipeline, HeaderTraceContextMakesOneNestedTrace) {
  Harness h;
  const std::string session = h.initialize();
  auto r = h.call(session, "echo", {{"message", "hi"}}, {{"traceparent", kHeaderTraceparent}});
  ASSERT_EQ(r->status(), 200);
  const auto spans = h.spans();
  // request span, guard step, tools/call operation
  expect_one_nested_trace(spans, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 3);
  for (const auto& s : spans) {
    if (str(s, "name") != "tools/call echo") continue;
    EXPECT_EQ(attr(s, "mcp.method.name"), "tools/call");
    EXPECT_EQ(attr(s, "gen_ai.tool.name"), "echo");
    EXPECT_EQ(attr(s, "mcp.protocol.version"), "2025-11-25");
    EXPECT_EQ(attr(s, "mcp.session.id"), telemetry::session_digest(session));
  }
  // The guard (the pipeline's first step) and the operation start when the request arrived,
  // with the request span: OpenTelemetry's mcp.server.operation.duration runs from receipt.
  std::map<std::string, json::object> by_name;
  for (const auto& s : spans)
    if (str(s, "traceId") == "4bf92f3577b34da6a3ce929d0e0e4736") by_name[str(s, "name")] = s;
  ASSERT_TRUE(by_name.contains("POST /mcp") && by_name.contains("guard") && by_name.contains("tools/call echo"));
  const auto time = [&](const char* span, const char* key) { return std::stoull(str(by_name[span], key)); };
  EXPECT_EQ(time("guard", "startTimeUnixNano"), time("POST /mcp", "startTimeUnixNano"));
  EXPECT_EQ(time("tools/call echo", "startTimeUnixNano"), time("POST /mcp", "startTimeUnixNano"));
  EXPECT_LE(time("tools/call echo", "endTimeUnixNano"), time("POST /mcp", "endTimeUnixNano"));
}

TEST(Pipeline, MetaTraceContextWinsAndMakesOneNestedTrace) {
  Harness h;
  const std::string session = h.initialize();
  auto r = h.call(session, "echo", {{"message", "hi"}}, {}, json::object{{"traceparent", kMetaTraceparent}});
  ASSERT_EQ(r->status(), 200);
  // Both at once: _meta wins, and the request span joins it too (one trace, not two).
  auto both = h.call(session, "echo", {{"message", "hi"}}, {{"traceparent", kHeaderTraceparent}},
                     json::object{{"traceparent", "00-11111111111111111111111111111111-2222222222222222-01"}});
  ASSERT_EQ(both->status(), 200);
  const auto spans = h.spans();
  expect_one_nested_trace(spans, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 3);
  expect_one_nested_trace(spans, "11111111111111111111111111111111", "2222222222222222", 3);
  for (const auto& s : spans) EXPECT_NE(str(s, "traceId"), "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST(Pipeline, HandlersSeeTheOperationContextForOutboundMeta) {
  Harness h;
  const std::string session = h.initialize();
  auto r = h.call(session, "context", {}, {{"traceparent", kHeaderTraceparent}});
  ASSERT_EQ(r->status(), 200);
  const json::value body = json::parse(r->body());
  const std::string result(body.at("result").at("content").at(0).at("text").as_string());
  const json::object meta = json::parse(result).as_object();
  auto seen = telemetry::parse_traceparent(std::string(meta.at("traceparent").as_string()));
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  // It is the operation span's id, so an upstream's spans nest under the tools/call span.
  const auto spans = h.spans();
  bool found = false;
  for (const auto& s : spans)
    if (str(s, "spanId") == seen->span_id) found = str(s, "name") == "tools/call context";
  EXPECT_TRUE(found);
}

TEST(Pipeline, RequestIdIsTheRequestSpansId) {
  Harness h;
  const std::string session = h.initialize();
  auto r = h.call(session, "echo", {{"message", "hi"}}, {{"traceparent", kHeaderTraceparent}});
  const std::string id = r->header("X-Request-Id");
  ASSERT_EQ(id.size(), 16u);
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(str(lines[1], "span_id"), id);
  EXPECT_NE(str(lines[0], "request_id"), id);  // each request its own
  int found = 0;
  for (const auto& s : h.spans())
    if (str(s, "spanId") == id) {
      ++found;
      EXPECT_EQ(str(s, "name"), "POST /mcp");
      EXPECT_EQ(str(s, "parentSpanId"), "00f067aa0ba902b7");  // the caller's span, not itself
      EXPECT_EQ(attr(s, "bastion.request_id"), id);
    }
  EXPECT_EQ(found, 1);
}

// W3C Trace Context §3.2: a repeated traceparent is invalid, and the request starts a trace of
// its own (its tracestate is not taken either).
TEST(Pipeline, RepeatedTraceparentStartsANewTrace) {
  Harness h;
  const std::string session = h.initialize();
  h.call(session, "echo", {{"message", "hi"}},
         {{"traceparent", kHeaderTraceparent}, {"tracestate", "k=v"}, {"Traceparent", kMetaTraceparent}});
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 2u);
  const std::string trace = str(lines[1], "trace_id");
  EXPECT_EQ(trace.size(), 32u);
  EXPECT_NE(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(trace, "0af7651916cd43dd8448eb211c80319c");
  for (const auto& s : h.spans())
    if (str(s, "traceId") == trace) {
      EXPECT_EQ(str(s, "traceState"), "");
      if (str(s, "name") == "POST /mcp") {
        EXPECT_EQ(str(s, "parentSpanId"), "");
      }
    }
}

// A tracestate header before the traceparent is taken with it.
TEST(Pipeline, TracestateBeforeTraceparentIsKept) {
  Harness h;
  const std::string session = h.initialize();
  h.call(session, "echo", {{"message", "hi"}}, {{"tracestate", "k=v"}, {"traceparent", kHeaderTraceparent}});
  bool seen = false;
  for (const auto& s : h.spans())
    if (str(s, "name") == "POST /mcp" && str(s, "traceId") == "4bf92f3577b34da6a3ce929d0e0e4736") {
      seen = true;
      EXPECT_EQ(str(s, "traceState"), "k=v");
    }
  EXPECT_TRUE(seen);
}

TEST(Pipeline, OneRequestLineWithItsFields) {
  Harness h;
  const std::string session = h.initialize();
  const std::string before = telemetry::rfc3339_now();
  auto r = h.call(session, "echo", {{"message", "hi"}}, {{"traceparent", kHeaderTraceparent}});
  const std::string after = telemetry::rfc3339_now();
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 2u);  // initialize, tools/call
  const auto& line = lines[1];
  // Stamped with the request's end (RFC 3339 in one fixed width: text order is time order).
  EXPECT_LE(before, str(line, "time"));
  EXPECT_LE(str(line, "time"), after);
  EXPECT_EQ(str(line, "request_id"), r->header("X-Request-Id"));
  EXPECT_EQ(str(line, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(str(line, "route"), "/mcp");
  EXPECT_EQ(str(line, "era"), "session");
  EXPECT_EQ(str(line, "protocol_version"), "2025-11-25");
  EXPECT_EQ(str(line, "mcp_method"), "tools/call");
  EXPECT_EQ(str(line, "tool"), "echo");
  // Keyed (argument_digest()): here by the random key of a Telemetry configured without one.
  const core::Sha256Digest digest = core::HmacSha256(h.tel->options().argument_digest_key).digest(R"({"message":"hi"})");
  char hex[64];
  core::hex_into(digest.data(), digest.size(), hex);
  EXPECT_EQ(str(line, "argument_digest"), "hmac-sha256:" + std::string(hex, sizeof hex));
  EXPECT_EQ(line.at("status").as_int64(), 200);
  EXPECT_GT(line.at("bytes_in").as_int64(), 0);
  EXPECT_EQ(static_cast<std::size_t>(line.at("bytes_out").as_int64()), r->body().size());
  EXPECT_GE(line.at("duration_ms").to_number<double>(), 0.0);
  EXPECT_FALSE(line.contains("arguments"));
  EXPECT_EQ(str(lines[0], "mcp_method"), "initialize");
}

// The request line names what a resources/read or prompts/get was for (the URI without its
// query: never recorded), even when the server has no such resource or prompt.
TEST(Pipeline, ResourceAndPromptRequestsNameTheirTarget) {
  Harness h;
  const std::string session = h.initialize();
  const auto headers = h.session_headers(session);
  h.post("/mcp",
         R"({"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"file:///notes.txt?token=s3cret#top"}})",
         headers);
  h.post("/mcp", R"({"jsonrpc":"2.0","id":4,"method":"prompts/get","params":{"name":"greet","arguments":{}}})",
         headers);
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(str(lines[1], "mcp_method"), "resources/read");
  EXPECT_EQ(str(lines[1], "resource"), "file:///notes.txt");
  EXPECT_EQ(str(lines[2], "mcp_method"), "prompts/get");
  EXPECT_EQ(str(lines[2], "prompt"), "greet");
  EXPECT_FALSE(lines[2].contains("argument_digest"));  // only tool calls have one
}

TEST(Pipeline, ErrorsAndUnknownToolsAreBoundedLabels) {
  Harness h;
  const std::string session = h.initialize();
  h.call(session, "no such tool {evil=\"x\"}", {});
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 2u);
  h.call(session, "echo", {{"message", "counted"}});
  h.call(session, "echo", {{"message", "counted again"}});
  h.call(session, "failing", {});
  EXPECT_EQ(lines[1].at("jsonrpc_error").as_int64(), -32602);
  const std::string metrics = h.tel->metrics().expose();
  EXPECT_EQ(metrics.find("evil"), std::string::npos) << "a client-chosen tool name became a label";
  EXPECT_THAT(metrics, HasSubstr("gen_ai_tool_name=\"_unknown\",error_type=\"-32602\""));
  EXPECT_THAT(metrics, HasSubstr("bastion_http_requests_total{route=\"/mcp\",method=\"POST\",status=\"200\"} 5\n"));
  // Both counters are read from the histograms' counts: the outcome follows error_type.
  EXPECT_THAT(metrics, HasSubstr("# TYPE bastion_mcp_tool_calls_total counter\n"));
  EXPECT_THAT(metrics, HasSubstr("bastion_mcp_tool_calls_total{route=\"/mcp\",gen_ai_tool_name=\"_unknown\",outcome=\"error\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("bastion_mcp_tool_calls_total{route=\"/mcp\",gen_ai_tool_name=\"echo\",outcome=\"success\"} 2\n"));
  EXPECT_THAT(metrics, HasSubstr("bastion_mcp_tool_calls_total{route=\"/mcp\",gen_ai_tool_name=\"failing\",outcome=\"tool_error\"} 1\n"));
}

TEST(Pipeline, ToolCallsAreAuditedWithADigestUnlessTheRouteOptsIn) {
  {
    Harness h;
    const std::string session = h.initialize();
    h.call(session, "echo", {{"message", "visible?"}});
    const std::string audit = h.audit_text();
    EXPECT_NE(audit.find("\"event\":\"tool_call\""), std::string::npos) << audit;
    EXPECT_NE(audit.find("\"event\":\"session_created\""), std::string::npos) << audit;
    EXPECT_NE(audit.find("\"argument_digest\":\"hmac-sha256:"), std::string::npos);
    EXPECT_EQ(audit.find("visible?"), std::string::npos);
  }
  {
    Harness h(/*log_arguments=*/true);
    const std::string session = h.initialize();
    h.call(session, "echo", {{"message", "visible!"}});
    EXPECT_NE(h.audit_text().find("visible!"), std::string::npos);
    const auto lines = h.request_lines();
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_NE(str(lines[1], "arguments").find("visible!"), std::string::npos);
  }
}

// A digest of guessable arguments must not give them away: under a key, equal arguments match
// where the key is shared, and nobody without it can test a guess (argument_digest()).
TEST(Pipeline, ArgumentDigestsAreKeyedAndMatchOnlyUnderOneKey) {
  const json::object guessable{{"pin", "1234"}};
  const std::string plain = core::sha256_hex(json::serialize(guessable));
  const auto digest_under = [&](std::string key) {
    Harness h(false, std::move(key));
    h.call(h.initialize(), "echo", guessable);
    const auto lines = h.request_lines();
    const std::string output = h.log_stream.str() + h.audit_text();
    EXPECT_EQ(output.find(plain), std::string::npos) << "the unkeyed digest of the arguments was written";
    EXPECT_EQ(output.find("1234"), std::string::npos);
    return lines.size() == 2 ? str(lines[1], "argument_digest") : std::string();
  };
  const std::string shared_key(32, 'k');
  const std::string first = digest_under(shared_key);
  EXPECT_THAT(first, ::testing::MatchesRegex("hmac-sha256:[0-9a-f]{64}"));
  EXPECT_EQ(digest_under(shared_key), first) << "two instances with one key";
  EXPECT_NE(digest_under(std::string(32, 'j')), first);
  const std::string random_key = digest_under("");
  EXPECT_NE(random_key, first);
  EXPECT_NE(digest_under(""), random_key) << "each process without a configured key has a key of its own";
}

TEST(Pipeline, NoSecretReachesLogsAuditMetricsOrSpans) {
  const std::vector<std::string> secrets{"SECRET-bearer-3f9c", "SECRET-cookie-77aa", "SECRET-code-0b1d",
                                         "SECRET-arg-5e6f", "SECRET-meta-state-9a9a",
                                         // The arguments' unkeyed digest, which a guess could be tested against.
                                         core::sha256_hex(json::serialize(
                                             json::object{{"message", "SECRET-arg-5e6f"}, {"password", "SECRET-arg-5e6f"}}))};
  std::string all;
  {
    Harness h;
    const std::string session = h.initialize({{"Authorization", "Bearer " + secrets[0]}});
    h.call(session, "echo", {{"message", secrets[3]}, {"password", secrets[3]}},
           {{"Authorization", "Bearer " + secrets[0]}, {"Cookie", "sid=" + secrets[1]}, {"traceparent", kHeaderTraceparent}},
           json::object{{"progressToken", secrets[4]}}, "/mcp?code=" + secrets[2]);
    // A resource-style URI with a query string: the query is cut before anything records it.
    h.call(session, "echo", {{"message", "x"}}, {{"Set-Cookie", "a=" + secrets[1]}}, {},
           "/mcp?state=1&code=" + secrets[2]);
    all += h.log_stream.str();
    all += h.audit_text();
    all += h.tel->metrics().expose();
    for (const auto& s : h.spans()) all += json::serialize(s);
    std::lock_guard lock(h.otlp_mutex);
    for (const auto& b : h.otlp_bodies) all += b;
    // The scan looked at real output.
    EXPECT_NE(all.find("tools/call"), std::string::npos);
    EXPECT_NE(all.find("argument_digest"), std::string::npos);
    EXPECT_NE(all.find("\"traceId\""), std::string::npos);
  }
  for (const auto& secret : secrets) EXPECT_EQ(all.find(secret), std::string::npos) << secret << " leaked";
  EXPECT_EQ(all.find("code="), std::string::npos);
}

TEST(Pipeline, StreamsAreCountedWhileOpen) {
  Harness h;
  const std::string session = h.initialize();
  auto fake = FakeExchange::make("GET", "/mcp", "",
                                 {{"Accept", "text/event-stream"}, {"Mcp-Session-Id", session},
                                  {"MCP-Protocol-Version", "2025-11-25"}});
  h.tel->observe(*fake, h.tag);
  h.endpoint->handle(fake);
  ASSERT_TRUE(fake->wait_answered());
  ASSERT_TRUE(fake->is_stream());
  EXPECT_NE(h.tel->metrics().expose().find("bastion_http_active_streams{route=\"/mcp\"} 1\n"), std::string::npos);
  fake->close_by_peer();
  EXPECT_NE(h.tel->metrics().expose().find("bastion_http_active_streams{route=\"/mcp\"} 0\n"), std::string::npos);
}

// An exchange dropped without an answer (a handler that gave up, a worker that threw) still
// gives its one request line, marked as the client's loss (499, the nginx convention): as soon
// as the exchange is gone and its operations have ended, not when the last of them is released.
TEST(Pipeline, AnExchangeDroppedUnansweredIsLoggedOnce) {
  Harness h;
  std::shared_ptr<telemetry::Operation> op;
  {
    auto fake = FakeExchange::make("POST", "/mcp", "{}", {{"Content-Type", "application/json"}});
    h.tel->observe(*fake, h.tag);
    op = telemetry::begin_operation(*fake, "ping", json::object{});
    ASSERT_TRUE(op);
  }
  EXPECT_TRUE(h.request_lines().empty());  // its operation is still open
  op->end(json::object{{"jsonrpc", "2.0"}, {"id", 1}, {"result", json::object{}}});
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("status").as_int64(), 499);
  EXPECT_TRUE(lines[0].at("client_closed").as_bool());
  EXPECT_EQ(str(lines[0], "mcp_method"), "ping");
  op.reset();
  EXPECT_EQ(h.request_lines().size(), 1u);  // once
}

// An exchange answered directly (no MCP operation) is logged once, at its answer, and carries
// the request id as the X-Request-Id of its response.
TEST(Pipeline, AnExchangeAnsweredDirectlyIsLoggedAtItsAnswer) {
  Harness h;
  auto fake = FakeExchange::make("GET", "/mcp/other", "");
  h.tel->observe(*fake, h.tag);
  fake->respond(http::plain_response(404));
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].at("status").as_int64(), 404);
  EXPECT_FALSE(lines[0].contains("client_closed"));
  EXPECT_EQ(str(lines[0], "request_id"), fake->header("X-Request-Id"));
  EXPECT_EQ(fake->header("X-Request-Id").size(), 16u);
}

TEST(Pipeline, RouteSeriesAreTheSameWhetherTheTagIsBoundUnboundOrBoundElsewhere) {
  Harness h;  // its tag is bound to h.tel
  const std::string session = h.initialize();
  telemetry::RouteTag unbound;
  unbound.route = "/mcp";
  telemetry::RouteTag foreign = unbound;
  telemetry::Telemetry other(telemetry::TelemetryOptions{}, nullptr);
  other.bind_route(foreign);
  ASSERT_NE(foreign.bound_to, 0u);
  ASSERT_NE(foreign.bound_to, h.tag.bound_to);
  const std::string ping = R"({"jsonrpc":"2.0","id":3,"method":"ping"})";
  for (const telemetry::RouteTag* t : {&h.tag, &unbound, &foreign}) {
    auto r = h.post("/mcp", ping, h.session_headers(session), t);
    EXPECT_EQ(r->status(), 200) << r->body();
  }
  // Every request counted in h's registry, whichever tag it came through; none in the other's.
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 4u);  // initialize and three pings
  std::int64_t bytes = 0;
  for (const auto& line : lines) bytes += line.at("bytes_in").as_int64();
  const std::string exposed = h.tel->metrics().expose();
  EXPECT_NE(exposed.find("bastion_http_request_body_bytes_total{route=\"/mcp\"} " + std::to_string(bytes) + "\n"),
            std::string::npos)
      << exposed;
  EXPECT_NE(exposed.find("bastion_http_requests_in_flight{route=\"/mcp\"} 0\n"), std::string::npos) << exposed;
  const std::string elsewhere = other.metrics().expose();
  EXPECT_NE(elsewhere.find("bastion_http_request_body_bytes_total{route=\"/mcp\"} 0\n"), std::string::npos)
      << elsewhere;
}

TEST(Pipeline, StatelessRefusalsStillNameTheMethodAndTheError) {
  Harness h;
  const std::string body =
      R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
  // No Mcp-Method header: refused before dispatch (streamable-http.mdx §Server Validation).
  auto r = h.post("/mcp", body, {{"MCP-Protocol-Version", "2026-07-28"}});
  EXPECT_EQ(r->status(), 400) << r->body();
  const auto lines = h.request_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(str(lines[0], "era"), "stateless");
  EXPECT_EQ(str(lines[0], "protocol_version"), "2026-07-28");
  EXPECT_EQ(str(lines[0], "mcp_method"), "tools/call");
  EXPECT_EQ(str(lines[0], "tool"), "echo");
  EXPECT_EQ(lines[0].at("status").as_int64(), 400);
  EXPECT_TRUE(lines[0].contains("jsonrpc_error"));
  EXPECT_NE(h.audit_text().find("\"outcome\":\"error\""), std::string::npos) << h.audit_text();
}

// The tool label comes from the dispatcher's lookup (mcp::Outbound::tool_found), through the
// stateless path's two outbounds as through the session's one.
TEST(Pipeline, StatelessToolCallsAreLabelledWithTheToolTheDispatcherFound) {
  Harness h;
  const auto call = [&](const std::string& tool) {
    const std::string body = R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":")" + tool +
                             R"(","arguments":{"message":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})";
    return h.post("/mcp", body, {{"MCP-Protocol-Version", "2026-07-28"}, {"Mcp-Method", "tools/call"}, {"Mcp-Name", tool}});
  };
  auto found = call("echo");
  EXPECT_EQ(found->status(), 200) << found->body();
  auto unknown = call("nothing-here");
  EXPECT_NE(unknown->body().find("-32602"), std::string::npos) << unknown->body();
  const std::string metrics = h.tel->metrics().expose();
  EXPECT_THAT(metrics, HasSubstr("bastion_mcp_tool_calls_total{route=\"/mcp\",gen_ai_tool_name=\"echo\",outcome=\"success\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("bastion_mcp_tool_calls_total{route=\"/mcp\",gen_ai_tool_name=\"_unknown\",outcome=\"error\"} 1\n"));
  EXPECT_EQ(metrics.find("nothing-here"), std::string::npos) << metrics;
}

TEST(Pipeline, LegacySseMessagesAreLoggedWhenTheirAnswerLeavesOnTheStream) {
  Harness h;
  auto stream = FakeExchange::make("GET", "/mcp/sse", "", {{"Accept", "text/event-stream"}});
  h.tel->observe(*stream, h.tag);
  h.endpoint->handle(stream);
  ASSERT_TRUE(stream->wait_for_text("session_id="));
  const std::string text = stream->streamed();
  const auto at = text.find("session_id=") + 11;
  const std::string session = text.substr(at, text.find('\n', at) - at);
  auto post = [&](const std::string& body) {
    auto fake = FakeExchange::make("POST", "/mcp/messages?session_id=" + session, body,
                                   {{"Content-Type", "application/json"}});
    h.tel->observe(*fake, h.tag);
    h.endpoint->handle(fake);
    EXPECT_TRUE(fake->wait_answered());
    EXPECT_EQ(fake->status(), 202);
  };
  post(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  post(R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over sse"}}})");
  ASSERT_TRUE(stream->wait_for_text("over sse"));
  std::vector<json::object> lines;
  for (int i = 0; i < 100 && lines.size() < 2; ++i) {
    lines = h.request_lines();
    if (lines.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(lines.size(), 2u);  // the two POSTs; the stream is still open
  EXPECT_EQ(str(lines[1], "era"), "sse");
  EXPECT_EQ(str(lines[1], "protocol_version"), "2024-11-05");
  EXPECT_EQ(str(lines[1], "tool"), "echo");
  EXPECT_EQ(lines[1].at("status").as_int64(), 202);
  const std::string metrics = h.tel->metrics().expose();
  EXPECT_THAT(metrics, HasSubstr("bastion_http_active_streams{route=\"/mcp\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("mcp_method_name=\"tools/call\",gen_ai_tool_name=\"echo\",error_type=\"\",mcp_protocol_version=\"2024-11-05\",le=\"+Inf\"} 1\n"));
  stream->close_by_peer();
  EXPECT_EQ(h.request_lines().size(), 3u);  // the stream's own line, at its end
  EXPECT_NE(h.audit_text().find("\"reason\":\"stream_closed\""), std::string::npos) << h.audit_text();
}

// Bastion's own outbound calls (JWKS, introspection) are CLIENT spans of the request whose token
// needed them, on the calling thread and on the auth pool (the pool carries the context), and
// carry traceparent to the issuer; without a request they start a trace of their own.
TEST(Pipeline, OutboundCallsAreClientSpansOfTheRequestThatNeededThem) {
  Harness h;
  std::mutex seen_mutex;
  std::vector<http::ClientRequest> seen;
  const http::Fetcher traced = h.tel->traced_fetcher(
      [&](const http::ClientRequest& r, const http::ClientOptions&) -> Result<http::ClientResponse> {
        std::lock_guard lock(seen_mutex);
        seen.push_back(r);
        if (r.url.find("down") != std::string::npos)
          return std::unexpected(Error{static_cast<int>(http::ClientErrorCode::timeout), "timed out", 0});
        http::ClientResponse ok;
        ok.status = 200;
        return ok;
      });
  http::ClientRequest jwks;
  jwks.url = "https://user@idp.example:8443/keys?sig=not-for-spans";
  http::ClientRequest introspection;
  introspection.method = "POST";
  introspection.url = "https://down.example/introspect";
  introspection.body = "token=the-token-itself";

  auto fake = FakeExchange::make("POST", "/mcp", "{}", {{"traceparent", kHeaderTraceparent}});
  h.tel->observe(*fake, h.tag);
  {
    telemetry::OutboundParent parent(fake.get());
    core::WorkerPool pool(1, 4);
    std::promise<bool> done;
    ASSERT_TRUE(pool.post([&] { done.set_value(traced(jwks, {}).has_value()); }));
    EXPECT_TRUE(done.get_future().get());
    EXPECT_FALSE(traced(introspection, {}).has_value());
  }
  EXPECT_TRUE(traced(jwks, {}).has_value());  // no request: a trace of its own
  fake->respond(http::Response{});
  const auto spans = h.spans();

  // The request, its two calls; then the lone call's trace.
  expect_one_nested_trace(spans, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 3);
  std::string request_span;
  std::uint64_t request_start = 0, request_end = 0;
  for (const auto& s : spans)
    if (str(s, "name") == "POST /mcp") {
      request_span = str(s, "spanId");
      request_start = std::stoull(str(s, "startTimeUnixNano"));
      request_end = std::stoull(str(s, "endTimeUnixNano"));
    }
  std::vector<json::object> clients;
  for (const auto& s : spans)
    if (s.at("kind").as_int64() == 3) clients.push_back(s);
  ASSERT_EQ(clients.size(), 3u);
  ASSERT_EQ(seen.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const json::object& s = clients[i];
    const bool lone = str(s, "traceId") != "4bf92f3577b34da6a3ce929d0e0e4736";
    EXPECT_EQ(str(s, "parentSpanId"), lone ? "" : request_span);
    if (!lone) {
      // Inside its request in time too: both on the request's time line.
      EXPECT_GE(std::stoull(str(s, "startTimeUnixNano")), request_start);
      EXPECT_LE(std::stoull(str(s, "endTimeUnixNano")), request_end);
    }
    // The call carried its own span's context (W3C Trace Context traceparent).
    bool found = false;
    for (const auto& r : seen)
      if (const std::string* tp = r.headers.find("traceparent"))
        found = found || *tp == "00-" + str(s, "traceId") + "-" + str(s, "spanId") + "-01";
    EXPECT_TRUE(found) << "no outbound request carried span " << str(s, "spanId");
    if (str(s, "name") == "GET") {
      // No user info and no query (credentials and query strings never reach a span).
      EXPECT_EQ(attr(s, "url.full"), "https://idp.example:8443/keys");
      EXPECT_EQ(attr(s, "server.address"), "idp.example");
      EXPECT_EQ(attr(s, "http.response.status_code"), "200");
    } else {
      EXPECT_EQ(str(s, "name"), "POST");
      EXPECT_EQ(attr(s, "error.type"), "fetch_error_" + std::to_string(static_cast<int>(http::ClientErrorCode::timeout)));
      EXPECT_EQ(s.at("status").at("code").as_int64(), 2);
    }
    // Neither the token in the body, the query nor the user info reaches a span.
    const std::string text = json::serialize(s);
    EXPECT_EQ(text.find("the-token-itself"), std::string::npos);
    EXPECT_EQ(text.find("not-for-spans"), std::string::npos);
    EXPECT_EQ(text.find("user@"), std::string::npos);
  }
}
