#include <catch2/catch.hpp>

#include "runtime/bundle.h"
#include "runtime/manifest.h"

using ps::runtime::BundleError;
using ps::runtime::parse_manifest;

TEST_CASE("manifest: a full plugin.json is read", "[runtime][manifest]") {
  auto m = parse_manifest(R"({
    "name": "exporter", "description": "d", "main": "src/main.js",
    "config": [
      {"key": "apiKey", "name": "API key", "type": "string", "required": true, "secret": true},
      {"key": "mode", "type": "choice", "choices": ["a", "b"], "default": "a", "hint": "h"}
    ],
    "publicJobs": {"resync": {}}
  })", "plugin.json");
  CHECK(m.name == "exporter");
  CHECK(m.main == "src/main.js");
  REQUIRE(m.config.size() == 2);
  CHECK(m.field("apiKey")->secret);
  CHECK(m.field("apiKey")->required);
  CHECK(m.field("mode")->choices == std::vector<std::string>{"a", "b"});
  CHECK(m.field("mode")->default_value == "a");
  CHECK(m.public_jobs == std::vector<std::string>{"resync"});
}

TEST_CASE("manifest: without a main the bundle runs index.js, else index.ts", "[runtime][manifest]") {
  CHECK(parse_manifest(R"({"name":"x"})", "p").main.empty());
  auto plugin = std::pair<std::string, std::string>{"plugin.json", R"({"name":"x"})"};
  CHECK(ps::runtime::bundle_from_files("b", {plugin, {"index.js", ""}, {"index.ts", ""}}).manifest.main == "index.js");
  CHECK(ps::runtime::bundle_from_files("b", {plugin, {"index.ts", ""}}).manifest.main == "index.ts");
  CHECK_THROWS_WITH(ps::runtime::bundle_from_files("b", {plugin}), Catch::Contains("the main file \"index.js\" is missing"));
}

TEST_CASE("manifest: each mistake is a clear error naming the file", "[runtime][manifest]") {
  CHECK_THROWS_WITH(parse_manifest("{", "app/plugin.json"), Catch::StartsWith("app/plugin.json: not valid JSON"));
  CHECK_THROWS_WITH(parse_manifest("[]", "p"), Catch::Contains("must be a JSON object"));
  CHECK_THROWS_WITH(parse_manifest("{}", "p"), Catch::Contains("\"name\" is required"));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":1})", "p"), Catch::Contains("\"name\" must be a string"));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":"x","config":[{"name":"n"}]})", "p"),
                    Catch::Contains("config[0]: \"key\" is required"));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":"x","config":[{"key":"k","type":"number"}]})", "p"),
                    Catch::Contains("must be string, json, choice, attachment or boolean"));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":"x","config":[{"key":"k","type":"choice"}]})", "p"),
                    Catch::Contains("needs a non-empty \"choices\""));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":"x","config":[{"key":"k"},{"key":"k"}]})", "p"),
                    Catch::Contains("declared twice"));
  CHECK_THROWS_WITH(parse_manifest(R"({"name":"x","config":[{"key":"k","secret":"yes"}]})", "p"),
                    Catch::Contains("\"secret\" must be true or false"));
}

TEST_CASE("manifest: a number beyond a double is a clear error, not a crash (found by the fuzzer)", "[runtime][manifest]") {
  CHECK_THROWS_WITH(ps::runtime::parse_manifest(R"({"name":"a","x":1e999})", "app/plugin.json"),
                    Catch::Contains("app/plugin.json: not valid JSON"));
}
