#include "http/router.hpp"

#include <stdexcept>

#include <gtest/gtest.h>

namespace bastion::http {
namespace {

// An Exchange that records the response, for handler-level tests without sockets.
class RecordingExchange final : public Exchange {
 public:
  explicit RecordingExchange(std::string path) { request_.path = std::move(path); }
  const Request& request() const override { return request_; }
  void do_respond(Response response) override { response_ = std::move(response); }
  void do_start_stream(int, Headers, std::chrono::milliseconds) override {}
  void do_write(std::string) override {}
  void do_finish() override {}
  void on_peer_closed(std::function<void()>) override {}
  bool peer_closed() const override { return false; }
  std::optional<Response> response_;

 private:
  Request request_;
};

Handler answering(std::string name) {
  return [name](std::shared_ptr<Exchange> exchange) { exchange->respond(json_response(200, name)); };
}

std::string route(const Router& router, std::string path) {
  auto exchange = std::make_shared<RecordingExchange>(std::move(path));
  router.handle(exchange);
  if (!exchange->response_) return "<none>";
  if (exchange->response_->status != 200)
    return std::to_string(exchange->response_->status) + " " + exchange->response_->body;
  return exchange->response_->body;
}

TEST(HttpRouter, ExactBeatsPrefixAndLongestPrefixWins) {
  Router router;
  router.add_exact("/mcp", answering("mcp"))
      .add_prefix("/oauth", answering("oauth"))
      .add_prefix("/oauth/admin", answering("admin"))
      .add_exact("/oauth/token", answering("token"))
      .add_prefix("/static/", answering("static"));
  EXPECT_EQ(route(router, "/mcp"), "mcp");
  EXPECT_EQ(route(router, "/oauth"), "oauth");
  EXPECT_EQ(route(router, "/oauth/authorize"), "oauth");
  EXPECT_EQ(route(router, "/oauth/token"), "token");
  EXPECT_EQ(route(router, "/oauth/admin/x"), "admin");
  EXPECT_EQ(route(router, "/oauthx"), R"(404 {"error":"not_found"})");  // segment boundary
  EXPECT_EQ(route(router, "/static/a.css"), "static");
  EXPECT_EQ(route(router, "/mcp/"), R"(404 {"error":"not_found"})");  // exact means exact
  EXPECT_EQ(route(router, "/"), R"(404 {"error":"not_found"})");
}

TEST(HttpRouter, NotFoundIsJson) {
  Router router;
  auto exchange = std::make_shared<RecordingExchange>("/nowhere");
  router.handle(exchange);
  ASSERT_TRUE(exchange->response_);
  EXPECT_EQ(exchange->response_->status, 404);
  EXPECT_EQ(exchange->response_->body, R"({"error":"not_found"})");
  ASSERT_NE(exchange->response_->headers.find("Content-Type"), nullptr);
  EXPECT_EQ(*exchange->response_->headers.find("Content-Type"), "application/json");
}

TEST(HttpRouter, FallbackAndFind) {
  Router router;
  router.add_exact("/a", answering("a")).set_fallback(answering("fallback"));
  EXPECT_EQ(route(router, "/zzz"), "fallback");
  EXPECT_NE(router.find("/a"), nullptr);
  EXPECT_EQ(router.find("/b"), nullptr);
}

TEST(HttpRouter, RejectsWiringMistakes) {
  Router router;
  router.add_exact("/a", answering("a"));
  EXPECT_THROW(router.add_exact("/a", answering("again")), std::invalid_argument);
  EXPECT_THROW(router.add_exact("relative", answering("x")), std::invalid_argument);
  EXPECT_THROW(router.add_prefix("", answering("x")), std::invalid_argument);
  EXPECT_THROW(router.add_prefix("/p", Handler{}), std::invalid_argument);
  router.add_prefix("/p", answering("p"));
  EXPECT_THROW(router.add_prefix("/p", answering("p2")), std::invalid_argument);
}

TEST(HttpRouter, AsHandlerUsesASnapshot) {
  Router router;
  router.add_exact("/a", answering("a"));
  Handler handler = router.as_handler();
  router.add_exact("/b", answering("b"));  // later changes do not leak into the snapshot
  auto exchange = std::make_shared<RecordingExchange>("/b");
  handler(exchange);
  ASSERT_TRUE(exchange->response_);
  EXPECT_EQ(exchange->response_->status, 404);
  auto a = std::make_shared<RecordingExchange>("/a");
  handler(a);
  ASSERT_TRUE(a->response_);
  EXPECT_EQ(a->response_->body, "a");
}

}  // namespace
}  // namespace bastion::http
