// The metrics registry and its Prometheus text exposition (format 0.0.4).
#include <gtest/gtest.h>

#include <thread>

#include "telemetry/metrics.hpp"
#include "telemetry/process_metrics.hpp"

using namespace bastion::telemetry;

TEST(Metrics, CounterAndGaugeExposition) {
  MetricsRegistry r;
  auto& c = r.counter("x_requests_total", "Requests.", {"route", "status"});
  c.with({"/mcp", "200"}).inc();
  c.with({"/mcp", "200"}).inc(2);
  c.with({"/a", "404"}).inc();
  r.gauge("x_streams", "Streams.").with().set(3);
  EXPECT_EQ(r.expose(),
            "# HELP x_requests_total Requests.\n"
            "# TYPE x_requests_total counter\n"
            "x_requests_total{route=\"/a\",status=\"404\"} 1\n"
            "x_requests_total{route=\"/mcp\",status=\"200\"} 3\n"
            "# HELP x_streams Streams.\n"
            "# TYPE x_streams gauge\n"
            "x_streams 3\n");
}

// A call site's memo of its last series: reused only while every label value and the family
// are the same; a changed value, or the same memo used on another registry's family, resolves
// again.
TEST(Metrics, ACallSitesLastSeriesIsReusedOnlyForTheSameValuesAndFamily) {
  MetricsRegistry r;
  auto& c = r.counter("x_total", "X.", {"route", "status"});
  CounterFamily::Last<2> last;
  Counter* first = &c.with(last, {"/mcp", "200"});
  EXPECT_EQ(&c.with(last, {"/mcp", "200"}), first);
  EXPECT_EQ(&c.with(last, {"/mcp", "200"}), &c.with({"/mcp", "200"}));
  Counter* other = &c.with(last, {"/mcp", "404"});
  EXPECT_NE(other, first);
  EXPECT_EQ(other, &c.with({"/mcp", "404"}));
  EXPECT_EQ(&c.with(last, {"/mc", "p200"}), &c.with({"/mc", "p200"}));
  MetricsRegistry r2;
  auto& c2 = r2.counter("x_total", "X.", {"route", "status"});
  EXPECT_EQ(&c2.with(last, {"/mc", "p200"}), &c2.with({"/mc", "p200"}));
  EXPECT_NE(&c2.with(last, {"/mc", "p200"}), &c.with({"/mc", "p200"}));
}

TEST(Metrics, CountersIgnoreNegativeDeltas) {
  MetricsRegistry r;
  auto& c = r.counter("c_total", "C.").with();
  c.inc(5);
  c.inc(-2);
  EXPECT_EQ(c.value(), 5);
}

TEST(Metrics, HistogramBucketsAreCumulativeAndInfEqualsCount) {
  MetricsRegistry r;
  auto& h = r.histogram("d_seconds", "D.", {"m"}, {0.1, 1}).with({"GET"});
  h.observe(0.05);
  h.observe(0.1);  // a bound is inclusive (le)
  h.observe(0.5);
  h.observe(7);
  const std::string text = r.expose();
  EXPECT_NE(text.find("d_seconds_bucket{m=\"GET\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{m=\"GET\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{m=\"GET\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_count{m=\"GET\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_sum{m=\"GET\"} 7.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE d_seconds histogram\n"), std::string::npos);
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("line\\one\ntwo \"q\""), "line\\\\one\\ntwo \"q\"");
  MetricsRegistry r;
  r.counter("e_total", "E.", {"v"}).with({"say \"hi\"\n"}).inc();
  EXPECT_NE(r.expose().find("e_total{v=\"say \\\"hi\\\"\\n\"} 1\n"), std::string::npos) << r.expose();
}

TEST(Metrics, SpecialValues) {
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_value(0.0 / 0.0), "NaN");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(0.25), "0.25");
}

TEST(Metrics, RegistrationConflictsAndBadNamesAreWiringErrors) {
  MetricsRegistry r;
  r.counter("a_total", "A.", {"x"});
  EXPECT_NO_THROW(r.counter("a_total", "A.", {"x"}));
  EXPECT_THROW(r.counter("a_total", "A.", {"y"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("a_total", "A.", {"x"}), std::invalid_argument);
  EXPECT_THROW(r.counter("1bad", "B."), std::invalid_argument);
  EXPECT_THROW(r.counter("ok_total", "B.", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.counter("ok2_total", "B.", {"le"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "H.", {}, {1, 1}), std::invalid_argument);
}

TEST(Metrics, SeriesReferencesStayValidAndCountsAreExactUnderContention) {
  MetricsRegistry r;
  auto& family = r.counter("n_total", "N.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&family, t] {
      for (int i = 0; i < 20000; ++i) {
        family.with({"shared"}).inc();
        family.with({std::to_string(t * 1000 + i % 50)}).inc();
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(family.with({"shared"}).value(), 80000);
}

// Threads own shards (plain updates) while there are fewer than detail::kShards of them; the
// rest share one (atomic updates), and a shard outlives its owner. Every count must survive:
// more threads at once than shards, and thread after thread taking over freed shards.
TEST(Metrics, CountsAreExactWithMoreThreadsThanShardsAndAcrossThreadExits) {
  MetricsRegistry r;
  Counter& counter = r.counter("c_total", "C.").with();
  Histogram& histogram = r.histogram("h_seconds", "H.", {}, {0.5, 1}).with();
  constexpr int kThreads = 3 * static_cast<int>(detail::kShards);
  constexpr int kAdds = 20000;
  auto work = [&] {
    for (int i = 0; i < kAdds; ++i) {
      counter.inc();
      histogram.observe(i % 2 ? 0.25 : 2.0);
    }
  };
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(work);
  }
  for (int t = 0; t < kThreads; ++t) std::jthread(work).join();  // one at a time, each on a freed shard
  constexpr double kTotal = 2.0 * kThreads * kAdds;
  EXPECT_EQ(counter.value(), kTotal);
  EXPECT_EQ(histogram.count(), static_cast<std::uint64_t>(kTotal));
  EXPECT_EQ(histogram.bucket(0), static_cast<std::uint64_t>(kTotal / 2));
  EXPECT_EQ(histogram.bucket(2), static_cast<std::uint64_t>(kTotal / 2));
  EXPECT_EQ(histogram.sum(), kTotal / 2 * 0.25 + kTotal / 2 * 2.0);
}

TEST(Metrics, CallbackFamiliesAreReadAtScrapeTime) {
  MetricsRegistry r;
  int sessions = 1;
  r.callback("s_active", "S.", MetricType::gauge, {"route"},
             [&](const Emit& emit) { emit({"/mcp"}, sessions); });
  EXPECT_NE(r.expose().find("s_active{route=\"/mcp\"} 1\n"), std::string::npos);
  sessions = 5;
  EXPECT_NE(r.expose().find("s_active{route=\"/mcp\"} 5\n"), std::string::npos);
  EXPECT_THROW(r.callback("s_active", "S.", MetricType::gauge, {}, [](const Emit&) {}), std::invalid_argument);
}

TEST(ProcessMetrics, ReadsThisProcess) {
  const ProcessStats s = read_process_stats();
  ASSERT_TRUE(s.resident_memory_bytes.has_value());
  EXPECT_GT(*s.resident_memory_bytes, 0);
  ASSERT_TRUE(s.open_fds.has_value());
  EXPECT_GE(*s.open_fds, 3);  // at least stdin, stdout, stderr
  ASSERT_TRUE(s.cpu_seconds.has_value());
  EXPECT_GE(*s.cpu_seconds, 0);
  ASSERT_TRUE(s.start_time_seconds.has_value());
  EXPECT_GT(*s.start_time_seconds, 1.6e9);
  MetricsRegistry r;
  register_process_metrics(r);
  const std::string text = r.expose();
  for (const char* name : {"process_resident_memory_bytes ", "process_open_fds ", "process_cpu_seconds_total "})
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name << "\n" << text;
}
