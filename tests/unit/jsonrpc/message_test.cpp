#include <gtest/gtest.h>

#include "jsonrpc/error_codes.hpp"
#include "jsonrpc/message.hpp"

namespace rpc = bastion::jsonrpc;

namespace {
rpc::Message decode_ok(std::string_view text) {
  auto v = rpc::parse(text);
  EXPECT_TRUE(v.has_value());
  auto m = rpc::decode(*v);
  EXPECT_TRUE(m.has_value()) << (m ? "" : m.error().message);
  return *m;
}

int decode_error(std::string_view text, std::optional<rpc::Id>* id = nullptr) {
  auto v = rpc::parse(text);
  if (!v) return v.error().code;
  auto m = rpc::decode(*v, id);
  EXPECT_FALSE(m.has_value());
  return m ? 0 : m.error().code;
}
}  // namespace

TEST(JsonRpc, DecodesRequestWithIntegerAndStringIds) {
  auto m = decode_ok(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  auto& r = std::get<rpc::Request>(m);
  EXPECT_EQ(r.method, "tools/list");
  EXPECT_EQ(r.id, rpc::Id(std::int64_t{7}));
  EXPECT_FALSE(r.has_params);

  auto s = decode_ok(R"({"jsonrpc":"2.0","id":"abc","method":"ping","params":{}})");
  EXPECT_EQ(std::get<rpc::Request>(s).id, rpc::Id(std::string("abc")));
}

TEST(JsonRpc, KeepsSixtyFourBitIds) {
  auto m = decode_ok(R"({"jsonrpc":"2.0","id":1732912345678,"method":"ping"})");
  EXPECT_EQ(std::get<rpc::Request>(m).id.to_json().as_int64(), 1732912345678);
  auto big = decode_ok(R"({"jsonrpc":"2.0","id":9007199254740993,"method":"ping"})");
  EXPECT_EQ(std::get<rpc::Request>(big).id.to_json().as_int64(), 9007199254740993);
}

TEST(JsonRpc, NotificationHasNoId) {
  auto m = decode_ok(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_TRUE(std::holds_alternative<rpc::Notification>(m));
}

TEST(JsonRpc, DecodesResponses) {
  auto ok = decode_ok(R"({"jsonrpc":"2.0","id":3,"result":{"a":1}})");
  EXPECT_FALSE(std::get<rpc::Response>(ok).error);
  auto err = decode_ok(R"({"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"x"}})");
  EXPECT_TRUE(std::get<rpc::Response>(err).error);
}

TEST(JsonRpc, RejectsMalformedMessages) {
  EXPECT_EQ(decode_error("{not json"), rpc::kParseError);
  EXPECT_EQ(decode_error("[1,2"), rpc::kParseError);
  EXPECT_EQ(decode_error(R"("just a string")"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"id":1,"method":"ping"})"), rpc::kInvalidRequest);                  // no jsonrpc
  EXPECT_EQ(decode_error(R"({"jsonrpc":"1.0","id":1,"method":"ping"})"), rpc::kInvalidRequest);  // wrong version
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":null,"method":"ping"})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":{},"method":"ping"})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":1,"method":5})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":1,"method":"x","params":[1]})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{}})"), rpc::kInvalidRequest);
  EXPECT_EQ(decode_error(R"({"jsonrpc":"2.0","id":1})"), rpc::kInvalidRequest);
}

TEST(JsonRpc, ErrorKeepsTheIdItCouldRead) {
  std::optional<rpc::Id> id;
  decode_error(R"({"jsonrpc":"1.0","id":42,"method":"ping"})", &id);
  ASSERT_TRUE(id);
  EXPECT_EQ(*id, rpc::Id(std::int64_t{42}));
}

TEST(JsonRpc, RefusesDeepNesting) {
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_EQ(decode_error(deep), rpc::kParseError);
}

TEST(JsonRpc, ErrorObjectShape) {
  auto e = rpc::make_error(std::nullopt, rpc::kParseError, "Parse error");
  EXPECT_TRUE(e.at("id").is_null());
  EXPECT_EQ(e.at("error").at("code").as_int64(), -32700);
  auto with_data = rpc::make_error(rpc::Id(std::int64_t{1}), rpc::kInvalidParams, "bad", boost::json::value{{"uri", "x"}});
  EXPECT_EQ(with_data.at("error").at("data").at("uri").as_string(), "x");
}
