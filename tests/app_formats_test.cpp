// Apps as they are published (tests/fixtures/apps): CommonJS, TypeScript,
// script-style, an ES module's default export, plugin.json as the
// reference accepted it. Each fixture is loaded from its folder, as a user's.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "runtime/bundle.h"
#include "tests/support/process.h"
#include "tests/support/sandbox_harness.h"

using ps::test::SandboxHarness;
using nlohmann::json;

namespace {

std::string fixture(const std::string& name) { return ps::test::source_dir() + "/tests/fixtures/apps/" + name; }

std::map<std::string, std::string> files_of(const std::string& name) {
  return ps::runtime::load_bundle(fixture(name)).files;
}

json process(SandboxHarness& h, json properties = json::object()) {
  auto out = h.process_event(json{{"event", "e"}, {"team_id", 1}, {"properties", properties}}.dump());
  INFO(out.error);
  REQUIRE(out.ok());
  return json::parse(*out.value)["properties"];
}

}  // namespace

TEST_CASE("app formats: a CommonJS app with module.exports, its own files, JSON, node-fetch and the scaffold",
          "[runtime][formats]") {
  SandboxHarness h(files_of("commonjs"), {}, {}, R"({"name":"posthog","loud":"yes"})");
  REQUIRE(h.call("setupPlugin").ok());
  auto first = process(h);
  CHECK(first["greeting"] == "HELLO POSTHOG");
  CHECK(first["greetings"] == 1);
  CHECK(first["requiredOnce"] == true);
  CHECK(first["fetchIsAFunction"] == true);
  CHECK(first["retryError"] == "RetryError");
  CHECK(first["retryErrorIsGlobal"] == true);
  CHECK(first["file"] == "index.js");
  CHECK(process(h)["greetings"] == 2);
}

TEST_CASE("app formats: a TypeScript app with an enum, type-only imports, import = require and a .ts main",
          "[runtime][formats]") {
  SandboxHarness h(files_of("typescript"), {}, {}, R"({"threshold":"10"})");
  auto high = process(h, {{"score", 12}});
  CHECK(high["level"] == "high");
  CHECK(high["levelName"] == "HIGH");
  CHECK(high["doubled"] == 24);
  auto low = process(h, {{"score", 3}});
  CHECK(low["level"] == "low");
  CHECK(low["doubled"] == 6);
  auto failed = h.process_event(R"({"event":"e","team_id":1,"properties":{"score":"many"}})");
  CHECK(failed.error == "RetryError: not a score");
  CHECK(h.exports().jobs == std::vector<std::string>{"recount"});
}

TEST_CASE("app formats: a script with no exports has its top-level functions as hooks", "[runtime][formats]") {
  SandboxHarness h(files_of("script-style"));
  CHECK(h.exports().methods == std::vector<std::string>{"setupPlugin", "processEvent", "runEveryHour"});
  REQUIRE(h.call("setupPlugin").ok());
  auto props = process(h);
  CHECK(props["style"] == "script");
  CHECK(props["setupRuns"] == 1);
}

TEST_CASE("app formats: an ES module's default export object and exports.name assignments hold hooks",
          "[runtime][formats]") {
  SandboxHarness esm(files_of("esm-default"));
  auto props = process(esm);
  CHECK(props["style"] == "default export");
  CHECK(props["retry"] == "function");
  SandboxHarness dot(files_of("exports-dot"));
  CHECK(process(dot)["style"] == "exports.name");
}

TEST_CASE("app formats: TypeScript errors point at the file and line the author wrote", "[runtime][formats]") {
  auto syntax = ps::test::sandbox_load_error(
      {{"plugin.json", R"({"name":"t","main":"index.ts"})"}, {"index.ts", "const a: number = 1\nlet b: = 2\n"}});
  CHECK(syntax.find("test-app/index.ts:2:8: SyntaxError") != std::string::npos);
  SandboxHarness h({{"plugin.json", R"({"name":"t","main":"index.ts"})"},
                    {"index.ts", "interface E { properties: Record<string, unknown> }\n"
                                 "export function processEvent(e: E): E {\n"
                                 "  const n: number = 1\n"
                                 "  throw new Error('line ' + new Error().stack!.split('\\n')[1].trim())\n"
                                 "}\n"}});
  auto out = h.process_event(R"({"event":"e","team_id":1,"properties":{}})");
  CHECK(out.error.find("test-app/index.ts:4:") != std::string::npos);
}

TEST_CASE("app formats: check-app reports each fixture's hooks, jobs and tasks", "[runtime][formats][daemon]") {
  struct Expected {
    const char* fixture;
    json methods;
    json jobs;
  };
  for (const auto& expected : {
           Expected{"commonjs", {"setupPlugin", "processEvent"}, json::array()},
           Expected{"typescript", {"processEvent"}, {"recount"}},
           Expected{"script-style", {"setupPlugin", "processEvent", "runEveryHour"}, json::array()},
           Expected{"esm-default", {"processEvent", "runEveryDay"}, json::array()},
           Expected{"exports-dot", {"processEvent", "onEvent"}, json::array()},
       }) {
    INFO(expected.fixture);
    auto run = ps::test::run_to_end({ps::test::daemon_binary(), "check-app", fixture(expected.fixture)});
    INFO(run.output);
    REQUIRE(run.code == 0);
    auto report = json::parse(run.output);
    CHECK(report["capabilities"]["methods"] == expected.methods);
    CHECK(report["capabilities"]["jobs"] == expected.jobs);
  }
}

TEST_CASE("app formats: an app with processEventBatch only gets each event as a batch of one", "[runtime][formats]") {
  SandboxHarness h(files_of("batch-only"));
  CHECK(process(h, {{"a", 1}}) == json({{"a", 1}, {"batched", 1}, {"$plugins_succeeded", {"test-app (1)"}}}));
}
