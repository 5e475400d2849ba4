// App instances, the registry and the event chain, on a real Postgres.

#include <catch2/catch.hpp>

#include <atomic>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "runtime/event_chain.h"
#include "tests/support/process.h"
#include "tests/support/runtime_harness.h"
#include "tests/support/scripted_server.h"

using ps::runtime::Failure;
using ps::runtime::InstanceState;
using ps::test::RuntimeHarness;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {
const char* kTagger = R"(
  export function processEvent(event, { config }) {
    event.properties.order = [...(event.properties.order || []), config.tag]
    return event
  }
)";
const char* kTaggerManifest = R"({"name":"NAME","config":[{"key":"tag","type":"string","required":true}]})";

std::string manifest(const std::string& name) {
  std::string m = kTaggerManifest;
  return m.replace(m.find("NAME"), 4, name);
}

}  // namespace

TEST_CASE("chain: instances run in order, a team with no apps passes events through", "[runtime][chain]") {
  RuntimeHarness h;
  auto a = h.write_app("a", {{"plugin.json", manifest("a")}, {"index.js", kTagger}});
  auto b = h.write_app("b", {{"plugin.json", manifest("b")}, {"index.js", kTagger}});
  h.load({RuntimeHarness::entry(b, {1}, 2, {{"tag", "second"}}), RuntimeHarness::entry(a, {1, 2}, 1, {{"tag", "first"}})});

  auto out = h.run_chain(1, R"({"event":"e","team_id":1,"distinct_id":"u","properties":{}})");
  CHECK(out["event"]["properties"]["order"] == json::array({"first", "second"}));
  CHECK(out["event"]["properties"]["$plugins_succeeded"].size() == 2);
  CHECK(h.run_chain(2, R"({"team_id":2,"properties":{}})")["event"]["properties"]["order"] == json::array({"first"}));
  auto untouched = h.run_chain(3, R"({"team_id":3,"properties":{"x":1}})");
  CHECK(untouched["event"] == json::parse(R"({"team_id":3,"properties":{"x":1}})"));
}

TEST_CASE("chain: a drop stops the chain, a failure marks the event and the chain goes on", "[runtime][chain]") {
  RuntimeHarness h;
  auto dropper = h.write_app("dropper", {{"index.js", "export function processEvent(e) { return e.event === 'drop' ? null : e }"}});
  auto thrower = h.write_app("thrower", {{"index.js", R"(
    export function processEvent(e) { e.properties.touched = true; if (e.event === 'boom') throw new Error('kaboom'); return e }
  )"}});
  auto stealer = h.write_app("stealer", {{"index.js", R"(
    export function processEvent(e) { if (e.event === 'steal') e.team_id = 42; return e }
  )"}});
  auto tagger = h.write_app("tagger", {{"plugin.json", manifest("tagger")}, {"index.js", kTagger}});
  h.load({RuntimeHarness::entry(dropper, {1}, 1), RuntimeHarness::entry(thrower, {1}, 2),
          RuntimeHarness::entry(stealer, {1}, 3), RuntimeHarness::entry(tagger, {1}, 4, {{"tag", "last"}})});

  auto dropped = h.run_chain(1, R"({"event":"drop","team_id":1,"properties":{}})");
  CHECK(dropped["event"].is_null());
  CHECK(dropped["dropped_by"].get<std::string>().rfind("dropper (", 0) == 0);

  auto boom = h.run_chain(1, R"({"event":"boom","team_id":1,"properties":{}})");
  // The thrower's change is undone; the apps after it still ran.
  CHECK_FALSE(boom["event"]["properties"].contains("touched"));
  CHECK(boom["event"]["properties"]["order"] == json::array({"last"}));
  REQUIRE(boom["event"]["properties"]["$plugins_failed"].size() == 1);
  CHECK(boom["event"]["properties"]["$plugins_failed"][0].get<std::string>().rfind("thrower (", 0) == 0);
  CHECK(boom["failed"][0].get<std::string>().find("Error: kaboom") != std::string::npos);

  auto steal = h.run_chain(1, R"({"event":"steal","team_id":1,"properties":{}})");
  CHECK(steal["event"]["team_id"] == 1);
  CHECK(steal["event"]["properties"]["$plugins_failed"][0].get<std::string>().rfind("stealer (", 0) == 0);
  CHECK(steal["failed"][0].get<std::string>().find("may not change team_id") != std::string::npos);
}

TEST_CASE("instances: ids are stable across restarts and kept in Postgres", "[runtime][instances]") {
  RuntimeHarness h;
  auto app = h.write_app("stable", {{"index.js", "export function processEvent(e) { return e }"}});
  std::vector<ps::config::AppConfig> apps = {RuntimeHarness::entry(app, {5, 6})};
  h.load(apps);
  auto first = h.runtime().registry().for_team(5).at(0)->id();
  CHECK(h.runtime().registry().for_team(6).at(0)->id() != first);
  h.restart(apps);
  CHECK(h.runtime().registry().for_team(5).at(0)->id() == first);
  pqxx::connection conn(h.database().url());
  pqxx::work tx(conn);
  CHECK(tx.exec1("SELECT count(*) FROM app_instances WHERE app_name = 'stable'")[0].as<int>() == 2);
}

TEST_CASE("instances: config is checked against plugin.json, defaults fill the rest", "[runtime][instances]") {
  RuntimeHarness h;
  auto app = h.write_app("configured", {
      {"plugin.json", R"({"name":"configured","config":[
          {"key":"apiKey","type":"string","required":true,"secret":true},
          {"key":"mode","type":"choice","choices":["fast","slow"],"default":"fast"},
          {"key":"list","type":"attachment"}]})"},
      {"list.csv", "a,b\n"},
      {"index.js", R"(
        export function processEvent(e, { config, attachments }) {
          e.properties.config = config
          e.properties.attachment = attachments.list
          return e
        })"}});
  h.load({RuntimeHarness::entry(app, {1}, 0, {{"apiKey", "k"}, {"list", "list.csv"}}),
          RuntimeHarness::entry(app, {2}, 0, {{"mode", "medium"}, {"extra", 1}})});
  auto out = h.run_chain(1, R"({"team_id":1,"properties":{}})")["event"]["properties"];
  CHECK(out["config"] == json({{"apiKey", "k"}, {"mode", "fast"}}));
  CHECK(out["attachment"]["contents"] == "a,b\n");
  CHECK(out["attachment"]["content_type"] == "text/csv");

  // Team 2's instance is disabled with every problem named; team 1's works.
  CHECK(h.runtime().registry().for_team(2).empty());
  std::string error;
  for (const auto& s : h.runtime().registry().status()) {
    if (s.team_id == 2) error = s.error;
  }
  CHECK(error.find("config.extra: not declared") != std::string::npos);
  CHECK(error.find("config.apiKey: required") != std::string::npos);
  CHECK(error.find("config.mode: must be one of fast, slow") != std::string::npos);
}

TEST_CASE("instances: a broken bundle is reported and the other apps run", "[runtime][instances]") {
  RuntimeHarness h;
  auto broken = h.write_app("broken", {{"index.js", "export function processEvent(e) { return e +++ }"}});
  auto good = h.write_app("good", {{"index.js", "export function processEvent(e) { e.properties.good = 1; return e }"}});
  h.load({RuntimeHarness::entry(broken, {1}, 1), RuntimeHarness::entry(good, {1}, 2),
          RuntimeHarness::entry(h.dir().path().string() + "/missing", {1}, 3)});
  auto out = h.run_chain(1, R"({"team_id":1,"properties":{}})");
  CHECK(out["event"]["properties"]["good"] == 1);
  int disabled = 0;
  for (const auto& s : h.runtime().registry().status()) {
    if (s.state != "ready") {
      ++disabled;
      CHECK_FALSE(s.error.empty());
    }
  }
  CHECK(disabled == 2);
}

TEST_CASE("instances: a second bundle with an app's name is refused for that team, the rest run", "[runtime][instances]") {
  RuntimeHarness h;
  auto first = h.write_app("first", {{"plugin.json", R"({"name":"same"})"},
                                     {"index.js", "export function processEvent(e) { e.properties.first = 1; return e }"}});
  auto second = h.write_app("second", {{"plugin.json", R"({"name":"same"})"},
                                       {"index.js", "export function processEvent(e) { e.properties.second = 1; return e }"}});
  h.load({RuntimeHarness::entry(first, {1, 2}, 1), RuntimeHarness::entry(second, {2, 3}, 2)});
  auto team2 = h.run_chain(2, R"({"team_id":2,"properties":{}})")["event"]["properties"];
  CHECK(team2["first"] == 1);
  CHECK_FALSE(team2.contains("second"));
  CHECK(h.run_chain(3, R"({"team_id":3,"properties":{}})")["event"]["properties"]["second"] == 1);
  std::string refused;
  for (const auto& s : h.runtime().registry().status()) {
    if (s.team_id == 2 && s.path == second) refused = s.state + ": " + s.error;
  }
  CHECK(refused.find("failed: another bundle named \"same\" is already installed for team 2 (" + first +
                     "); two would share one instance's storage and jobs") == 0);
}

TEST_CASE("instances: setupPlugin runs first and is retried with capped backoff for as long as it fails",
          "[runtime][instances]") {
  RuntimeHarness h;
  auto flaky = h.write_app("flaky", {{"index.js", R"(
    export async function setupPlugin({ storage, global }) {
      const n = (await storage.get('attempts', 0)) + 1
      await storage.set('attempts', n)
      if (n < 3) throw new Error(`attempt ${n} failed`)
      global.ready = n
    }
    export function processEvent(e, { global }) { e.properties.ready = global.ready; return e }
  )"}});
  // Fails until told otherwise: a database that is down for a while, say.
  auto patient = h.write_app("patient", {{"index.js", R"(
    export async function setupPlugin({ storage }) {
      const n = (await storage.get('attempts', 0)) + 1
      await storage.set('attempts', n)
      if (!(await storage.get('go'))) throw new Error('not yet')
    }
    export function processEvent(e) { e.properties.patient = true; return e }
  )"}});
  h.load({RuntimeHarness::entry(flaky, {1}), RuntimeHarness::entry(patient, {1})});
  auto out = h.run_chain(1, R"({"team_id":1,"properties":{}})");
  CHECK(out["event"]["properties"]["ready"] == 3);
  CHECK_FALSE(out["event"]["properties"].contains("patient"));
  std::string state;
  for (const auto& s : h.runtime().registry().status()) {
    if (s.app == "patient") state = s.state + ": " + s.error;
  }
  CHECK(state.find("setup_failed: setupPlugin failed: Error: not yet (attempt ") == 0);
  // It keeps trying (more attempts than the loader waited for), and once it
  // can, it is ready without a restart.
  auto patient_id = h.query("SELECT id FROM app_instances WHERE app_name = 'patient'");
  auto attempts = [&] {
    return std::stoi(h.query("SELECT value::text FROM app_storage WHERE key = 'attempts' AND instance_id = " + patient_id));
  };
  for (int i = 0; i < 200 && attempts() < 6; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
  CHECK(attempts() >= 6);
  h.query("INSERT INTO app_storage (instance_id, key, value) VALUES (" + patient_id + ", 'go', 'true') RETURNING 1");
  json after;
  for (int i = 0; i < 200; ++i) {
    after = h.run_chain(1, R"({"team_id":1,"properties":{}})");
    if (after["event"]["properties"].contains("patient")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(after["event"]["properties"]["patient"] == true);
}

TEST_CASE("instances: storage is durable, JSON-valued and scoped to the instance", "[runtime][storage]") {
  RuntimeHarness h;
  auto app = h.write_app("store", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      if (e.event === 'set') { await storage.set('k', { n: e.properties.n, list: [1, 'two'] }); await storage.set('gone', 1); await storage.del('gone') }
      e.properties.k = await storage.get('k', 'none')
      e.properties.gone = await storage.get('gone', 'default')
      e.properties.missing = await storage.get('missing')
      return e
    }
  )"}});
  std::vector<ps::config::AppConfig> apps = {RuntimeHarness::entry(app, {1, 2})};
  h.load(apps);
  h.run_chain(1, R"({"event":"set","team_id":1,"properties":{"n":7}})");
  auto team1 = h.run_chain(1, R"({"event":"get","team_id":1,"properties":{}})")["event"]["properties"];
  CHECK(team1["k"] == json({{"n", 7}, {"list", {1, "two"}}}));
  CHECK(team1["gone"] == "default");
  CHECK_FALSE(team1.contains("missing"));
  // Team 2's instance of the same app sees none of team 1's keys.
  CHECK(h.run_chain(2, R"({"event":"get","team_id":2,"properties":{}})")["event"]["properties"]["k"] == "none");
  // And it survives a restart.
  h.restart(apps);
  CHECK(h.run_chain(1, R"({"event":"get","team_id":1,"properties":{}})")["event"]["properties"]["k"]["n"] == 7);
}

TEST_CASE("instances: storage rejects values that are not JSON", "[runtime][storage]") {
  RuntimeHarness h;
  auto app = h.write_app("badstore", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      const errors = []
      for (const v of [() => 1, Symbol('s'), 10n]) {
        try { await storage.set('k', v) } catch (err) { errors.push(err.constructor.name + ': ' + err.message) }
      }
      e.properties.errors = errors
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto errors = h.run_chain(1, R"({"team_id":1,"properties":{}})")["event"]["properties"]["errors"];
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].get<std::string>().find("TypeError: storage.set: the value is not JSON-serialisable") == 0);
  CHECK(errors[2].get<std::string>().find("BigInt") != std::string::npos);
}

TEST_CASE("instances: a heap break replaces the isolate and runs setupPlugin again", "[runtime][limits]") {
  auto options = RuntimeHarness::fast_options();
  options.limits.heap_bytes = 32u << 20;
  // One allocation past the limit, and a CPU limit it cannot reach first
  // however loaded the machine: only the heap limit can end the call.
  options.limits.cpu = std::chrono::milliseconds(60000);
  RuntimeHarness h(options);
  auto app = h.write_app("hog", {{"index.js", R"(
    let setups = 0
    export function setupPlugin({ global }) { setups++; global.setups = setups }
    export function processEvent(e, { global }) {
      if (e.event === 'hog') globalThis.hoard = new Array(2 ** 25).fill(1.5)
      e.properties.setups = global.setups
      return e
    }
  )"}});
  auto other = h.write_app("bystander", {{"index.js", "export function processEvent(e) { e.properties.bystander = true; return e }"}});
  h.load({RuntimeHarness::entry(app, {1}, 1), RuntimeHarness::entry(other, {1}, 2)});
  auto hog = h.run_chain(1, R"({"event":"hog","team_id":1,"properties":{}})");
  CHECK(hog["failed"][0].get<std::string>().find("exceeded the heap limit of 32 MiB") != std::string::npos);
  CHECK(hog["event"]["properties"]["bystander"] == true);
  // The replacement is a fresh isolate: module state starts over, setupPlugin ran again.
  json after;
  for (int i = 0; i < 100; ++i) {
    after = h.run_chain(1, R"({"event":"ok","team_id":1,"properties":{}})");
    if (after["failed"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(after["event"]["properties"]["setups"] == 1);
  CHECK(h.metrics().render().find("plugin_server_app_errors_total{app=\"hog\",method=\"processEvent\"} 1") !=
        std::string::npos);
}

TEST_CASE("instances: storage and enqueues fired in teardownPlugin finish safely at shutdown", "[runtime][instances]") {
  // Once a crash at shutdown: the completions posted into JS threads that were gone.
  auto options = RuntimeHarness::fast_options();
  // This test is about shutdown, not the rate and pending-call quotas.
  options.max_enqueues_per_second = 100000;
  options.max_pending_storage_calls = 10000;
  auto h = RuntimeHarness::with_jobs(options);
  auto app = h->write_app("flood", {{"index.js", R"(
    export const jobs = { later: () => {} }
    export function teardownPlugin({ storage, jobs }) {
      for (let i = 0; i < 5000; i++) { storage.set('k' + i, i); jobs.later({ i }).runIn(1, 'hour') }
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  h->restart({});
  // The writes the app started were kept.
  CHECK(h->query("SELECT count(*) FROM app_storage WHERE key LIKE 'k%'") == "5000");
  CHECK(h->query("SELECT count(*) FROM jobs WHERE name = 'later'") == "5000");
}

TEST_CASE("instances: teardownPlugin runs at stop", "[runtime][instances]") {
  RuntimeHarness h;
  auto app = h.write_app("tidy", {{"index.js", R"(
    export async function teardownPlugin({ storage }) { await storage.set('tidied', true) }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  h.runtime().stop();
  pqxx::connection conn(h.database().url());
  pqxx::work tx(conn);
  CHECK(tx.exec1("SELECT value::text FROM app_storage WHERE key = 'tidied'")[0].as<std::string>() == "true");
}

TEST_CASE("instances: calls are counted in metrics, console lines too", "[runtime][metrics]") {
  RuntimeHarness h;
  auto app = h.write_app("chatty", {{"index.js", "export function processEvent(e) { console.warn('hm', { a: 1 }); return e }"}});
  h.load({RuntimeHarness::entry(app, {1})});
  h.run_chain(1, R"({"team_id":1,"properties":{}})");
  h.run_chain(1, R"({"team_id":1,"properties":{}})");
  auto text = h.metrics().render();
  CHECK(text.find("plugin_server_app_calls_total{app=\"chatty\",method=\"processEvent\"} 2") != std::string::npos);
  CHECK(text.find("plugin_server_app_console_messages_total{app=\"chatty\",level=\"warn\"} 2") != std::string::npos);
  CHECK(text.find("plugin_server_app_call_duration_seconds_count{app=\"chatty\",method=\"processEvent\"} 2") !=
        std::string::npos);
}

TEST_CASE("instances: console output is cut, and a flood is dropped and counted", "[runtime][console]") {
  RuntimeHarness h;
  auto app = h.write_app("loud", {{"index.js", R"(
    export function processEvent(e) {
      console.log('x'.repeat(20e6))
      for (let i = 0; i < 1000; i++) console.log('line ' + i + '\n[fake] daemon line')
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto out = h.run_chain(1, R"({"team_id":1,"properties":{}})");
  CHECK(out["failed"].empty());
  auto text = h.metrics().render();
  CHECK(text.find("plugin_server_app_console_messages_total{app=\"loud\",level=\"log\"} 1001") != std::string::npos);
  // 100 a second pass (the first burst); nearly all the rest of the loop is dropped.
  auto at = text.find("plugin_server_app_console_dropped_total{app=\"loud\"} ");
  REQUIRE(at != std::string::npos);
  CHECK(std::stod(text.substr(at + std::string("plugin_server_app_console_dropped_total{app=\"loud\"} ").size())) >= 500);
}

TEST_CASE("instances: a call over the wall-clock limit does nothing more, and the instance runs again",
          "[runtime][limits]") {
  ps::test::ScriptedServer server({200}, /*hold_ms=*/3000);
  RuntimeHarness h;
  auto app = h.write_app("slow", {{"index.js", "const base = '" + server.base() + R"('
    export async function processEvent(e, { storage }) {
      if (e.event === 'slow') {
        await fetch(base + '/hold')
        await storage.set('late', true)  // after the call was given up on: must never happen
      }
      e.properties.fine = true
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto slow = h.run_chain(1, R"({"event":"slow","team_id":1,"properties":{}})");
  REQUIRE(slow["failed"].size() == 1);
  CHECK(slow["failed"][0].get<std::string>().find("did not settle within the time limit of 2000 ms") != std::string::npos);
  json after;
  for (int i = 0; i < 200; ++i) {
    after = h.run_chain(1, R"({"event":"ok","team_id":1,"properties":{}})");
    if (after["failed"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(after["event"]["properties"]["fine"] == true);
  // Past the moment the held response came back.
  for (int i = 0; i < 100 && server.hits("/hold") == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(h.query("SELECT count(*) FROM app_storage WHERE key = 'late'") == "0");
}

TEST_CASE("instances: quotas refuse an oversized storage value and an enqueue flood, and count them", "[runtime][quota]") {
  auto options = RuntimeHarness::fast_options();
  options.max_storage_value_bytes = 1000;
  options.max_enqueues_per_second = 50;
  auto h = RuntimeHarness::with_jobs(options);
  auto app = h->write_app("greedy", {{"index.js", R"(
    export const jobs = { later: () => {} }
    export async function processEvent(e, { storage, jobs }) {
      const out = {}
      try { await storage.set('big', 'x'.repeat(2000)); out.big = 'stored' } catch (err) { out.big = err.name + ': ' + err.message }
      await storage.set('small', 'ok')
      const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => jobs.later(i).runIn(1, 'hour')))
      out.enqueued = results.filter((r) => r.status === 'fulfilled').length
      out.refusal = results.find((r) => r.status === 'rejected').reason.message
      e.properties.out = out
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1})});
  auto r = h->runtime().chain().process(1, R"({"event":"e","team_id":1,"properties":{}})").get();
  REQUIRE(r.event);
  auto out = json::parse(*r.event)["properties"]["out"];
  CHECK(out["big"] == "RangeError: storage.set: the value is 2002 bytes as JSON, over the limit of 1000 (runtime.storage_max_value_bytes)");
  // The burst is the rate (refilling while the loop runs); the rest is refused.
  CHECK(out["enqueued"].get<int>() >= 50);
  CHECK(out["enqueued"].get<int>() < 200);
  CHECK(out["refusal"] == "too many jobs: over 50 a second for this app (jobs.max_enqueues_per_second)");
  CHECK(h->query("SELECT count(*) FROM jobs") == std::to_string(out["enqueued"].get<int>()));
  CHECK(h->query("SELECT value::text FROM app_storage WHERE key = 'small'") == "\"ok\"");
  auto metrics = h->metrics().render();
  CHECK(metrics.find("plugin_server_app_quota_refusals_total{app=\"greedy\",quota=\"storage_value_bytes\"} 1") != std::string::npos);
  CHECK(metrics.find("plugin_server_app_quota_refusals_total{app=\"greedy\",quota=\"enqueue_rate\"} " +
                     std::to_string(200 - out["enqueued"].get<int>())) != std::string::npos);
}

TEST_CASE("instances: the storage quota counts each instance's keys and values, and a delete makes room", "[runtime][quota]") {
  auto options = RuntimeHarness::fast_options();
  options.max_storage_total_bytes = 300;
  RuntimeHarness h(options);
  // Each entry is 1 byte of key and 102 of JSON: two fit, a third does not.
  auto app = h.write_app("hoarder", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      const attempt = async (f) => { try { await f(); return 'ok' } catch (err) { return err.name + ': ' + err.message } }
      const x = 'x'.repeat(100)
      e.properties.out = {
        a: await attempt(() => storage.set('a', x)),
        b: await attempt(() => storage.set('b', x)),
        c: await attempt(() => storage.set('c', x)),
        overwrite: await attempt(() => storage.set('a', x)),
        removed: await attempt(() => storage.del('b')),
        again: await attempt(() => storage.set('c', x)),
      }
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1, 2})});
  for (long long team : {1, 2}) {
    auto out = h.run_chain(team, R"({"event":"e","team_id":)" + std::to_string(team) + R"(,"properties":{}})");
    auto got = out["event"]["properties"]["out"];
    CHECK(got["a"] == "ok");
    CHECK(got["b"] == "ok");
    CHECK(got["c"] == "RangeError: storage.set: this app's storage would hold 309 bytes, over the limit of 300 "
                      "(runtime.storage_max_total_mb)");
    CHECK(got["overwrite"] == "ok");
    CHECK(got["removed"] == "ok");
    CHECK(got["again"] == "ok");
  }
  // Each team's instance has its own total, equal to what it holds.
  CHECK(h.query("SELECT string_agg(bytes::text, ',' ORDER BY instance_id) FROM app_storage_usage") == "206,206");
  CHECK(h.query("SELECT count(*) FROM app_storage_usage u WHERE bytes <> (SELECT sum(bytes) FROM app_storage s "
                "WHERE s.instance_id = u.instance_id)") == "0");
  CHECK(h.metrics().render().find("plugin_server_app_quota_refusals_total{app=\"hoarder\",quota=\"storage_total_bytes\"} 2") !=
        std::string::npos);
}

TEST_CASE("instances: an instance with its quota of jobs waiting has more refused until they have run", "[runtime][quota]") {
  ps::scheduler::EnqueuerOptions enqueuer;
  enqueuer.max_queued_per_instance = 30;
  enqueuer.recount_interval = std::chrono::milliseconds(0);
  auto h = RuntimeHarness::with_jobs(RuntimeHarness::fast_options(), enqueuer);
  auto app = h->write_app("flooder", {{"index.js", R"(
    export const jobs = { later: () => {} }
    export async function processEvent(e, { jobs }) {
      const results = await Promise.allSettled(Array.from({ length: e.properties.n }, (_, i) => jobs.later(i).runIn(1, 'hour')))
      e.properties.enqueued = results.filter((r) => r.status === 'fulfilled').length
      e.properties.refusal = results.find((r) => r.status === 'rejected')?.reason.message ?? null
      return e
    }
  )"}});
  h->load({RuntimeHarness::entry(app, {1, 2})});
  auto first = h->runtime().chain().process(1, R"({"event":"e","team_id":1,"properties":{"n":50}})").get();
  REQUIRE(first.event);
  auto props = json::parse(*first.event)["properties"];
  CHECK(props["enqueued"] == 30);
  CHECK(props["refusal"] == "the job could not be enqueued: too many jobs waiting: this app has 30 jobs queued "
                            "(jobs.max_queued_per_app)");
  // Another team's instance has its own quota.
  auto other = h->runtime().chain().process(2, R"({"event":"e","team_id":2,"properties":{"n":5}})").get();
  REQUIRE(other.event);
  CHECK(json::parse(*other.event)["properties"]["enqueued"] == 5);
  // Once ten have gone from the queue (as if run), ten more fit.
  h->query("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE instance_id = (SELECT min(instance_id) FROM jobs) "
           "ORDER BY id LIMIT 10) RETURNING 1");
  auto later = h->runtime().chain().process(1, R"({"event":"e","team_id":1,"properties":{"n":15}})").get();
  REQUIRE(later.event);
  CHECK(json::parse(*later.event)["properties"]["enqueued"] == 10);
  CHECK(h->query("SELECT count(*) FROM jobs") == "35");
  CHECK(h->metrics().render().find("plugin_server_app_quota_refusals_total{app=\"flooder\",quota=\"queued_jobs\"} 25") !=
        std::string::npos);
}

TEST_CASE("chain: an app without processEvent is not part of the chain, its onEvent still runs", "[runtime][chain]") {
  RuntimeHarness h;
  auto fixtures = ps::test::source_dir() + "/tests/fixtures/apps/";
  h.load({RuntimeHarness::entry(fixtures + "tasks-only", {1}, 0), RuntimeHarness::entry(fixtures + "exports-dot", {1}, 1)});
  auto out = h.run_chain(1, R"({"event":"e","team_id":1,"properties":{}})");
  CHECK(out["failed"].empty());
  auto props = out["event"]["properties"];
  CHECK(props["style"] == "exports.name");
  CHECK(props.count("$plugins_failed") == 0);
  REQUIRE(props["$plugins_succeeded"].size() == 1);
  CHECK(props["$plugins_succeeded"][0].get<std::string>().rfind("exports-dot (", 0) == 0);
  std::promise<void> settled;
  h.runtime().chain().on_event(1, out["event"].dump(), 0, [&] { settled.set_value(); });
  // Settled only once onEvent has run to its end.
  CHECK(settled.get_future().wait_for(20s) == std::future_status::ready);
  CHECK(h.query("SELECT value::text FROM app_storage WHERE key = 'seen'") == "1");
}

TEST_CASE("instances: storage.set of undefined removes the key, as the reference did", "[runtime][storage]") {
  RuntimeHarness h;
  auto app = h.write_app("forgetful", {{"index.js", R"(
    export async function processEvent(e, { storage }) {
      await storage.set('k', { a: 1 })
      const before = await storage.get('k')
      await storage.set('k', undefined)
      e.properties.before = before
      e.properties.after = await storage.get('k', 'gone')
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(app, {1})});
  auto props = h.run_chain(1, R"({"event":"e","team_id":1,"properties":{}})")["event"]["properties"];
  CHECK(props["before"] == json({{"a", 1}}));
  CHECK(props["after"] == "gone");
  CHECK(h.query("SELECT count(*) FROM app_storage") == "0");
  CHECK(h.query("SELECT bytes FROM app_storage_usage") == "0");
}

TEST_CASE("instances: at stop, calls still queued fail at once instead of running", "[runtime][instances]") {
  auto options = RuntimeHarness::fast_options();
  options.threads = 1;
  options.health.enabled = false;
  RuntimeHarness h(options);
  auto heavy = h.write_app("heavy", {{"index.js", R"(
    export function processEvent(e) {
      const end = Date.now() + 100
      while (Date.now() < end) {}
      e.properties.ran = true
      return e
    }
  )"}});
  h.load({RuntimeHarness::entry(heavy, {2})});
  std::atomic<int> ran{0}, failed{0};
  for (int i = 0; i < 30; ++i) {
    h.runtime().chain().process(2, R"({"event":"e","team_id":2,"distinct_id":"d","properties":{}})",
                                [&](ps::runtime::ChainResult r) { ++(r.failed.empty() ? ran : failed); });
  }
  // Stopping while the first few run: the rest are failed, not run (30 of
  // them would hold the stop for 3 s).
  while (ran == 0) std::this_thread::sleep_for(1ms);
  h.runtime().stop();
  CHECK(ran + failed == 30);
  CHECK(failed >= 25);
}
