// W3C Trace Context parsing (strict) and the tracer's sampling and parent/child ids.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "telemetry/trace_context.hpp"
#include "telemetry/tracer.hpp"

using namespace bastion::telemetry;
namespace json = boost::json;

namespace {
constexpr const char* kValid = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

struct CollectingSink : SpanSink {
  std::vector<SpanData> spans;
  void export_span(const SpanData& s) override { spans.push_back(s); }
};
}  // namespace

TEST(TraceContext, ParsesTheSpecExample) {
  auto c = parse_traceparent(kValid);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(c->span_id, "b7ad6b7169203331");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(format_traceparent(*c), kValid);
  auto unsampled = parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
}

TEST(TraceContext, RefusesEverythingElse) {
  for (const char* bad : {
           "",
           "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",   // uppercase
           "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // another version
           "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // the invalid version
           "00-00000000000000000000000000000000-b7ad6b7169203331-01",   // zero trace id
           "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",   // zero parent id
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1",    // short flags
           "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-",  // trailing
           "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",   // separator
           "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",   // not hex
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(TraceContext, TracestateAndBaggageAreBounded) {
  EXPECT_EQ(sanitize_tracestate("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
  EXPECT_EQ(sanitize_tracestate(std::string(513, 'a')), "");
  std::string members;
  for (int i = 0; i < 33; ++i) members += (i ? ",k" : "k") + std::to_string(i) + "=v";
  EXPECT_EQ(sanitize_tracestate(members), "");
  EXPECT_EQ(sanitize_tracestate("a=b\nc=d"), "");
  EXPECT_EQ(sanitize_baggage("user=alice"), "user=alice");
  EXPECT_EQ(sanitize_baggage(std::string(8193, 'a')), "");
}

TEST(TraceContext, MetaCarriesTheSameFields) {
  json::object params{{"_meta", json::object{{"traceparent", kValid}, {"tracestate", "a=b"}, {"baggage", "k=v"}}}};
  auto c = context_from_meta(params);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(c->tracestate, "a=b");
  EXPECT_EQ(c->baggage, "k=v");
  json::object meta;
  inject_meta(meta, *c);
  EXPECT_EQ(meta.at("traceparent").as_string(), kValid);
  EXPECT_EQ(meta.at("tracestate").as_string(), "a=b");
  EXPECT_EQ(meta.at("baggage").as_string(), "k=v");
  EXPECT_FALSE(context_from_meta(json::object{}));
  EXPECT_FALSE(context_from_meta(json::object{{"_meta", json::object{{"traceparent", "garbage"}}}}));
}

TEST(Tracer, ChildrenShareTheTraceAndPointAtTheirParent) {
  auto sink = std::make_shared<CollectingSink>();
  Tracer tracer(1.0, sink);
  auto incoming = *parse_traceparent(kValid);
  {
    Span root = tracer.start("root", SpanKind::server, &incoming);
    Span child = tracer.start("child", SpanKind::internal, &root.context());
    EXPECT_EQ(child.context().trace_id, incoming.trace_id);
    EXPECT_NE(child.context().span_id, root.context().span_id);
  }
  ASSERT_EQ(sink->spans.size(), 2u);
  const SpanData& child = sink->spans[0];  // ends first
  const SpanData& root = sink->spans[1];
  EXPECT_EQ(root.parent_span_id, incoming.span_id);
  EXPECT_EQ(child.parent_span_id, root.span_id);
  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_LE(root.start_unix_nano, root.end_unix_nano);
}

// The tracer reuses an exported span's data for the next span it records on the thread: nothing
// of the earlier span (attributes, status, name, parent, trace state) may reach the later one.
TEST(Tracer, AReusedSpanCarriesNothingOfTheOneBefore) {
  auto sink = std::make_shared<CollectingSink>();
  Tracer tracer(1.0, sink);
  TraceContext incoming = *parse_traceparent(kValid);
  incoming.tracestate = "vendor=value";
  {
    Span first = tracer.start("first", SpanKind::server, &incoming, 1000);
    first.set("user.secret_attribute", std::string("a value long enough to live on the heap"));
    first.set("count", std::int64_t{7});
    first.set_error("it failed");
  }
  for (int i = 0; i < 3; ++i) {
    Span later = tracer.start("later", SpanKind::internal, nullptr);
    later.set("kept", std::string("yes"));
  }
  ASSERT_EQ(sink->spans.size(), 4u);
  const SpanData& first = sink->spans[0];
  EXPECT_EQ(first.attributes.size(), 2u);
  EXPECT_EQ(first.status, SpanStatus::error);
  for (std::size_t i = 1; i < sink->spans.size(); ++i) {
    const SpanData& later = sink->spans[i];
    EXPECT_EQ(later.name, "later");
    EXPECT_EQ(later.kind, SpanKind::internal);
    ASSERT_EQ(later.attributes.size(), 1u);
    EXPECT_EQ(later.attributes[0].first, "kept");
    EXPECT_EQ(later.status, SpanStatus::unset);
    EXPECT_TRUE(later.status_message.empty());
    EXPECT_TRUE(later.parent_span_id.empty());  // a root: the first span's parent is not carried
    EXPECT_TRUE(later.tracestate.empty());
    EXPECT_NE(later.trace_id, first.trace_id);
    EXPECT_NE(later.start_unix_nano, 1000u);
  }
}

TEST(Tracer, SamplingObeysTheParentAndTheRatio) {
  auto sink = std::make_shared<CollectingSink>();
  auto unsampled = *parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  auto sampled = *parse_traceparent(kValid);
  Tracer never(0.0, sink), always(1.0, sink);
  EXPECT_FALSE(always.start("a", SpanKind::server, &unsampled).recording());
  EXPECT_TRUE(never.start("b", SpanKind::server, &sampled).recording());
  EXPECT_FALSE(never.start("c", SpanKind::server, nullptr).recording());
  EXPECT_TRUE(always.start("d", SpanKind::server, nullptr).recording());
  // An unsampled span still propagates a valid context.
  Span quiet = never.start("e", SpanKind::server, nullptr);
  EXPECT_TRUE(quiet.context().valid());
  EXPECT_FALSE(quiet.context().sampled);
  // The ratio decision follows the trace id's low 64 bits.
  Tracer tenth(0.1, sink);
  EXPECT_TRUE(tenth.sample_new_trace("ffffffffffffffff0000000000000001"));
  EXPECT_FALSE(tenth.sample_new_trace("0000000000000000ffffffffffffffff"));
  int hits = 0;
  for (int i = 0; i < 4000; ++i) hits += tenth.sample_new_trace(new_trace_id());
  EXPECT_GT(hits, 200);  // ~400 expected; bounds loose enough never to flake
  EXPECT_LT(hits, 700);
  // A root span decides from the generator's number for the id's last 16 digits: the same
  // decision the digits give.
  for (int i = 0; i < 2000; ++i) {
    std::uint64_t low = 0;
    const TraceId id = new_trace_id(low);
    ASSERT_EQ(std::stoull(std::string(id.view().substr(16)), nullptr, 16), low);
    Span root = tenth.start("r", SpanKind::server, nullptr);
    ASSERT_EQ(root.context().sampled, tenth.sample_new_trace(root.context().trace_id.view()));
  }
}

TEST(Tracer, NoSinkRecordsNothingButPassesTheParentsDecisionOn) {
  Tracer off(1.0, nullptr);
  auto sampled = *parse_traceparent(kValid);
  Span s = off.start("x", SpanKind::server, &sampled);
  EXPECT_FALSE(s.recording());
  EXPECT_TRUE(s.context().sampled);
  EXPECT_EQ(s.context().trace_id, sampled.trace_id);
}

TEST(Tracer, AnUnrecordedChildCarriesItsParentsContext) {
  auto sink = std::make_shared<CollectingSink>();
  Tracer tracer(1.0, sink);
  auto unsampled = *parse_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  unsampled.tracestate = "k=v";
  Span child;
  tracer.start_child_in(child, "op", SpanKind::server, unsampled);
  EXPECT_FALSE(child.recording());
  EXPECT_EQ(child.context().trace_id, unsampled.trace_id);
  EXPECT_EQ(child.context().span_id, unsampled.span_id);
  EXPECT_FALSE(child.context().sampled);
  EXPECT_EQ(child.context().tracestate, "k=v");
  // Nothing records: the same, even under a sampled parent.
  auto sampled = *parse_traceparent(kValid);
  Span quiet;
  Tracer(1.0, nullptr).start_child_in(quiet, "op", SpanKind::server, sampled);
  EXPECT_FALSE(quiet.recording());
  EXPECT_EQ(quiet.context().span_id, sampled.span_id);
  EXPECT_TRUE(quiet.context().sampled);
  // A recorded child is a span of its own under the parent.
  {
    Span recorded;
    tracer.start_child_in(recorded, "op", SpanKind::server, sampled);
    EXPECT_TRUE(recorded.recording());
    EXPECT_NE(recorded.context().span_id, sampled.span_id);
  }
  ASSERT_EQ(sink->spans.size(), 1u);
  EXPECT_EQ(sink->spans[0].parent_span_id, sampled.span_id);
  EXPECT_EQ(sink->spans[0].name, "op");
}
