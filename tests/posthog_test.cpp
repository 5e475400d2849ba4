// The posthog global: capture into the input topic of the test broker (and
// through a real pipeline, for the hop limit), api against a local server.

#include <catch2/catch.hpp>

#include <regex>
#include <thread>

#include "ingestion/capture_producer.h"
#include "ingestion/event_pipeline.h"
#include "ingestion/message_parser.h"
#include "server/http_server.h"
#include "tests/support/kafka.h"
#include "tests/support/runtime_harness.h"

using ps::test::RuntimeHarness;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A runtime whose apps capture into topic "in" of a test broker. The
// producer goes before the runtime, as in the daemon: its last answers go
// into the runtime's threads.
struct CaptureRig {
  ps::test::KafkaBroker broker;
  ps::metrics::Registry capture_metrics;
  std::unique_ptr<ps::ingestion::CaptureProducer> capture;
  std::unique_ptr<RuntimeHarness> h;

  explicit CaptureRig(const std::vector<std::string>& topics,
                      ps::runtime::RuntimeOptions options = RuntimeHarness::fast_options(),
                      std::chrono::milliseconds delivery_timeout = 20s)
      : broker(1, topics) {
    ps::ingestion::CaptureOptions o;
    o.brokers = broker.bootstrap();
    o.topic = "in";
    o.delivery_timeout = delivery_timeout;
    capture = std::make_unique<ps::ingestion::CaptureProducer>(o, capture_metrics);
    h = std::make_unique<RuntimeHarness>(options, capture.get());
  }
  ~CaptureRig() {
    h->runtime().stop();
    capture.reset();
    h.reset();
  }
};

std::string header(const ps::test::KafkaMessage& m, const std::string& name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "(none)";
}

// The event an input message carries, as ingestion reads it.
json ingested(const ps::test::KafkaMessage& m) {
  auto parsed = ps::ingestion::parse_message(m.value, 1 << 20);
  REQUIRE(std::holds_alternative<ps::ingestion::ParsedEvent>(parsed));
  return json::parse(std::get<ps::ingestion::ParsedEvent>(parsed).json);
}

}  // namespace

TEST_CASE("posthog.capture: the event reaches the input topic for the app's own team once acknowledged",
          "[runtime][posthog][kafka]") {
  CaptureRig rig({"in:1"});
  auto& h = *rig.h;
  auto& broker = rig.broker;
  h.load({RuntimeHarness::entry(h.write_app("capturer", {{"index.js", R"(
    export async function setupPlugin() {
      await posthog.capture('from setup')
    }
    export async function processEvent(e) {
      // After the promise: the broker has the event.
      await posthog.capture('derived', { plan: 'pro', team_id: 99 })
      await posthog.capture('named', { distinct_id: 'user-7', timestamp: '2026-01-02T03:04:05.000Z' })
      const errors = []
      for (const bad of [() => posthog.capture(''), () => posthog.capture(42)]) {
        try { await bad() } catch (err) { errors.push(err.name + ': ' + err.message) }
      }
      e.properties.errors = errors
      return e
    })"}}),
                                {4})});
  auto out = h.run_chain(4, R"({"event":"pageview","distinct_id":"d","team_id":4,"properties":{}})");
  CHECK(out["event"]["properties"]["errors"] ==
        json::array({"TypeError: posthog.capture: the event name must be a non-empty string",
                     "TypeError: posthog.capture: the event name must be a non-empty string"}));
  auto messages = ps::test::consume(broker.bootstrap(), "in", 3, 20s);
  REQUIRE(messages.size() == 3);
  std::map<std::string, json> by_name;
  for (const auto& m : messages) {
    auto event = ingested(m);
    CHECK(header(m, ps::ingestion::kCaptureHopsHeader) == "1");
    CHECK(m.key == event["distinct_id"]);
    by_name[event["event"]] = event;
  }
  auto setup = by_name["from setup"];
  // The app's name is the default distinct_id, as the reference had it.
  CHECK(setup["distinct_id"] == "capturer");
  CHECK(setup["team_id"] == 4);
  CHECK(setup["properties"]["$lib"] == "posthog-plugin-server");
  CHECK(setup["properties"]["distinct_id"] == "capturer");
  CHECK(std::regex_match(setup["uuid"].get<std::string>(),
                         std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
  CHECK(std::regex_match(setup["timestamp"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  // A team_id among the properties stays a property: the event is the app's team's.
  auto derived = by_name["derived"];
  CHECK(derived["team_id"] == 4);
  CHECK(derived["properties"]["team_id"] == 99);
  CHECK(derived["properties"]["plan"] == "pro");
  auto named = by_name["named"];
  CHECK(named["distinct_id"] == "user-7");
  CHECK(named["timestamp"] == "2026-01-02T03:04:05.000Z");
  CHECK(named["properties"].count("timestamp") == 0);
  CHECK(rig.capture_metrics.render().find("plugin_server_capture_produced_total 3") != std::string::npos);
}

TEST_CASE("posthog.capture: a loop of captures is cut at posthog.max_capture_hops, across awaits, and counted",
          "[runtime][posthog][kafka][ingestion]") {
  auto options = RuntimeHarness::fast_options();
  options.max_capture_hops = 3;
  CaptureRig rig({"in:1", "out:1", "dlq:1"}, options);
  auto& h = *rig.h;
  auto& broker = rig.broker;
  // Each event of the loop captures the next, after a timer and a storage
  // round trip: the hop count follows the call through both.
  const char* hook = GENERATE("processEvent", "onEvent");
  INFO(hook);
  h.load({RuntimeHarness::entry(h.write_app("looper", {{"index.js", std::string(R"(
    async function next(e, meta) {
      await new Promise((resolve) => setTimeout(resolve, 5))
      await meta.storage.get('anything')
      try {
        await posthog.capture('loop', { n: (e.properties.n || 0) + 1, distinct_id: 'loop-user' })
      } catch (err) {
        await meta.storage.set('cut', { at: e.properties.n, error: err.message })
      }
      return e
    }
    export const )") + hook + " = next\n"}}),
                                {5})});
  ps::ingestion::PipelineOptions o;
  o.brokers = broker.bootstrap();
  o.group_id = std::string("loop-") + hook;
  o.input_topic = "in";
  o.output_topic = "out";
  o.dlq_topic = "dlq";
  ps::ingestion::EventPipeline pipeline(o, h.runtime().chain(), h.metrics());
  ps::test::produce(broker.bootstrap(), "in", {{"", R"({"event":"loop","distinct_id":"loop-user","team_id":5,"properties":{}})"}});
  // The outside event and three captured ones, the last of which could not capture.
  auto stored = h.wait_for("SELECT (value->>'at') FROM app_storage WHERE key = 'cut'", "3");
  CHECK(stored == "3");
  auto error = h.query("SELECT value->>'error' FROM app_storage WHERE key = 'cut'");
  CHECK(error.find("capture number 4 in a row") != std::string::npos);
  CHECK(error.find("over the limit of 3 (posthog.max_capture_hops)") != std::string::npos);
  auto out = ps::test::consume(broker.bootstrap(), "out", 4, 20s);
  REQUIRE(out.size() == 4);
  std::vector<json> ns;
  for (const auto& m : out) ns.push_back(json::parse(m.value)["properties"].value("n", json(0)));
  CHECK(ns == std::vector<json>{0, 1, 2, 3});
  CHECK(h.metrics().render().find(
            "plugin_server_app_quota_refusals_total{app=\"looper\",quota=\"capture_hops\"} 1") != std::string::npos);
  pipeline.stop(5s);
}

TEST_CASE("posthog.capture: with the broker down the promise rejects once delivery times out, and is counted",
          "[runtime][posthog][kafka]") {
  auto options = RuntimeHarness::fast_options();
  options.limits.wall = 20s;  // longer than delivery takes to time out
  CaptureRig rig({"in:1"}, options, 1000ms);
  auto& h = *rig.h;
  auto& broker = rig.broker;
  h.load({RuntimeHarness::entry(h.write_app("unlucky", {{"index.js", R"(
    export async function processEvent(e) {
      try { await posthog.capture('lost') ; e.properties.result = 'sent' }
      catch (err) { e.properties.result = err.message }
      return e
    })"}}),
                                {6})});
  broker.set_down(true);
  auto out = h.run_chain(6, R"({"event":"e","team_id":6,"properties":{}})");
  auto result = out["event"]["properties"]["result"].get<std::string>();
  CHECK(result.rfind("posthog.capture: the broker did not take the event: ", 0) == 0);
  CHECK(rig.capture_metrics.render().find("plugin_server_capture_failed_total 1") != std::string::npos);
  broker.set_down(false);
  out = h.run_chain(6, R"({"event":"e","team_id":6,"properties":{}})");
  CHECK(out["event"]["properties"]["result"] == "sent");
}

namespace {

// An analytics API stand-in: every request to a known path is answered with
// what it was (method, query, authorization, content type and body).
class EchoApi {
 public:
  EchoApi() {
    ps::server::HttpRoutes routes;
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      for (const char* path : {"/api/projects/8/insights", "/api/organizations/8"}) {
        routes[{method, path}] = [](const ps::server::HttpRequest& req, ps::server::HttpResponder respond) {
          auto header = [&](const char* name) {
            auto it = req.headers.find(name);
            return it == req.headers.end() ? std::string("(none)") : it->second;
          };
          json seen = {{"method", req.method},           {"path", req.path},
                       {"query", req.query},             {"authorization", header("authorization")},
                       {"type", header("content-type")}, {"body", req.body}};
          respond({200, "application/json", seen.dump()});
        };
      }
    }
    server_ = std::make_unique<ps::server::HttpServer>("127.0.0.1", 0, std::move(routes));
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

 private:
  std::unique_ptr<ps::server::HttpServer> server_;
};

const char* kApiCaller = R"(
  export async function processEvent(e) {
    const out = []
    for (const [method, path, options] of e.properties.calls) {
      try {
        const res = await posthog.api[method](path, options)
        out.push(await res.json())
      } catch (err) {
        out.push(err.message)
      }
    }
    e.properties.out = out
    return e
  })";

json api_calls(RuntimeHarness& h, long long team, const json& calls) {
  auto event = json{{"event", "e"}, {"team_id", team}, {"properties", {{"calls", calls}}}};
  return h.run_chain(team, event.dump())["event"]["properties"]["out"];
}

}  // namespace

TEST_CASE("posthog.api: requests reach posthog.api_url with the configured keys, @current as the team",
          "[runtime][posthog]") {
  EchoApi api;
  auto options = RuntimeHarness::fast_options();
  options.posthog_api.url = api.base() + "/";
  options.posthog_api.personal_api_key = "phx_shared";
  options.posthog_api.project_api_key = "phc_project";
  RuntimeHarness h(options);
  h.load({RuntimeHarness::entry(h.write_app("caller", {{"index.js", kApiCaller}}), {8})});
  auto out = api_calls(h, 8, json::array({
      json::array({"get", "/api/projects/@current/insights", {{"data", {{"limit", 2}, {"q", "a b"}}}}}),
      json::array({"post", "api/projects/@current/insights", {{"data", {{"name", "x"}}}}}),
      json::array({"patch", "/api/projects/@current/insights", json::object()}),
      json::array({"put", "/api/projects/@current/insights", {{"data", {{"n", 1}}}}}),
      json::array({"delete", "/api/projects/8/insights", {{"data", {{"ignored", true}}}}}),
      // The shared key reaches the team's own project only.
      json::array({"get", "/api/organizations/@current", json::object()}),
      json::array({"get", "/api/projects/80/insights", json::object()}),
  }));
  REQUIRE(out.size() == 7);
  CHECK(out[0] == json({{"method", "GET"}, {"path", "/api/projects/8/insights"}, {"query", "limit=2&q=a+b&token=phc_project"},
                        {"authorization", "Bearer phx_shared"}, {"type", "(none)"}, {"body", ""}}));
  CHECK(out[1] == json({{"method", "POST"}, {"path", "/api/projects/8/insights"}, {"query", "token=phc_project"},
                        {"authorization", "Bearer phx_shared"}, {"type", "application/json"}, {"body", R"({"name":"x"})"}}));
  CHECK(out[2]["method"] == "PATCH");
  CHECK(out[2]["body"] == "{}");
  CHECK(out[3]["method"] == "PUT");
  CHECK(out[3]["body"] == R"({"n":1})");
  CHECK(out[4] == json({{"method", "DELETE"}, {"path", "/api/projects/8/insights"}, {"query", "token=phc_project"},
                        {"authorization", "Bearer phx_shared"}, {"type", "(none)"}, {"body", ""}}));
  for (int i : {5, 6}) {
    CHECK(out[i].get<std::string>().find("with the daemon's shared key an app reaches only its own project") !=
          std::string::npos);
  }
}

TEST_CASE("posthog.api: a team's own key lifts the project rule, and another host never gets the configured keys",
          "[runtime][posthog]") {
  EchoApi api, elsewhere;
  auto options = RuntimeHarness::fast_options();
  options.posthog_api.url = api.base();
  options.posthog_api.personal_api_key = "phx_shared";
  // The other host is private too: let plain fetch rules reach it for the test.
  options.fetch.allowed_hosts.push_back(elsewhere.base().substr(7));
  RuntimeHarness h(options);
  auto entry = RuntimeHarness::entry(h.write_app("caller", {{"index.js", kApiCaller}}), {8});
  entry.posthog_personal_api_key = "phx_team8";
  h.load({entry});
  auto out = api_calls(h, 8, json::array({
      json::array({"get", "/api/organizations/@current", json::object()}),
      json::array({"get", "/api/projects/8/insights", {{"host", elsewhere.base()}}}),
      json::array({"get", "/api/projects/8/insights", {{"host", elsewhere.base()}, {"personalApiKey", "phx_own"},
                                                       {"projectApiKey", "phc_own"}}}),
  }));
  REQUIRE(out.size() == 3);
  // @current anywhere in the path is the team, as the reference replaced it.
  CHECK(out[0]["path"] == "/api/organizations/8");
  CHECK(out[0]["authorization"] == "Bearer phx_team8");
  CHECK(out[1]["authorization"] == "(none)");
  CHECK(out[1]["query"] == "");
  CHECK(out[2]["authorization"] == "Bearer phx_own");
  CHECK(out[2]["query"] == "token=phc_own");
}

TEST_CASE("posthog.capture: hostile input is refused with a clear error, nothing reaches the broker",
          "[runtime][posthog][kafka][hostile]") {
  auto options = RuntimeHarness::fast_options();
  options.max_capture_bytes = 10000;
  options.max_event_depth = 32;
  CaptureRig rig({"in:1"}, options);
  auto& h = *rig.h;
  h.load({RuntimeHarness::entry(h.write_app("hostile", {{"index.js", R"(
    export async function processEvent(e) {
      let deep = {}
      for (let i = 0; i < 100; i++) deep = { deep }
      const tries = {
        big: () => posthog.capture('big', { blob: 'x'.repeat(20000) }),
        deep: () => posthog.capture('deep', { deep }),
        getter: () => posthog.capture('getter', { get boom() { throw new Error('from a getter') } }),
        cyclic: () => { const o = {}; o.o = o; return posthog.capture('cyclic', o) },
        bigint: () => posthog.capture('bigint', { n: 1n }),
      }
      const out = {}
      for (const [name, attempt] of Object.entries(tries)) {
        try { await attempt(); out[name] = 'sent' } catch (err) { out[name] = err.name + ': ' + err.message }
      }
      e.properties.out = out
      return e
    })"}}),
                                {3})});
  auto out = h.run_chain(3, R"({"event":"e","team_id":3,"properties":{}})")["event"]["properties"]["out"];
  CHECK(out["big"].get<std::string>().find("RangeError: posthog.capture: the event is ") == 0);
  CHECK(out["big"].get<std::string>().find("over the limit of 10000 (kafka.max_message_bytes)") != std::string::npos);
  CHECK(out["deep"].get<std::string>().find("TypeError: posthog.capture: the event is not a JSON object: ") == 0);
  CHECK(out["getter"] == "Error: from a getter");
  CHECK(out["cyclic"].get<std::string>().rfind("TypeError: ", 0) == 0);
  CHECK(out["bigint"].get<std::string>().rfind("TypeError: ", 0) == 0);
  CHECK(rig.capture_metrics.render().find("plugin_server_capture_produced_total 0") != std::string::npos);
}
