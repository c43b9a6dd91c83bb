// x-mcp-header annotations: where they may appear and what they may annotate.
#include <gtest/gtest.h>

#include "bastion/server.hpp"
#include "mcp/param_headers.hpp"

namespace json = boost::json;
using namespace bastion;

namespace {

json::object schema(std::string_view text) { return json::parse(text).as_object(); }

}  // namespace

TEST(ParamHeaders, FindsAnnotationsAlongPropertiesChains) {
  auto found = mcp::param_headers(schema(R"({
    "type":"object",
    "properties":{
      "region":{"type":"string","x-mcp-header":"Region"},
      "query":{"type":"string"},
      "opts":{"type":"object","properties":{
        "priority":{"type":"integer","x-mcp-header":"Priority"},
        "dry":{"type":["boolean","null"],"x-mcp-header":"Dry-Run"}}}
    }})"));
  ASSERT_TRUE(found) << found.error();
  ASSERT_EQ(found->size(), 3u);
  EXPECT_EQ((*found)[0].name, "Region");
  EXPECT_EQ((*found)[0].path, std::vector<std::string>{"region"});
  EXPECT_EQ((*found)[0].type, "string");
  EXPECT_EQ((*found)[1].path, (std::vector<std::string>{"opts", "priority"}));
  EXPECT_EQ((*found)[1].type, "integer");
  EXPECT_EQ((*found)[2].type, "boolean");
}

TEST(ParamHeaders, RejectsInvalidAnnotations) {
  const char* bad[] = {
      // number is not allowed
      R"({"type":"object","properties":{"n":{"type":"number","x-mcp-header":"N"}}})",
      // objects and untyped properties
      R"({"type":"object","properties":{"o":{"type":"object","x-mcp-header":"O"}}})",
      R"({"type":"object","properties":{"o":{"x-mcp-header":"O"}}})",
      // not a token
      R"({"type":"object","properties":{"s":{"type":"string","x-mcp-header":"Bad Name"}}})",
      R"({"type":"object","properties":{"s":{"type":"string","x-mcp-header":""}}})",
      R"({"type":"object","properties":{"s":{"type":"string","x-mcp-header":"A\r\nB"}}})",
      R"({"type":"object","properties":{"s":{"type":"string","x-mcp-header":7}}})",
      // repeated, ignoring case
      R"({"type":"object","properties":{"a":{"type":"string","x-mcp-header":"Same"},"b":{"type":"string","x-mcp-header":"sAME"}}})",
      // not reachable through properties alone
      R"({"type":"object","properties":{"l":{"type":"array","items":{"type":"string","x-mcp-header":"L"}}}})",
      R"({"type":"object","anyOf":[{"properties":{"s":{"type":"string","x-mcp-header":"S"}}}]})",
      R"({"type":"object","$defs":{"d":{"type":"string","x-mcp-header":"D"}},"properties":{"s":{"$ref":"#/$defs/d"}}})",
      R"({"type":"object","if":{"properties":{"s":{"type":"string","x-mcp-header":"S"}}}})",
      // on the root itself
      R"({"type":"object","x-mcp-header":"Root"})",
  };
  for (const char* text : bad) EXPECT_FALSE(mcp::param_headers(schema(text))) << text;
  // Data that merely contains the word is not an annotation.
  EXPECT_TRUE(mcp::param_headers(schema(R"({"type":"object","properties":{"x-mcp-header":{"type":"string"}},"default":{"x-mcp-header":"x"}})")));
}

TEST(ParamHeaders, ValueAtPath) {
  auto found = mcp::param_headers(schema(
      R"({"type":"object","properties":{"opts":{"type":"object","properties":{"p":{"type":"integer","x-mcp-header":"P"}}}}})"));
  ASSERT_TRUE(found);
  const auto& h = found->front();
  auto args = json::parse(R"({"opts":{"p":42}})").as_object();
  ASSERT_NE(mcp::param_value(args, h), nullptr);
  EXPECT_EQ(mcp::param_value(args, h)->as_int64(), 42);
  EXPECT_EQ(mcp::param_value(json::parse(R"({"opts":{"p":null}})").as_object(), h), nullptr);
  EXPECT_EQ(mcp::param_value(json::parse(R"({"opts":{}})").as_object(), h), nullptr);
  EXPECT_EQ(mcp::param_value(json::parse(R"({"opts":3})").as_object(), h), nullptr);
  EXPECT_EQ(mcp::param_value(json::object{}, h), nullptr);
}

TEST(ParamHeaders, ToolRegistrationRefusesInvalidAnnotations) {
  ServerDefinition def;
  Tool t;
  t.name = "bad";
  t.description = "d";
  t.input_schema = schema(R"({"type":"object","properties":{"n":{"type":"number","x-mcp-header":"N"}}})");
  t.handler = [](const json::object&, RequestContext&) -> ToolOutcome { return ToolResult::text("x"); };
  EXPECT_THROW(def.add_tool(t), std::invalid_argument);
  t.input_schema = schema(R"({"type":"object","properties":{"n":{"type":"string","x-mcp-header":"N"}}})");
  EXPECT_NO_THROW(def.add_tool(t));
}

TEST(ParamHeaders, HttpToken) {
  EXPECT_TRUE(mcp::is_http_token("Region"));
  EXPECT_TRUE(mcp::is_http_token("a.b-c_d!#$%&'*+^`|~9"));
  EXPECT_FALSE(mcp::is_http_token(""));
  EXPECT_FALSE(mcp::is_http_token("a b"));
  EXPECT_FALSE(mcp::is_http_token("a:b"));
  EXPECT_FALSE(mcp::is_http_token("\xc3\xa9"));
}
