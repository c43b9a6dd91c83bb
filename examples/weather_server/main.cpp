// A weather server showing each kind of thing a server can offer: two tools (one with a
// structured result), a resource and a prompt whose argument the client can auto-complete.
// Served over stdin/stdout, like hello_server.
//
// The forecasts are made-up sample data computed from a small table, so the example runs
// anywhere without a network or an API key. To serve real data, replace `forecast_for`.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bastion/server.hpp"
#include "transport/stdio.hpp"

namespace json = bastion::json;
using bastion::RequestContext;

namespace {

struct City {
  std::string_view name;
  int typical_high_c;  // a typical daytime high in °C, used to make up the sample forecast
};
constexpr City kCities[] = {{"Amsterdam", 14}, {"Lisbon", 22}, {"Nairobi", 25}, {"Oslo", 8},
                            {"Paris", 17},     {"Sydney", 21}, {"Tokyo", 19},   {"Toronto", 12}};
constexpr std::string_view kConditions[] = {"sunny", "partly cloudy", "cloudy", "light rain", "windy"};

bool same_letters(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

const City* find_city(std::string_view name) {
  for (const auto& city : kCities)
    if (same_letters(city.name, name)) return &city;
  return nullptr;
}

std::string city_list() {
  std::string out;
  for (const auto& city : kCities) out += (out.empty() ? "" : ", ") + std::string(city.name);
  return out;
}

// Sample data: deterministic per city and day.
json::object forecast_for(const City& city, int day) {
  const int wobble = static_cast<int>((city.name.size() * 7 + day * 3) % 5);
  const int high = city.typical_high_c + wobble - 2;
  return json::object{{"day", day},
                      {"high_c", high},
                      {"low_c", high - 7},
                      {"conditions", kConditions[(city.name.size() + day) % std::size(kConditions)]}};
}

bastion::Tool forecast_tool() {
  bastion::Tool tool;
  tool.name = "get_forecast";
  tool.title = "Weather forecast";
  tool.description = "Gives a daily forecast (high, low, conditions) for a city, for 1 to 7 days. Sample data.";
  tool.input_schema = json::object{
      {"type", "object"},
      {"properties",
       json::object{{"city", json::object{{"type", "string"}, {"description", "City name, e.g. 'Lisbon'."}}},
                    {"days", json::object{{"type", "integer"}, {"minimum", 1}, {"maximum", 7}, {"default", 3}}}}},
      {"required", json::array{"city"}}};
  // With an output schema, clients get the result as JSON they can rely on (structuredContent).
  tool.output_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"city", json::object{{"type", "string"}}}, {"days", json::object{{"type", "array"}}}}},
      {"required", json::array{"city", "days"}}};
  tool.annotations = json::object{{"readOnlyHint", true}, {"openWorldHint", false}};
  tool.handler = [](const json::object& arguments, RequestContext&) -> bastion::ToolOutcome {
    const City* city = find_city(arguments.at("city").as_string());
    // A problem the model can fix is an error *result* with a helpful text, not an exception.
    if (city == nullptr) return bastion::ToolResult::error("Unknown city. Known cities: " + city_list() + ".");
    const auto* days_value = arguments.if_contains("days");
    const int days = days_value ? static_cast<int>(days_value->to_number<std::int64_t>()) : 3;
    json::array days_out;
    for (int day = 1; day <= days; ++day) days_out.push_back(forecast_for(*city, day));
    return bastion::ToolResult::structured_value(json::object{{"city", city->name}, {"days", std::move(days_out)}});
  };
  return tool;
}

bastion::Tool convert_tool() {
  bastion::Tool tool;
  tool.name = "convert_temperature";
  tool.title = "Convert a temperature";
  tool.description = "Converts a temperature between celsius, fahrenheit and kelvin.";
  const json::array units{"celsius", "fahrenheit", "kelvin"};
  tool.input_schema = json::object{
      {"type", "object"},
      {"properties", json::object{{"value", json::object{{"type", "number"}}},
                                  {"from", json::object{{"type", "string"}, {"enum", units}}},
                                  {"to", json::object{{"type", "string"}, {"enum", units}}}}},
      {"required", json::array{"value", "from", "to"}}};
  tool.annotations = json::object{{"readOnlyHint", true}, {"idempotentHint", true}, {"openWorldHint", false}};
  // Pure arithmetic that never blocks: safe to run on the I/O thread, skipping the worker pool.
  tool.inline_handler = true;
  tool.handler = [](const json::object& arguments, RequestContext&) -> bastion::ToolOutcome {
    const double value = arguments.at("value").to_number<double>();
    const std::string_view from = arguments.at("from").as_string();
    const std::string_view to = arguments.at("to").as_string();
    const double kelvin = from == "celsius" ? value + 273.15 : from == "fahrenheit" ? (value - 32) * 5 / 9 + 273.15 : value;
    if (kelvin < 0) return bastion::ToolResult::error("That is below absolute zero.");
    const double out = to == "celsius" ? kelvin - 273.15 : to == "fahrenheit" ? (kelvin - 273.15) * 9 / 5 + 32 : kelvin;
    char text[64];
    std::snprintf(text, sizeof text, "%.2f %s", out, std::string(to).c_str());
    return bastion::ToolResult::text(text);
  };
  return tool;
}

bastion::Resource cities_resource() {
  bastion::Resource resource;
  resource.uri = "weather://cities";
  resource.name = "cities";
  resource.title = "Supported cities";
  resource.description = "The cities this server has forecasts for.";
  resource.mime_type = "application/json";
  resource.read = [](RequestContext&) -> bastion::ReadOutcome {
    json::array names;
    for (const auto& city : kCities) names.push_back(json::string(city.name));
    return bastion::ResourceContents{json::array{
        json::object{{"uri", "weather://cities"}, {"mimeType", "application/json"}, {"text", json::serialize(names)}}}};
  };
  return resource;
}

bastion::Prompt packing_prompt() {
  bastion::Prompt prompt;
  prompt.name = "packing_list";
  prompt.title = "Packing list";
  prompt.description = "Asks the model for a packing list for a trip, using the forecast tool.";
  prompt.arguments = {{"city", "City", "Where you are going.", true}, {"days", "Days", "How long you stay.", false}};
  prompt.get = [](const std::map<std::string, std::string>& arguments, RequestContext&) -> bastion::PromptOutcome {
    // Required arguments ("city") are checked by the framework before this runs.
    const auto days = arguments.contains("days") ? arguments.at("days") : std::string("3");
    bastion::PromptResult result;
    result.messages.push_back(json::object{
        {"role", "user"},
        {"content", bastion::content::text("I am travelling to " + arguments.at("city") + " for " + days +
                                           " days. Check the forecast with get_forecast, then write a short packing list.")}});
    return result;
  };
  // Called for completion/complete: suggest city names that start with what the user typed.
  prompt.complete = [](const std::string& argument, const std::string& prefix,
                       const std::map<std::string, std::string>&) {
    std::vector<std::string> values;
    if (argument == "city")
      for (const auto& city : kCities)
        if (same_letters(city.name.substr(0, std::min(prefix.size(), city.name.size())), prefix))
          values.emplace_back(city.name);
    return values;
  };
  return prompt;
}

}  // namespace

int main() {
  auto server = std::make_shared<bastion::ServerDefinition>();
  server->info.name = "weather-example";
  server->info.version = "1.0.0";
  server->instructions = "Use get_forecast before giving weather advice. Forecasts are sample data.";

  server->add_tool(forecast_tool());
  server->add_tool(convert_tool());
  server->add_resource(cities_resource());
  server->add_prompt(packing_prompt());

  return bastion::transport::run_stdio(server, {}, std::cin, std::cout);
}
