#include <gtest/gtest.h>

#include "mcp/schema.hpp"
#include "mcp/uri_template.hpp"

namespace json = boost::json;
using bastion::mcp::CompiledSchema;

namespace {
std::shared_ptr<const CompiledSchema> compile(std::string_view text, std::string* error = nullptr) {
  return CompiledSchema::compile(json::parse(text).as_object(), error);
}
}  // namespace

TEST(Schema, ValidatesTypesAndRequired) {
  auto s = compile(R"({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->validate(json::parse(R"({"a":"x"})")).empty());
  auto errors = s->validate(json::parse(R"({})"));
  ASSERT_FALSE(errors.empty());
  EXPECT_FALSE(s->validate(json::parse(R"({"a":1})")).empty());
}

TEST(Schema, Supports2020DefsAndAnchors) {
  auto s = compile(R"({
    "$schema":"https://json-schema.org/draft/2020-12/schema",
    "type":"object",
    "$defs":{"addr":{"$anchor":"Address","type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
    "properties":{"home":{"$ref":"#Address"},"work":{"$ref":"#/$defs/addr"}},
    "additionalProperties":false})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->validate(json::parse(R"({"home":{"city":"Oslo"},"work":{"city":"Bergen"}})")).empty());
  EXPECT_FALSE(s->validate(json::parse(R"({"home":{}})")).empty());
  EXPECT_FALSE(s->validate(json::parse(R"({"other":1})")).empty());
}

TEST(Schema, IfThenElse) {
  auto s = compile(R"({"type":"object","if":{"properties":{"k":{"const":"a"}}},
    "then":{"required":["x"]},"else":{"required":["y"]}})");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->validate(json::parse(R"({"k":"a","x":1})")).empty());
  EXPECT_FALSE(s->validate(json::parse(R"({"k":"a","y":1})")).empty());
  EXPECT_TRUE(s->validate(json::parse(R"({"k":"b","y":1})")).empty());
}

TEST(Schema, NeverFetchesNetworkReferences) {
  std::string error;
  EXPECT_FALSE(compile(R"({"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}})", &error));
  EXPECT_NE(error.find("outside this schema"), std::string::npos);
}

TEST(Schema, UnresolvedReferencesAreErrors) {
  std::string error;
  EXPECT_FALSE(compile(R"({"type":"object","properties":{"a":{"$ref":"#Missing"}}})", &error));
  EXPECT_FALSE(compile(R"({"type":"object","properties":{"a":{"$ref":"#/$defs/missing"}}})", &error));
}

TEST(Schema, RefusesUnknownDialects) {
  std::string error;
  EXPECT_FALSE(compile(R"({"$schema":"http://json-schema.org/draft-03/schema#","type":"object"})", &error));
  EXPECT_NE(error.find("unsupported"), std::string::npos);
}

TEST(UriTemplate, MatchesSimpleAndReservedVariables) {
  auto m = bastion::mcp::match_uri_template("test://template/{id}/data", "test://template/42/data");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->at("id"), "42");
  EXPECT_FALSE(bastion::mcp::match_uri_template("test://template/{id}/data", "test://template/4/2/data"));
  EXPECT_FALSE(bastion::mcp::match_uri_template("test://template/{id}/data", "test://template//data"));
  auto r = bastion::mcp::match_uri_template("file:///{+path}", "file:///a/b/c.txt");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->at("path"), "a/b/c.txt");
}

TEST(UriTemplate, BoundsTheWorkOnLongUris) {
  std::string uri = "x://" + std::string(100000, 'a');
  EXPECT_FALSE(bastion::mcp::match_uri_template("x://{+a}{+b}{+c}z", uri));
}

TEST(Schema, UnsignedValuesAreIntegers) {
  // Schemas and results built from std::size_t hold uint64 values.
  json::object schema{{"type", "object"},
                      {"properties", json::object{{"n", json::object{{"type", "integer"}, {"maximum", std::size_t{10}}}}}}};
  auto s = CompiledSchema::compile(schema, nullptr);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->validate(json::object{{"n", std::size_t{7}}}).empty());
  EXPECT_FALSE(s->validate(json::object{{"n", std::size_t{11}}}).empty());
}
