// The facade's threading: blocking endpoints answer from the worker pool through the Exchange,
// cheap ones inline, and a full queue answers 503 instead of growing.
#include <gtest/gtest.h>

#include "authserver/harness.hpp"
#include "support/fake_exchange.hpp"

namespace bastion::authserver::testing {
namespace {

TEST(AuthorizationServerThreads, BlockingEndpointsAnswerFromTheWorkers) {
  Harness h;
  auto exchange = bastion::testing::FakeExchange::make(
      "POST", "/oauth/token", "grant_type=client_credentials&resource=" + enc(kResource),
      {{"Content-Type", "application/x-www-form-urlencoded"},
       {"Authorization", "Basic " + core::base64_encode("machine:machine-secret-0123456789")}});
  h.server->handle(exchange);
  ASSERT_TRUE(exchange->wait_answered());
  EXPECT_EQ(exchange->status(), 200);
}

TEST(AuthorizationServerThreads, AFullQueueAnswers503) {
  Harness h([](AuthServerOptions& o) {
    o.worker_threads = 1;
    o.max_queued = 0;
  });
  auto exchange = bastion::testing::FakeExchange::make("POST", "/oauth/token", "grant_type=x",
                                                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  h.server->handle(exchange);
  ASSERT_TRUE(exchange->wait_answered());
  EXPECT_EQ(exchange->status(), 503);
  EXPECT_FALSE(exchange->header("Retry-After").empty());
  // Metadata needs no worker.
  auto metadata = bastion::testing::FakeExchange::make("GET", "/.well-known/oauth-authorization-server");
  h.server->handle(metadata);
  ASSERT_TRUE(metadata->wait_answered());
  EXPECT_EQ(metadata->status(), 200);
}

TEST(AuthorizationServerThreads, RegistersItsRoutes) {
  Harness h;
  http::Router router;
  h.server->register_routes(router);
  for (const char* path : {"/.well-known/oauth-authorization-server", "/.well-known/openid-configuration",
                           "/.well-known/oauth-authorization-server/tenant", "/oauth/token", "/oauth/authorize", "/oauth"}) {
    EXPECT_NE(router.find(path), nullptr) << path;
  }
  EXPECT_EQ(router.find("/.well-known/oauth-protected-resource"), nullptr);  // the resource server's
}

}  // namespace
}  // namespace bastion::authserver::testing
