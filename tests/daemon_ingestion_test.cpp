// Ingestion in daemon processes: the wire format other clients see, the
// embedded broker, and a crash in the middle of a stream.

#include <catch2/catch.hpp>

#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "tests/support/http_client.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

using namespace std::chrono_literals;
using ps::test::daemon_binary;
using ps::test::http_get;
using ps::test::Process;

namespace {

// A broker with the default topics, a database, and an app for team 1;
// start() runs a daemon on them and returns once it is ready.
struct IngestingDaemons {
  IngestingDaemons(int partitions, const std::string& index_js)
      : broker(1, {"events_plugin_ingestion:" + std::to_string(partitions),
                   "events_processed:" + std::to_string(partitions), "events_plugin_ingestion_dlq:1"}) {
    dir.write("app/plugin.json", R"({"name":"app"})");
    dir.write("app/index.js", index_js);
  }

  std::unique_ptr<Process> start(int* http_port = nullptr) {
    int port = ps::test::free_port();
    if (http_port) *http_port = port;
    auto config = dir.write("ps-" + std::to_string(port) + ".toml",
                            "[http]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                                "\"\n[kafka]\nsession_timeout_ms = 6000\n[[apps]]\npath = \"app\"\nteams = [1]\n" + app_extra);
    auto vars = env;
    vars["DATABASE_URL"] = db.url();
    vars["KAFKA_HOSTS"] = broker.bootstrap();
    auto daemon = std::make_unique<Process>(std::vector<std::string>{daemon_binary(), "--config", config.string()}, vars);
    if (!ps::test::wait_for_http_status(port, "/_ready", 200, 30s)) FAIL("daemon not ready:\n" << daemon->output());
    return daemon;
  }

  ps::test::KafkaBroker broker;
  ps::test::TestDatabase db;
  ps::test::TempDir dir;
  std::string app_extra;  // more lines of the app's [[apps]] table
  std::map<std::string, std::string> env;  // more environment for the daemons
};

// The first column of the first row of `sql` on `db`, as text.
std::string query(const ps::test::TestDatabase& db, const std::string& sql) {
  pqxx::connection conn(db.url());
  pqxx::work tx(conn);
  auto rows = tx.exec(sql);
  return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].c_str();
}

const char* kStamp = "export function processEvent(e) { e.properties.stamped = true; return e }\n";

}  // namespace

TEST_CASE("daemon: ingests from Kafka through the apps into the output topic", "[daemon][ingestion][kafka]") {
  IngestingDaemons fixture(2, kStamp);
  auto daemon = fixture.start();
  auto& broker = fixture.broker;
  ps::test::produce(broker.bootstrap(), "events_plugin_ingestion",
                    {{"", R"({"event":"e","team_id":1,"distinct_id":"d1","properties":{}})"},
                     {"", R"({"event":"e","team_id":9,"distinct_id":"d2","properties":{}})"},
                     {"", "garbage"}});
  auto out = ps::test::consume(broker.bootstrap(), "events_processed", 2, 30s);
  REQUIRE(out.size() == 2);
  std::map<std::string, nlohmann::json> by_key;
  for (const auto& m : out) by_key[m.key] = nlohmann::json::parse(m.value);
  CHECK(by_key["1:d1"]["properties"]["stamped"] == true);
  CHECK_FALSE(by_key["9:d2"]["properties"].contains("stamped"));
  CHECK(ps::test::consume(broker.bootstrap(), "events_plugin_ingestion_dlq", 1, 30s).size() == 1);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == 0);
}

TEST_CASE("daemon: the embedded broker with sample events shows events flowing", "[daemon][ingestion]") {
  ps::test::TestDatabase db;
  int port = ps::test::free_port();
  Process daemon({daemon_binary()}, {{"DATABASE_URL", db.url()},
                                     {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)},
                                     {"PLUGIN_SERVER_KAFKA_SAMPLE_EVENTS_PER_SECOND", "20"},
                                     {"PLUGIN_SERVER_KAFKA_SESSION_TIMEOUT_MS", "6000"}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 30s));
  bool flowing = false;
  for (int i = 0; i < 150 && !flowing; ++i) {
    const std::string name = "\nplugin_server_ingestion_produced_total ";
    auto metrics = http_get("127.0.0.1", port, "/metrics").body;
    auto at = metrics.find(name);
    flowing = at != std::string::npos && std::stod(metrics.substr(at + name.size())) >= 5;
    if (!flowing) std::this_thread::sleep_for(100ms);
  }
  CHECK(flowing);
  CHECK(daemon.output().find("embedded development broker") != std::string::npos);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(30s) == 0);
}

TEST_CASE("daemon: killed with -9 mid-stream, a restarted daemon loses no event", "[daemon][ingestion][kafka]") {
  // About a millisecond of work per event, so the stream is still going when the daemon dies.
  IngestingDaemons fixture(4, "export function processEvent(e) { const end = Date.now() + 1; while (Date.now() < end) {} return e }\n");
  auto& broker = fixture.broker;
  const int total = 3000;
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < total; ++i) {
    input.emplace_back("", nlohmann::json{{"event", "e"}, {"team_id", 1}, {"distinct_id", "u" + std::to_string(i % 40)},
                                          {"properties", {{"n", i}}}}.dump());
  }
  auto first = fixture.start();
  ps::test::produce(broker.bootstrap(), "events_plugin_ingestion", input);
  REQUIRE(ps::test::consume(broker.bootstrap(), "events_processed", 300, 30s).size() == 300);
  first->signal(SIGKILL);
  REQUIRE(first->wait(10s) == 128 + SIGKILL);

  auto second = fixture.start();
  // Every input event is in the output (some twice: at-least-once).
  std::set<int> seen;
  bool all = ps::test::consume_until(
      broker.bootstrap(), "events_processed",
      [&](const ps::test::KafkaMessage& m) {
        seen.insert(nlohmann::json::parse(m.value)["properties"]["n"].get<int>());
        return static_cast<int>(seen.size()) == total;
      },
      90s);
  CHECK(all);
  CHECK(static_cast<int>(seen.size()) == total);
  second->signal(SIGTERM);
  CHECK(second->wait(30s) == 0);
}

TEST_CASE("daemon: another Kafka client (kafkajs) produces the input and reads the output", "[daemon][ingestion][kafka]") {
  IngestingDaemons fixture(2, kStamp);
  auto daemon = fixture.start();
  auto& broker = fixture.broker;
  auto check = ps::test::run_to_end({PS_NODE_BINARY, ps::test::source_dir() + "/tests/kafkajs/roundtrip.mjs",
                                     broker.bootstrap(), "events_plugin_ingestion", "events_processed", "50"},
                                    {}, 90s);
  INFO(check.output);
  CHECK(check.code == 0);
  CHECK(check.output.find(R"("received":50,"keys_ok":true,"stamped":50)") != std::string::npos);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == 0);
}

TEST_CASE("daemon: two daemons in one group split the partitions and together lose nothing",
          "[daemon][ingestion][kafka]") {
  IngestingDaemons fixture(4, kStamp);
  int port_a = 0, port_b = 0;
  auto a = fixture.start(&port_a);
  auto b = fixture.start(&port_b);
  auto gauge = [](int port, const std::string& metric) {
    const std::string name = "\n" + metric + " ";
    auto metrics = http_get("127.0.0.1", port, "/metrics").body;
    auto at = metrics.find(name);
    return at == std::string::npos ? 0.0 : std::stod(metrics.substr(at + name.size()));
  };
  // Wait until the group has settled with a share for each.
  const std::string assigned = "plugin_server_ingestion_assigned_partitions";
  auto settled = [&] {
    double held_a = gauge(port_a, assigned), held_b = gauge(port_b, assigned);
    return held_a > 0 && held_b > 0 && held_a + held_b == 4;
  };
  for (int i = 0; i < 300 && !settled(); ++i) std::this_thread::sleep_for(100ms);
  REQUIRE(settled());
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < 2000; ++i) {
    input.emplace_back("", nlohmann::json{{"event", "e"}, {"team_id", 1}, {"distinct_id", "u" + std::to_string(i % 97)},
                                          {"properties", {{"n", i}}}}.dump());
  }
  ps::test::produce(fixture.broker.bootstrap(), "events_plugin_ingestion", input);
  std::set<int> seen;
  CHECK(ps::test::consume_until(
      fixture.broker.bootstrap(), "events_processed",
      [&](const ps::test::KafkaMessage& m) {
        seen.insert(nlohmann::json::parse(m.value)["properties"]["n"].get<int>());
        return seen.size() == 2000;
      },
      60s));
  CHECK(seen.size() == 2000);
  auto consumed = [&](int port) { return gauge(port, "plugin_server_ingestion_consumed_total"); };
  CHECK(consumed(port_a) + consumed(port_b) >= 2000);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  CHECK(a->wait(30s) == 0);
  CHECK(b->wait(30s) == 0);
}

TEST_CASE("daemon: an app's posthog.capture is ingested like any other event, through the apps",
          "[daemon][ingestion][kafka][posthog]") {
  IngestingDaemons fixture(2, R"(
    export function processEvent(e) { e.properties.stamped = true; return e }
    export async function onEvent(e) {
      if (e.event === 'signed up') await posthog.capture('welcome sent', { distinct_id: e.distinct_id })
    })");
  int port = 0;
  auto daemon = fixture.start(&port);
  auto& broker = fixture.broker;
  ps::test::produce(broker.bootstrap(), "events_plugin_ingestion",
                    {{"", R"({"event":"signed up","team_id":1,"distinct_id":"u1","properties":{}})"}});
  auto out = ps::test::consume(broker.bootstrap(), "events_processed", 2, 30s);
  REQUIRE(out.size() == 2);
  std::map<std::string, nlohmann::json> by_event;
  for (const auto& m : out) {
    auto event = nlohmann::json::parse(m.value);
    CHECK(m.key == "1:u1");
    by_event[event["event"]] = event;
  }
  CHECK(by_event["signed up"]["properties"]["stamped"] == true);
  auto welcome = by_event["welcome sent"];
  CHECK(welcome["team_id"] == 1);
  CHECK(welcome["properties"]["stamped"] == true);
  CHECK(welcome["properties"]["$lib"] == "posthog-plugin-server");
  auto metrics = http_get("127.0.0.1", port, "/metrics").body;
  CHECK(metrics.find("plugin_server_capture_produced_total 1") != std::string::npos);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == 0);
}

TEST_CASE("daemon: killed with -9 while exporting, a restarted daemon has every event exported at least once",
          "[daemon][ingestion][kafka][export]") {
  // Small batches, each taking a while to export: the kill lands with
  // batches buffered, stored and running.
  IngestingDaemons fixture(2, R"(
    export async function exportEvents(events, { storage }) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      for (const e of events) await storage.set('exported:' + e.properties.n, true)
    })");
  fixture.app_extra = "config = { exportEventsBufferBytes = \"1000\", exportEventsBufferSeconds = \"1\" }\n";
  // Batches the killed daemon was running go back to the queue when their lease ends.
  fixture.env["PLUGIN_SERVER_JOBS_LEASE_MS"] = "2000";
  auto& broker = fixture.broker;
  const int total = 400;
  std::vector<std::pair<std::string, std::string>> input;
  for (int i = 0; i < total; ++i) {
    input.emplace_back("", nlohmann::json{{"event", "e"}, {"team_id", 1}, {"distinct_id", "u" + std::to_string(i % 10)},
                                          {"properties", {{"n", i}}}}.dump());
  }
  auto exported = [&] {
    return std::stoi(query(fixture.db, "SELECT count(*) FROM app_storage WHERE key LIKE 'exported:%'"));
  };
  auto first = fixture.start();
  ps::test::produce(broker.bootstrap(), "events_plugin_ingestion", input);
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (exported() < 20 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  REQUIRE(exported() >= 20);
  first->signal(SIGKILL);
  REQUIRE(first->wait(10s) == 128 + SIGKILL);
  INFO("exported before the kill: " << exported());

  auto second = fixture.start();
  deadline = std::chrono::steady_clock::now() + 90s;
  while (exported() < total && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  CHECK(exported() == total);
  second->signal(SIGTERM);
  CHECK(second->wait(30s) == 0);
}
