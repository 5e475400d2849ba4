// The registry's reconcile: installs replaced, added and removed while
// events flow, on a real Postgres.

#include <catch2/catch.hpp>

#include <future>

#include <nlohmann/json.hpp>

#include "runtime/event_chain.h"
#include "tests/support/runtime_harness.h"

using ps::test::RuntimeHarness;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Version `v` of app "stamp": stamps events with its version after `wait_ms`,
// takes `setup_ms` to set up (or fails to, with `setup_fails`), and records
// its teardown in storage.
std::map<std::string, std::string> stamp_version(int v, int wait_ms, int setup_ms = 0, bool setup_fails = false) {
  auto text = [](int n) { return std::to_string(n); };
  return {{"plugin.json", R"({"name":"stamp","config":[{"key":"tag","type":"string"}]})"},
          {"index.js", "export async function setupPlugin() {\n"
                       "  await new Promise(r => setTimeout(r, " + text(setup_ms) + "))\n" +
                           (setup_fails ? "  throw new Error('version " + text(v) + " cannot start')\n" : "") +
                           "}\n"
                           "export async function processEvent(e, { config }) {\n"
                           "  await new Promise(r => setTimeout(r, " + text(wait_ms) + "))\n"
                           "  e.properties.v = " + text(v) + "\n"
                           "  e.properties.tag = config.tag\n"
                           "  return e\n"
                           "}\n"
                           "export async function teardownPlugin({ storage }) {\n"
                           "  await storage.set('torn down " + text(v) + "', true)\n"
                           "}\n"}};
}

// An install of the app in `folder` for team 1.
ps::config::AppConfig install(const std::string& folder, long long id, const std::string& revision,
                              json config = json::object()) {
  auto app = RuntimeHarness::entry(folder, {1}, 0, std::move(config));
  app.install_id = id;
  app.revision = revision;
  return app;
}

const char* kEvent = R"({"event":"e","team_id":1,"distinct_id":"u","properties":{}})";

std::string torn_down(RuntimeHarness& h, int v) {
  return h.wait_for("SELECT count(*) FROM app_storage WHERE key = 'torn down " + std::to_string(v) + "'", "1");
}

}  // namespace

TEST_CASE("reload: a changed install's new instance takes over once set up, and calls holding the old one finish on it",
          "[runtime][reload]") {
  RuntimeHarness h;
  auto v1 = h.write_app("v1", stamp_version(1, 400));
  auto v2 = h.write_app("v2", stamp_version(2, 0, 300));
  h.load({install(v1, 7, "r1", {{"tag", "a"}})});
  auto& registry = h.runtime().registry();
  auto old_id = registry.for_team(1).at(0)->id();

  // An event on its way through version 1 when the change comes (its
  // chain is taken as it starts).
  auto held = h.runtime().chain().process(1, kEvent);
  auto reconciled = std::async(std::launch::async, [&] { registry.reconcile({install(v2, 7, "r2", {{"tag", "b"}})}); });
  // While version 2 sets up, events still go to version 1, none failing.
  std::vector<json> during;
  while (reconciled.wait_for(0ms) != std::future_status::ready) during.push_back(h.run_chain(1, kEvent));
  reconciled.get();
  for (const auto& out : during) {
    CHECK(out["failed"].empty());
    CHECK((out["event"]["properties"]["v"] == 1 || out["event"]["properties"]["v"] == 2));
  }

  auto first = held.get();
  CHECK(first.failed.empty());
  CHECK(json::parse(*first.event)["properties"]["v"] == 1);
  auto after = h.run_chain(1, kEvent);
  CHECK(after["event"]["properties"]["v"] == 2);
  CHECK(after["event"]["properties"]["tag"] == "b");
  // The same instance (its storage and jobs), in its new version.
  REQUIRE(registry.for_team(1).size() == 1);
  CHECK(registry.for_team(1).at(0)->id() == old_id);
  CHECK(registry.find(old_id) == registry.for_team(1).at(0));
  CHECK(torn_down(h, 1) == "1");
  CHECK(registry.revision(7) == "r2");
}

TEST_CASE("reload: a version that does not set up is dropped, the running one stays and the error says why",
          "[runtime][reload]") {
  RuntimeHarness h;
  auto v1 = h.write_app("v1", stamp_version(1, 0));
  auto broken = h.write_app("v3", stamp_version(3, 0, 0, true));
  h.load({install(v1, 7, "r1")});
  auto& registry = h.runtime().registry();
  registry.reconcile({install(broken, 7, "r3")});

  CHECK(h.run_chain(1, kEvent)["event"]["properties"]["v"] == 1);
  auto status = registry.status();
  REQUIRE(status.size() == 1);
  CHECK(status[0].state == "ready");
  CHECK(status[0].install_id == 7);
  CHECK(status[0].error.find("did not start, the running instance stays") != std::string::npos);
  CHECK(status[0].error.find("version 3 cannot start") != std::string::npos);
  CHECK(registry.revision(7) == "r3");
  // The same revision again is not tried again; a good one replaces it and clears the error.
  registry.reconcile({install(broken, 7, "r3")});
  CHECK(h.run_chain(1, kEvent)["event"]["properties"]["v"] == 1);
  auto v2 = h.write_app("v2", stamp_version(2, 0));
  registry.reconcile({install(v2, 7, "r4")});
  CHECK(h.run_chain(1, kEvent)["event"]["properties"]["v"] == 2);
  CHECK(registry.status().at(0).error.empty());
  auto metrics = h.metrics().render();
  CHECK(metrics.find("plugin_server_install_changes_total{outcome=\"refused\"} 1") != std::string::npos);
  CHECK(metrics.find("plugin_server_install_changes_total{outcome=\"replaced\"} 1") != std::string::npos);
}

TEST_CASE("reload: an install added joins its team's chain in order, one removed stops after its calls",
          "[runtime][reload]") {
  RuntimeHarness h;
  auto slow = h.write_app("v1", stamp_version(1, 400));
  auto tagger = h.write_app("tagger", {{"index.js", R"(
    export function processEvent(e) { e.properties.seen = [...(e.properties.seen || []), 'tagger']; return e }
  )"}});
  auto fixed = RuntimeHarness::entry(tagger, {1}, 5);
  h.load({fixed});
  auto& registry = h.runtime().registry();
  // Order 0: before the config file's app at order 5.
  registry.reconcile({install(slow, 3, "r1", {{"tag", "x"}})});
  auto both = h.run_chain(1, kEvent)["event"]["properties"];
  CHECK(both["v"] == 1);
  CHECK(both["seen"] == json::array({"tagger"}));
  CHECK(registry.for_team(1).size() == 2);

  auto held = h.runtime().chain().process(1, kEvent);
  registry.reconcile({});
  auto first = held.get();
  CHECK(first.failed.empty());
  CHECK(json::parse(*first.event)["properties"]["v"] == 1);
  CHECK(torn_down(h, 1) == "1");
  auto alone = h.run_chain(1, kEvent)["event"]["properties"];
  CHECK_FALSE(alone.contains("v"));
  CHECK(alone["seen"] == json::array({"tagger"}));
  CHECK(registry.status().size() == 1);
  CHECK_FALSE(registry.revision(3));
}

TEST_CASE("reload: an install may not take the name a config-file app holds for its team", "[runtime][reload]") {
  RuntimeHarness h;
  auto v1 = h.write_app("v1", stamp_version(1, 0));
  auto v2 = h.write_app("v2", stamp_version(2, 0));
  h.load({RuntimeHarness::entry(v1, {1})});
  auto& registry = h.runtime().registry();
  registry.reconcile({install(v2, 4, "r1")});
  CHECK(h.run_chain(1, kEvent)["event"]["properties"]["v"] == 1);
  bool refused = false;
  for (const auto& s : registry.status()) {
    if (s.install_id == 4) refused = s.state == "failed" && s.error.find("already installed for team 1") != std::string::npos;
  }
  CHECK(refused);
}
