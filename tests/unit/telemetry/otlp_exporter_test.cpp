// The OTLP/HTTP JSON exporter against a fake Fetcher: the body's shape, batching, and that a
// full queue or a failing collector drops (and counts) spans instead of waiting.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <condition_variable>
#include <limits>
#include <mutex>

#include "telemetry/otlp_exporter.hpp"

using namespace bastion;
using namespace bastion::telemetry;
namespace json = boost::json;

namespace {

SpanData span(std::string name, std::string parent = {}) {
  SpanData s;
  s.trace_id = "0af7651916cd43dd8448eb211c80319c";
  s.span_id = new_span_id();
  s.parent_span_id = std::move(parent);
  s.name = std::move(name);
  s.kind = SpanKind::server;
  s.start_unix_nano = 1700000000000000000ull;
  s.end_unix_nano = 1700000000000500000ull;
  s.attributes = {{"mcp.method.name", std::string("tools/call")}, {"http.response.status_code", std::int64_t{200}},
                  {"ok", true}, {"ratio", 0.5}};
  return s;
}

struct Recorder {
  std::mutex mutex;
  std::vector<http::ClientRequest> requests;
  std::vector<http::ClientOptions> options;
  http::Fetcher fetcher(int status = 200) {
    return [this, status](const http::ClientRequest& r, const http::ClientOptions& o) -> Result<http::ClientResponse> {
      std::lock_guard lock(mutex);
      requests.push_back(r);
      options.push_back(o);
      http::ClientResponse response;
      response.status = status;
      return response;
    };
  }
};

}  // namespace

TEST(OtlpJson, FollowsTheOtlpJsonEncoding) {
  const std::string body = otlp_json({span("tools/call echo", "b7ad6b7169203331")}, "bastion", "1.2.3");
  const json::value v = json::parse(body);
  const auto& rs = v.at("resourceSpans").as_array().at(0).as_object();
  const auto& resource_attrs = rs.at("resource").at("attributes").as_array();
  EXPECT_EQ(resource_attrs.at(0).at("key").as_string(), "service.name");
  EXPECT_EQ(resource_attrs.at(0).at("value").at("stringValue").as_string(), "bastion");
  const auto& s = rs.at("scopeSpans").as_array().at(0).at("spans").as_array().at(0).as_object();
  EXPECT_EQ(s.at("traceId").as_string(), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(s.at("parentSpanId").as_string(), "b7ad6b7169203331");
  EXPECT_EQ(s.at("kind").as_int64(), 2);  // SPAN_KIND_SERVER
  // 64-bit integers are strings in the proto3 JSON mapping.
  EXPECT_EQ(s.at("startTimeUnixNano").as_string(), "1700000000000000000");
  EXPECT_EQ(s.at("endTimeUnixNano").as_string(), "1700000000000500000");
  const auto& attrs = s.at("attributes").as_array();
  EXPECT_EQ(attrs.at(1).at("value").at("intValue").as_string(), "200");
  EXPECT_TRUE(attrs.at(2).at("value").at("boolValue").as_bool());
  EXPECT_EQ(attrs.at(3).at("value").at("doubleValue").as_double(), 0.5);
  EXPECT_FALSE(s.contains("status"));
}

// A span is written into memory sized by a bound: text that needs escaping at every place text
// goes, the widest numbers, and many or long attributes must come out whole and parse back to
// what went in.
TEST(OtlpJson, EscapesTextAndKeepsExtremeValuesWithinTheBound) {
  SpanData s = span(std::string("quote \" backslash \\ newline \n control \x01 ") + std::string(600, '\x1f'),
                    "b7ad6b7169203331");
  s.tracestate = "vendor=\"x\\y\"";
  s.status = SpanStatus::error;
  s.status_message = "tab\there";
  s.start_unix_nano = std::numeric_limits<std::uint64_t>::max();
  s.attributes = {{"min", std::numeric_limits<std::int64_t>::min()},
                  {"max", std::numeric_limits<std::int64_t>::max()},
                  {"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"inf", std::numeric_limits<double>::infinity()},
                  {"-inf", -std::numeric_limits<double>::infinity()},
                  {"tiny", -2.2250738585072014e-308},
                  {"huge", 1.7976931348623157e308},
                  {"text", std::string(300, '"')},
                  {"false", false}};
  for (int i = 0; i < 40; ++i) s.attributes.emplace_back("n", std::int64_t{i});
  std::string out = "[";
  append_span_json(out, s);
  out += "]";
  const json::value parsed = json::parse(out);
  const json::object& o = parsed.as_array().at(0).as_object();
  EXPECT_EQ(o.at("name").as_string(), s.name);
  EXPECT_EQ(o.at("traceState").as_string(), s.tracestate);
  EXPECT_EQ(o.at("status").at("message").as_string(), "tab\there");
  EXPECT_EQ(o.at("status").at("code").as_int64(), 2);
  EXPECT_EQ(o.at("startTimeUnixNano").as_string(), "18446744073709551615");
  const auto& a = o.at("attributes").as_array();
  ASSERT_EQ(a.size(), s.attributes.size());
  EXPECT_EQ(a.at(0).at("value").at("intValue").as_string(), "-9223372036854775808");
  EXPECT_EQ(a.at(1).at("value").at("intValue").as_string(), "9223372036854775807");
  EXPECT_EQ(a.at(2).at("value").at("doubleValue").as_string(), "NaN");
  EXPECT_EQ(a.at(3).at("value").at("doubleValue").as_string(), "Infinity");
  EXPECT_EQ(a.at(4).at("value").at("doubleValue").as_string(), "-Infinity");
  EXPECT_EQ(a.at(5).at("value").at("doubleValue").to_number<double>(), -2.2250738585072014e-308);
  EXPECT_EQ(a.at(6).at("value").at("doubleValue").to_number<double>(), 1.7976931348623157e308);
  EXPECT_EQ(a.at(7).at("value").at("stringValue").as_string(), std::string(300, '"'));
  EXPECT_FALSE(a.at(8).at("value").at("boolValue").as_bool());
  EXPECT_EQ(a.at(48).at("value").at("intValue").as_string(), "39");
}

TEST(OtlpExporter, SendsBatchesToTheEndpointWithTheConfiguredHeadersAndTimeout) {
  MetricsRegistry metrics;
  Recorder recorder;
  OtlpOptions o;
  o.endpoint = "http://127.0.0.1:4318/v1/traces";
  o.headers = {{"X-Api-Key", "k"}};
  o.max_batch_size = 2;
  o.export_timeout = std::chrono::milliseconds(1234);
  {
    OtlpExporter exporter(o, recorder.fetcher(), metrics);
    for (int i = 0; i < 5; ++i) exporter.export_span(span("s" + std::to_string(i)));
    exporter.shutdown();
    EXPECT_EQ(exporter.exported(), 5u);
    EXPECT_EQ(exporter.dropped(), 0u);
  }
  ASSERT_GE(recorder.requests.size(), 3u);  // batches of at most 2
  std::size_t spans = 0;
  for (std::size_t i = 0; i < recorder.requests.size(); ++i) {
    const auto& r = recorder.requests[i];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.url, o.endpoint);
    ASSERT_TRUE(r.headers.find("Content-Type"));
    EXPECT_EQ(*r.headers.find("Content-Type"), "application/json");
    ASSERT_TRUE(r.headers.find("X-Api-Key"));
    EXPECT_EQ(recorder.options[i].timeout, std::chrono::milliseconds(1234));
    const auto n = json::parse(r.body).at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array().size();
    EXPECT_LE(n, 2u);
    spans += n;
  }
  EXPECT_EQ(spans, 5u);
  EXPECT_NE(metrics.expose().find("bastion_otlp_spans_exported_total 5\n"), std::string::npos);
}

TEST(OtlpExporter, AFailingCollectorDropsAndCounts) {
  MetricsRegistry metrics;
  OtlpOptions o;
  o.max_batch_size = 3;
  auto refused = [](const http::ClientRequest&, const http::ClientOptions&) -> Result<http::ClientResponse> {
    return fail(0, "connection refused");
  };
  OtlpExporter exporter(o, refused, metrics);
  for (int i = 0; i < 7; ++i) exporter.export_span(span("s"));
  exporter.shutdown();
  EXPECT_EQ(exporter.exported(), 0u);
  EXPECT_EQ(exporter.dropped(), 7u);
  EXPECT_NE(metrics.expose().find("bastion_otlp_spans_dropped_total{reason=\"export_failed\"} 7\n"), std::string::npos)
      << metrics.expose();
}

TEST(OtlpExporter, AnErrorStatusIsAFailedExport) {
  MetricsRegistry metrics;
  Recorder recorder;
  OtlpExporter exporter(OtlpOptions{}, recorder.fetcher(503), metrics);
  exporter.export_span(span("s"));
  exporter.shutdown();
  EXPECT_EQ(exporter.dropped(), 1u);
}

TEST(OtlpExporter, AFullQueueDropsWithoutWaiting) {
  MetricsRegistry metrics;
  Recorder recorder;
  OtlpOptions o;
  o.max_queue_size = 4;
  o.max_batch_size = 4;  // the thread wakes only for a full batch or the (long) delay
  o.schedule_delay = std::chrono::minutes(10);
  // A collector that does not answer until the test lets it: the first batch holds the
  // export thread, so the queue fills.
  std::mutex m;
  std::condition_variable cv;
  bool release = false, entered = false;
  auto slow = [&](const http::ClientRequest& r, const http::ClientOptions& opt) -> Result<http::ClientResponse> {
    std::unique_lock lock(m);
    entered = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return release; });
    return recorder.fetcher()(r, opt);
  };
  OtlpExporter exporter(o, slow, metrics);
  for (int i = 0; i < 4; ++i) exporter.export_span(span("first"));
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return entered; }));
  }
  // The export thread is busy; these fill the queue (4) and the rest are dropped at once.
  for (int i = 0; i < 10; ++i) exporter.export_span(span("second"));
  EXPECT_EQ(exporter.dropped(), 6u);
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  exporter.shutdown();
  EXPECT_EQ(exporter.exported(), 8u);
  EXPECT_NE(metrics.expose().find("bastion_otlp_spans_dropped_total{reason=\"queue_full\"} 6\n"), std::string::npos);
}
