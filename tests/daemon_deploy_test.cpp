// Deploying apps to running daemons through the admin API: two daemon
// processes on one database and the test broker, events flowing while
// versions and config change.

#include <catch2/catch.hpp>

#include <signal.h>

#include <map>
#include <thread>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "tests/support/admin_api.h"
#include "tests/support/http_client.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

using namespace std::chrono_literals;
using nlohmann::json;
using ps::test::admin_call;
using ps::test::pack_folder;
using ps::test::Process;

namespace {

// Daemons with the admin token and no config-file apps, on one database and broker.
struct Fleet {
  Fleet() : broker(1, {"events_plugin_ingestion:4", "events_processed:4", "events_plugin_ingestion_dlq:1"}) {}

  // A daemon reading the installs again every `reconcile_ms` behind the notifications.
  std::unique_ptr<Process> start(int* port, int reconcile_ms = 600000, const std::string& extra_toml = "") {
    *port = ps::test::free_port();
    auto config = dir.write("ps-" + std::to_string(*port) + ".toml",
                            "[http]\nlisten = \"127.0.0.1:" + std::to_string(*port) + "\"\nadmin_token = \"" +
                                ps::test::kAdminToken + "\"\n[kafka]\nsession_timeout_ms = 6000\n[server]\n"
                                "reconcile_interval_ms = " + std::to_string(reconcile_ms) + "\n" + extra_toml);
    auto daemon = std::make_unique<Process>(std::vector<std::string>{ps::test::daemon_binary(), "--config", config.string()},
                                            std::map<std::string, std::string>{{"DATABASE_URL", db.url()},
                                                                               {"KAFKA_HOSTS", broker.bootstrap()}});
    if (!ps::test::wait_for_http_status(*port, "/_ready", 200, 30s)) FAIL("daemon not ready:\n" << daemon->output());
    return daemon;
  }

  // Writes version `v` of app "stamp" (its setupPlugin taking `setup_ms`,
  // or failing) and returns its folder.
  std::string write_stamp(int v, int setup_ms, bool setup_fails = false) {
    auto folder = "stamp-" + std::to_string(v);
    dir.write(folder + "/plugin.json", R"({"name":"stamp","config":[{"key":"tag","type":"string"},
                                          {"key":"token","type":"string","secret":true}]})");
    dir.write(folder + "/index.js",
              "export async function setupPlugin() {\n"
              "  await new Promise(r => setTimeout(r, " + std::to_string(setup_ms) + "))\n" +
                  (setup_fails ? "  throw new Error('version " + std::to_string(v) + " cannot start')\n" : "") +
                  "}\n"
                  "export async function processEvent(e, { config }) {\n"
                  "  await new Promise(r => setTimeout(r, 2))\n"
                  "  if (e.properties.n % 500 === 0) console.log('stamped event', e.properties.n)\n"
                  "  e.properties.v = " + std::to_string(v) + "\n"
                  "  e.properties.tag = config.tag\n"
                  "  e.properties.has_token = !!config.token\n"
                  "  return e\n"
                  "}\n");
    return (dir.path() / folder).string();
  }

  // The same, uploaded through the daemon on `port`.
  void upload_stamp(int port, int v, int setup_ms, bool setup_fails = false) {
    auto [status, body] = admin_call(port, "POST", "/admin/apps", pack_folder(write_stamp(v, setup_ms, setup_fails)));
    INFO(body);
    REQUIRE(status == 201);
    REQUIRE(json::parse(body)["version"] == v);
  }

  ps::test::KafkaBroker broker;
  ps::test::TestDatabase db;
  ps::test::TempDir dir;
};

// The CLI against the daemon on `port`: {exit code, output}.
ps::test::Completed cli(int port, std::vector<std::string> args, bool with_token = true) {
  std::vector<std::string> argv = {ps::test::daemon_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--url=http://127.0.0.1:" + std::to_string(port));
  std::map<std::string, std::string> env;
  if (with_token) env["PLUGIN_SERVER_ADMIN_TOKEN"] = ps::test::kAdminToken;
  return ps::test::run_to_end(argv, env, 90s);
}

// The instance of install `install_id` the daemon on `port` runs, or null.
json instance_of(int port, long long install_id) {
  auto [status, body] = admin_call(port, "GET", "/admin/instances");
  if (status != 200) return nullptr;
  auto answer = json::parse(body);
  for (const auto& entry : answer["instances"]) {
    if (entry["install_id"] == install_id) return entry;
  }
  return nullptr;
}

// Polls until `done` holds, up to `timeout`; returns whether it did.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  for (auto until = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(100ms);
  }
  return done();
}

// Whether the daemon on `port` runs install `install_id` at `version`, ready.
bool runs_version(int port, long long install_id, int version) {
  auto entry = instance_of(port, install_id);
  return !entry.is_null() && entry["state"] == "ready" && entry["version"] == version;
}

// An event of team 1 through the daemon's /admin/process-event: its properties.
json processed(int port) {
  auto [status, body] =
      admin_call(port, "POST", "/admin/process-event", R"({"event":"e","team_id":1,"distinct_id":"u","properties":{"n":1}})");
  REQUIRE(status == 200);
  return json::parse(body)["event"]["properties"];
}

}  // namespace

TEST_CASE("deploy: two running daemons take a new install, a version deployed with the CLI and a config under load, losing no event",
          "[daemon][deploy][kafka]") {
  Fleet fleet;
  int port_a = 0, port_b = 0;
  auto a = fleet.start(&port_a);
  auto b = fleet.start(&port_b);
  // The group settled with a share for each, so no rebalance comes mid-test.
  auto metric = [](int port, const std::string& metric) {
    auto metrics = ps::test::http_get("127.0.0.1", port, "/metrics").body;
    const std::string name = "\n" + metric + " ";
    auto at = metrics.find(name);
    return at == std::string::npos ? 0.0 : std::stod(metrics.substr(at + name.size()));
  };
  auto assigned = [&](int port) { return metric(port, "plugin_server_ingestion_assigned_partitions"); };
  REQUIRE(eventually([&] { return assigned(port_a) > 0 && assigned(port_b) > 0 && assigned(port_a) + assigned(port_b) == 4; },
                     30s));

  fleet.upload_stamp(port_a, 1, 0);
  auto [created, install_body] =
      admin_call(port_a, "POST", "/admin/installs", R"({"team_id": 1, "app": "stamp", "config": {"tag": "a"}})");
  REQUIRE(created == 201);
  long long install = json::parse(install_body)["id"];
  // Only the notification can bring it this soon: the periodic read is 10 minutes away.
  CHECK(eventually([&] { return runs_version(port_a, install, 1) && runs_version(port_b, install, 1); }));

  auto batch_of = [](int from) {
    std::vector<std::pair<std::string, std::string>> batch;
    for (int i = from; i < from + 100; ++i) {
      batch.emplace_back("", json{{"event", "e"}, {"team_id", 1}, {"distinct_id", "u" + std::to_string(i % 50)},
                                  {"properties", {{"n", i}}}}.dump());
    }
    return batch;
  };
  // Reads the output until events [0, count) have all come; each one's properties by n.
  std::map<int, json> out;
  std::map<int, int> copies;
  auto read_until = [&](int count) {
    return ps::test::consume_until(
        fleet.broker.bootstrap(), "events_processed",
        [&](const ps::test::KafkaMessage& m) {
          auto props = json::parse(m.value)["properties"];
          int n = props["n"].get<int>();
          copies[n]++;
          out[n] = props;
          return static_cast<int>(out.size()) >= count;
        },
        90s);
  };
  // A first hundred through version 1, seen out before anything changes.
  ps::test::produce(fleet.broker.bootstrap(), "events_plugin_ingestion", batch_of(0));
  REQUIRE(read_until(100));

  // Events flow while a new version and a new config land.
  const int flowing = 3000;
  std::thread producer([&] {
    for (int sent = 100; sent < flowing; sent += 100) {
      ps::test::produce(fleet.broker.bootstrap(), "events_plugin_ingestion", batch_of(sent));
      std::this_thread::sleep_for(100ms);
    }
  });
  // Version 2, deployed with the CLI, takes a while to set up: events keep
  // going to version 1 meanwhile.
  auto deployed = cli(port_b, {"deploy", fleet.write_stamp(2, 500), "--team", "1"});
  INFO(deployed.output);
  CHECK(deployed.code == 0);
  CHECK(eventually([&] { return runs_version(port_a, install, 2) && runs_version(port_b, install, 2); }));
  auto id_before = instance_of(port_a, install)["instance_id"];
  REQUIRE(admin_call(port_b, "PATCH", "/admin/installs/" + std::to_string(install), R"({"config": {"tag": "b"}})").first ==
          200);
  CHECK(eventually([&] { return processed(port_a)["tag"] == "b" && processed(port_b)["tag"] == "b"; }));
  CHECK(instance_of(port_b, install)["instance_id"] == id_before);
  producer.join();
  // A last hundred once both changes are in.
  ps::test::produce(fleet.broker.bootstrap(), "events_plugin_ingestion", batch_of(flowing));
  const int total = flowing + 100;
  out.clear();
  copies.clear();
  CHECK(read_until(total));
  CHECK(static_cast<int>(out.size()) == total);

  int failed = 0, twice = 0;
  for (const auto& [n, props] : out) {
    INFO("event " << n << ": " << props.dump());
    failed += props.contains("$plugins_failed") || props.contains("$plugins_skipped");
    twice += copies[n] > 1;
    CHECK((props["v"] == 1 || props["v"] == 2));  // every event went through the app
    if (n < 100) CHECK(props["v"] == 1);
    if (n >= flowing) CHECK((props["v"] == 2 && props["tag"] == "b"));
  }
  CHECK(failed == 0);
  CHECK(twice == 0);
  // The daemons produced one copy of each, no more.
  const std::string produced = "plugin_server_ingestion_produced_total";
  CHECK(metric(port_a, produced) + metric(port_b, produced) == total);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  CHECK(a->wait(30s) == 0);
  CHECK(b->wait(30s) == 0);
}

TEST_CASE("deploy: a version that does not start keeps the old one running, secrets never show, logs and removal",
          "[daemon][deploy]") {
  Fleet fleet;
  int port = 0;
  auto daemon = fleet.start(&port, 500);
  const std::string secret = "s3cret-token-value-7781";
  fleet.upload_stamp(port, 1, 0);
  auto [created, body] = admin_call(port, "POST", "/admin/installs",
                                    R"({"team_id": 1, "app": "stamp", "config": {"tag": "a", "token": ")" + secret + "\"}}");
  REQUIRE(created == 201);
  CHECK(json::parse(body)["config"]["token"] == "***");
  long long install = json::parse(body)["id"];
  auto path = "/admin/installs/" + std::to_string(install);
  REQUIRE(eventually([&] { return runs_version(port, install, 1); }));
  CHECK(processed(port)["has_token"] == true);

  // A broken version 2: the daemon keeps version 1 and says why on the install.
  fleet.upload_stamp(port, 2, 0, true);
  auto load_error = [&] {
    auto answer = json::parse(admin_call(port, "GET", "/admin/installs").second);
    for (const auto& entry : answer["installs"]) {
      if (entry["id"] == install && entry["load_error"].is_string()) return entry["load_error"].get<std::string>();
    }
    return std::string();
  };
  REQUIRE(eventually([&] { return !load_error().empty(); }));
  CHECK(load_error().find("version 2 cannot start") != std::string::npos);
  CHECK(runs_version(port, install, 1));
  CHECK(processed(port)["v"] == 1);
  // Pinned back to version 1, the error clears.
  REQUIRE(admin_call(port, "PATCH", path, R"({"version": 1})").first == 200);
  CHECK(eventually([&] { return load_error().empty(); }));

  // A change made straight in the database, with no notification, is found by the periodic read.
  {
    pqxx::connection conn(fleet.db.url());
    pqxx::work tx(conn);
    tx.exec_params0("UPDATE app_installs SET config = config || '{\"tag\": \"direct\"}' WHERE id = $1", install);
    tx.commit();
  }
  CHECK(eventually([&] { return processed(port)["tag"] == "direct"; }));

  // Its console lines and failures, kept for the logs endpoint.
  auto instance_id = std::to_string(instance_of(port, install)["instance_id"].get<long long>());
  admin_call(port, "POST", "/admin/process-event", R"({"event":"e","team_id":1,"distinct_id":"u","properties":{"n":500}})");
  auto [logs_status, logs_body] = admin_call(port, "GET", "/admin/instances/" + instance_id + "/logs");
  CHECK(logs_status == 200);
  bool stamped = false;
  auto logs = json::parse(logs_body);
  for (const auto& line : logs["lines"]) stamped = stamped || line["text"] == "stamped event 500";
  CHECK(stamped);
  CHECK(admin_call(port, "GET", "/admin/instances/" + instance_id + "/logs", "", false).first == 401);
  CHECK(admin_call(port, "GET", "/admin/instances/999999/logs").first == 404);

  // The secret is in no answer and no log line.
  for (const auto& read : {"/admin/installs", "/admin/instances", "/admin/apps/stamp", "/apps"}) {
    auto [status, answer] = admin_call(port, "GET", read);
    CHECK(status == 200);
    CHECK(answer.find(secret) == std::string::npos);
  }

  // Removed: the instance goes.
  CHECK(admin_call(port, "DELETE", path).first == 204);
  CHECK(eventually([&] { return instance_of(port, install).is_null(); }));
  CHECK_FALSE(processed(port).contains("v"));
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == 0);
  CHECK(daemon->output().find(secret) == std::string::npos);
  CHECK(daemon->output().find("did not start, the running instance stays") != std::string::npos);
}

namespace {

const char* kWorkerManifest = R"({"name": "worker", "config": [{"key": "label", "type": "string"}],
  "publicJobs": {"Export range": {"payload": {"range": {"type": "daterange", "required": true},
                                              "dry": {"type": "boolean", "default": false},
                                              "count": {"type": "number"}}}}})";
const char* kWorkerCode = R"(
  export const jobs = {
    'Export range': async (payload, { storage }) => { await storage.set('exported', payload) },
    failing: async () => { throw new Error('always fails') },
  }
  export async function processEvent(e, { jobs, config }) {
    if (e.properties.fail) await jobs.failing({}).runNow()
    if (e.properties.later) await jobs.failing({}).runIn(1, 'hours')
    e.properties.label = config.label
    return e
  }
)";

}  // namespace

TEST_CASE("deploy: the CLI deploys a folder and lists apps, installs, jobs and logs, and jobs are retried, cancelled and run by hand",
          "[daemon][deploy][cli]") {
  Fleet fleet;
  int port = 0;
  auto daemon = fleet.start(&port, 600000, "[jobs]\nmax_attempts = 1\n");
  fleet.dir.write("worker/plugin.json", kWorkerManifest);
  fleet.dir.write("worker/index.js", kWorkerCode);
  auto folder = (fleet.dir.path() / "worker").string();

  // Every admin endpoint wants the token, and says so in the API's error shape.
  for (const auto& [method, path] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/apps"},
                                                        {"GET", "/admin/apps"},
                                                        {"POST", "/admin/apps"},
                                                        {"GET", "/admin/apps/worker"},
                                                        {"DELETE", "/admin/apps/worker/versions/1"},
                                                        {"GET", "/admin/installs"},
                                                        {"POST", "/admin/installs"},
                                                        {"PATCH", "/admin/installs/1"},
                                                        {"DELETE", "/admin/installs/1"},
                                                        {"GET", "/admin/instances"},
                                                        {"GET", "/admin/instances/1/logs"},
                                                        {"POST", "/admin/instances/1/enable"},
                                                        {"POST", "/admin/instances/1/jobs/x"},
                                                        {"GET", "/admin/jobs"},
                                                        {"POST", "/admin/jobs/1/retry"},
                                                        {"POST", "/admin/jobs/retry"},
                                                        {"DELETE", "/admin/jobs/1"},
                                                        {"POST", "/admin/process-event"}}) {
    auto [status, body] = admin_call(port, method, path, "{}", false);
    INFO(method << " " << path << ": " << body);
    CHECK(status == 401);
    CHECK(json::parse(body, nullptr, false).contains("error"));
  }
  auto refused = cli(port, {"apps"}, false);
  CHECK(refused.code == 1);
  CHECK(refused.output.find("--token") != std::string::npos);
  auto deployed = cli(port, {"deploy", folder, "--team", "1", "--config", "label=first"});
  INFO(deployed.output);
  REQUIRE(deployed.code == 0);
  CHECK(deployed.output.find("uploaded worker version 1") != std::string::npos);
  CHECK(deployed.output.find("running on") != std::string::npos);
  CHECK(processed(port)["label"] == "first");
  // The same folder again with a new config: the same version, the install changed.
  auto again = cli(port, {"deploy", folder, "--team", "1", "--config", "label=second"});
  CHECK(again.code == 0);
  CHECK(again.output.find("(stored already)") != std::string::npos);
  CHECK(processed(port)["label"] == "second");
  CHECK(cli(port, {"deploy", folder, "--team", "1", "--config", "nokey"}).code == 2);
  auto apps = cli(port, {"apps"});
  CHECK(apps.output.find("worker") != std::string::npos);
  auto installs = cli(port, {"installs", "--team", "1"});
  CHECK(installs.output.find("worker") != std::string::npos);

  auto instances = json::parse(admin_call(port, "GET", "/admin/instances").second)["instances"];
  REQUIRE(instances.size() == 1);
  auto instance = std::to_string(instances[0]["instance_id"].get<long long>());
  auto run_job = [&](const std::string& name, const std::string& payload) {
    return admin_call(port, "POST", "/admin/instances/" + instance + "/jobs/" + name, payload);
  };

  // A public job, its payload checked against plugin.json.
  auto [queued, queued_body] = run_job("Export%20range", R"({"range": ["2026-01-01", "2026-01-31T12:00:00Z"]})");
  CHECK(queued == 202);
  CHECK(json::parse(queued_body)["payload"]["dry"] == false);
  auto exported = [&] {
    pqxx::connection conn(fleet.db.url());
    pqxx::work tx(conn);
    auto rows = tx.exec("SELECT value::text FROM app_storage WHERE key = 'exported'");
    return rows.empty() ? json() : json::parse(rows[0][0].as<std::string>());
  };
  CHECK(eventually([&] { return !exported().is_null(); }));
  CHECK(exported()["range"][1] == "2026-01-31T12:00:00Z");
  auto [invalid, invalid_body] = run_job("Export%20range", R"({"range": "last week", "dry": 1, "count": "x", "extra": 1})");
  CHECK(invalid == 422);
  auto problems = json::parse(invalid_body)["details"];
  CHECK(problems.size() == 4);
  CHECK(run_job("Export%20range", "{}").first == 422);
  CHECK(run_job("Export%20range", "[1]").first == 422);
  CHECK(run_job("failing", "{}").first == 404);  // a job, but not a public one
  CHECK(run_job("Export%20range", "{not json").first == 400);
  CHECK(admin_call(port, "POST", "/admin/instances/999999/jobs/Export%20range", "{}").first == 404);

  // A job that fails: listed, retried alone and in bulk.
  admin_call(port, "POST", "/admin/process-event", R"({"event":"e","team_id":1,"distinct_id":"u","properties":{"fail":true}})");
  auto failed_jobs = [&] {
    return json::parse(admin_call(port, "GET", "/admin/jobs?state=failed&instance=" + instance).second)["jobs"];
  };
  REQUIRE(eventually([&] { return failed_jobs().size() == 1; }));
  auto job = std::to_string(failed_jobs()[0]["id"].get<long long>());
  CHECK(failed_jobs()[0]["last_error"].get<std::string>().find("always fails") != std::string::npos);
  auto listed = cli(port, {"jobs", "--state", "failed"});
  CHECK(listed.code == 0);
  CHECK(listed.output.find("always fails") != std::string::npos);
  // Run again (and failed again): its finish time moves on.
  auto finished = failed_jobs()[0]["finished_at"];
  auto retried = cli(port, {"jobs", "retry", job});
  CHECK(retried.code == 0);
  CHECK(eventually([&] { return failed_jobs().size() == 1 && failed_jobs()[0]["finished_at"] != finished; }));
  auto bulk = cli(port, {"jobs", "retry", "--all-failed"});
  CHECK(bulk.code == 0);
  CHECK(bulk.output.find("1 job(s)") != std::string::npos);
  CHECK(cli(port, {"jobs", "retry"}).code == 2);
  CHECK(admin_call(port, "POST", "/admin/jobs/999999/retry").first == 404);
  CHECK(admin_call(port, "GET", "/admin/jobs?state=done").first == 400);
  CHECK(admin_call(port, "POST", "/admin/jobs/retry", R"({"state": "running"})").first == 400);

  // A job waiting an hour: not retried (it has not failed), cancelled.
  admin_call(port, "POST", "/admin/process-event", R"({"event":"e","team_id":1,"distinct_id":"u","properties":{"later":true}})");
  auto waiting = json::parse(admin_call(port, "GET", "/admin/jobs?state=available&instance=" + instance).second)["jobs"];
  REQUIRE(waiting.size() == 1);
  auto later = std::to_string(waiting[0]["id"].get<long long>());
  CHECK(admin_call(port, "POST", "/admin/jobs/" + later + "/retry").first == 409);
  CHECK(cli(port, {"jobs", "cancel", later}).code == 0);
  CHECK(admin_call(port, "DELETE", "/admin/jobs/" + later).first == 404);

  // The instance's log has the job's failures.
  auto logs = cli(port, {"logs", instance});
  CHECK(logs.code == 0);
  CHECK(logs.output.find("always fails") != std::string::npos);
  daemon->signal(SIGTERM);
  CHECK(daemon->wait(30s) == 0);
}
