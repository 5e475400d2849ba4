#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "runtime/app_config.h"
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

TEST_CASE("manifest: required_if makes a field required when another holds a value, markdown entries are skipped",
          "[runtime][manifest]") {
  auto bundle = ps::runtime::bundle_from_files("b", {{"index.js", ""}, {"plugin.json", R"({"name":"x","config":[
      {"markdown": "## Settings\nSay where the data goes."},
      {"key":"mode","type":"choice","choices":["off","upload"],"default":"off"},
      {"key":"bucket","type":"string","required_if":[["mode","upload"]],"visible_if":[["mode","upload"]]},
      {"key":"token","type":"string","required_if":[["account"]]},
      {"key":"account","type":"string"},
      {"key":"verbose","type":"boolean","default":false}]})"}});
  CHECK(bundle.manifest.config.size() == 5);
  CHECK(ps::runtime::resolve_app_config(bundle, nlohmann::json::object()).problems.empty());
  auto upload = ps::runtime::resolve_app_config(bundle, {{"mode", "upload"}, {"account", "a"}});
  CHECK(upload.problems == std::vector<std::string>{"config.bucket: required, and not set", "config.token: required, and not set"});
  CHECK(ps::runtime::resolve_app_config(bundle, {{"mode", "upload"}, {"bucket", "b"}}).problems.empty());
  CHECK_THROWS_WITH(ps::runtime::parse_manifest(R"({"name":"x","config":[{"key":"k","required_if":"mode"}]})", "p"),
                    Catch::Contains("\"required_if\" must be a list of [key, value] pairs"));
}
