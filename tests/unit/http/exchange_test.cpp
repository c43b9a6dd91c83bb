#include "http/exchange.hpp"

#include <gtest/gtest.h>

namespace bastion::http {
namespace {

TEST(HttpHeaders, FindIsCaseInsensitiveAndReturnsFirst) {
  Headers headers;
  headers.add("Content-Type", "text/plain");
  headers.add("X-Dup", "one");
  headers.add("x-dup", "two");
  ASSERT_NE(headers.find("content-type"), nullptr);
  EXPECT_EQ(*headers.find("CONTENT-TYPE"), "text/plain");
  EXPECT_EQ(*headers.find("X-DUP"), "one");
  EXPECT_EQ(headers.find("Missing"), nullptr);
  EXPECT_EQ(headers.count("x-dup"), 2u);
  EXPECT_EQ(headers.count("missing"), 0u);
}

TEST(HttpHeaders, SetReplacesEveryOccurrence) {
  Headers headers;
  headers.add("A", "1");
  headers.add("B", "2");
  headers.add("a", "3");
  headers.set("A", "new");
  EXPECT_EQ(headers.count("a"), 1u);
  EXPECT_EQ(*headers.find("a"), "new");
  ASSERT_EQ(headers.fields().size(), 2u);
  EXPECT_EQ(headers.fields()[0].first, "A");  // keeps its place
  headers.set("C", "4");
  EXPECT_EQ(*headers.find("c"), "4");
  EXPECT_EQ(headers.fields().size(), 3u);
}

TEST(HttpIequals, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(iequals("Content-Length", "content-length"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("abc", "abd"));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("\xc4", "\xe4"));  // no locale-dependent folding beyond ASCII
}

TEST(HttpQueryParam, DecodesPercentAndPlus) {
  Request request;
  request.query = "a=1&name=John+Doe&enc=%2Fx%20y&flag&empty=&a=2";
  EXPECT_EQ(query_param(request, "a"), "1");
  EXPECT_EQ(query_param(request, "name"), "John Doe");
  EXPECT_EQ(query_param(request, "enc"), "/x y");
  EXPECT_EQ(query_param(request, "flag"), "");
  EXPECT_EQ(query_param(request, "empty"), "");
  EXPECT_EQ(query_param(request, "missing"), std::nullopt);
}

TEST(HttpQueryParam, MatchesEncodedKeys) {
  Request request;
  request.query = "redirect%5Furi=https%3A%2F%2Fexample.com%2Fcb";
  EXPECT_EQ(query_param(request, "redirect_uri"), "https://example.com/cb");
}

TEST(HttpQueryParam, MalformedQueryHasNoParameters) {
  Request request;
  request.query = "a=%zz";
  EXPECT_EQ(query_param(request, "a"), std::nullopt);
  request.query = "";
  EXPECT_EQ(query_param(request, "a"), std::nullopt);
}

TEST(HttpJsonResponse, SetsContentType) {
  Response response = json_response(201, R"({"ok":true})");
  EXPECT_EQ(response.status, 201);
  ASSERT_NE(response.headers.find("content-type"), nullptr);
  EXPECT_EQ(*response.headers.find("Content-Type"), "application/json");
  EXPECT_EQ(response.body, R"({"ok":true})");
}

}  // namespace
}  // namespace bastion::http
