// Jobs across daemon processes: crashes, shutdowns and several daemons
// sharing one database.

#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include <pqxx/pqxx>

#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/scripted_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

using namespace std::chrono_literals;
using ps::test::Process;
using ps::test::ScriptedServer;

namespace {

// An app whose jobs call the scripted server, and a config to run it.
class JobsFixture {
 public:
  explicit JobsFixture(const std::string& base, int shutdown_grace_ms = 5000) {
    dir.write("app/plugin.json", R"({"name":"fleet"})");
    dir.write("app/index.js", "const base = '" + base + R"('
      export const jobs = {
        hit: async (i) => { await fetch(`${base}/hit?i=${i}`) },
        hold: async (i) => { await fetch(`${base}/hold?job=${i}`) },
      }
      export async function runEveryMinute() { await fetch(`${base}/hit?task=minute`) }
    )");
    config_text = R"(
[runtime]
fetch_allowed_hosts = ["127.0.0.1"]
[jobs]
workers = 16
lease_ms = 1500
retry_base_ms = 50
poll_interval_ms = 500
[server]
shutdown_grace_ms = )" + std::to_string(shutdown_grace_ms) + R"(
[[apps]]
path = "app"
teams = [1]
)";
  }

  // Starts a daemon on its own port; returns once it is ready.
  std::unique_ptr<Process> start_daemon() {
    int port = ps::test::free_port();
    auto config = dir.write("daemon-" + std::to_string(port) + ".toml",
                            "[http]\nlisten = \"127.0.0.1:" + std::to_string(port) + "\"\n" + config_text);
    auto daemon = std::make_unique<Process>(std::vector<std::string>{ps::test::daemon_binary(), "--config", config.string()},
                                            std::map<std::string, std::string>{{"DATABASE_URL", db.url()}});
    if (!ps::test::wait_for_http_status(port, "/_ready", 200, 30s)) {
      FAIL("daemon did not become ready:\n" << daemon->output());
    }
    return daemon;
  }

  std::string query(const std::string& sql) {
    pqxx::connection conn(db.url());
    pqxx::nontransaction tx(conn);
    auto rows = tx.exec(sql);
    return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
  }

  bool wait_for(const std::string& sql, const std::string& expected, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (query(sql) == expected) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  void enqueue(const std::string& name, int from, int to) {
    query("INSERT INTO jobs (instance_id, name, payload, max_attempts) SELECT (SELECT id FROM app_instances), '" +
          name + "', to_jsonb(i), 3 FROM generate_series(" + std::to_string(from) + ", " + std::to_string(to) +
          ") AS i RETURNING 1");
    query("SELECT pg_notify('plugin_server_jobs', '0')");
  }

  ps::test::TestDatabase db;
  ps::test::TempDir dir;
  std::string config_text;
};

}  // namespace

TEST_CASE("daemon jobs: a job whose daemon is killed mid-run is run again by another daemon", "[jobs][daemon]") {
  ScriptedServer server({200}, 60000);
  JobsFixture fixture(server.base());
  auto first = fixture.start_daemon();
  fixture.enqueue("hold", 1, 1);
  REQUIRE(fixture.wait_for("SELECT state FROM jobs WHERE kind = 'job'", "running", 10s));
  for (int i = 0; i < 200 && server.hits("/hold?job=1") == 0; ++i) std::this_thread::sleep_for(25ms);
  REQUIRE(server.hits("/hold?job=1") == 1);
  first->signal(SIGKILL);
  REQUIRE(first->wait(10s) == 128 + SIGKILL);

  auto second = fixture.start_daemon();
  bool done = fixture.wait_for("SELECT count(*) FROM jobs WHERE kind = 'job'", "0", 30s);
  INFO("jobs: " << fixture.query("SELECT string_agg(kind || ' ' || state || ' ' || coalesce(locked_by, '-'), ', ') FROM jobs"));
  INFO("first daemon:\n" << first->output() << "\nsecond daemon:\n" << second->output());
  CHECK(done);
  CHECK(server.hits("/hold?job=1") == 2);
  second->signal(SIGTERM);
  CHECK(second->wait(20s) == 0);
  CHECK(second->output().find("jobs: rescued") != std::string::npos);
}

TEST_CASE("daemon jobs: two daemons on one database run 1,000 jobs, each exactly once", "[jobs][daemon]") {
  ScriptedServer server;
  JobsFixture fixture(server.base());
  auto a = fixture.start_daemon();
  auto b = fixture.start_daemon();
  fixture.enqueue("hit", 1, 1000);
  REQUIRE(fixture.wait_for("SELECT count(*) FROM jobs WHERE kind = 'job'", "0", 60s));
  auto hits = server.hits();
  int jobs_seen = 0, duplicates = 0;
  for (const auto& [path, n] : hits) {
    if (path.rfind("/hit?i=", 0) != 0) continue;
    ++jobs_seen;
    if (n != 1) ++duplicates;
  }
  CHECK(jobs_seen == 1000);
  CHECK(duplicates == 0);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  CHECK(a->wait(20s) == 0);
  CHECK(b->wait(20s) == 0);
}

TEST_CASE("daemon jobs: with two daemons a scheduled task runs once per period", "[jobs][daemon]") {
  ScriptedServer server;
  JobsFixture fixture(server.base());
  auto a = fixture.start_daemon();
  auto b = fixture.start_daemon();
  REQUIRE(fixture.wait_for("SELECT count(*) >= 1 FROM scheduled_task_runs", "t", 10s));
  // Both daemons' schedulers tick every second; give them a few ticks.
  std::this_thread::sleep_for(3s);
  REQUIRE(fixture.wait_for("SELECT count(*) FROM jobs WHERE kind = 'task'", "0", 10s));
  auto periods = std::stoi(fixture.query("SELECT count(*) FROM scheduled_task_runs WHERE task = 'runEveryMinute'"));
  CHECK(periods >= 1);
  CHECK(server.hits("/hit?task=minute") == periods);
  a->signal(SIGTERM);
  b->signal(SIGTERM);
  CHECK(a->wait(20s) == 0);
  CHECK(b->wait(20s) == 0);
}

TEST_CASE("daemon jobs: a job still running at shutdown goes back uncounted once its isolate stops, never twice at once",
          "[jobs][daemon]") {
  ScriptedServer server({200}, 60000);
  JobsFixture fixture(server.base(), /*shutdown_grace_ms=*/300);
  auto first = fixture.start_daemon();
  fixture.enqueue("hold", 7, 7);
  REQUIRE(fixture.wait_for("SELECT state FROM jobs WHERE kind = 'job'", "running", 10s));
  for (int i = 0; i < 200 && server.hits("/hold?job=7") == 0; ++i) std::this_thread::sleep_for(25ms);
  first->signal(SIGTERM);
  REQUIRE(first->wait(20s) == 0);
  CHECK(first->output().find("job hold of fleet is back in the queue, uncounted (the app instance stopped before the call settled)") !=
        std::string::npos);
  CHECK(fixture.query("SELECT state || ':' || attempts || ':' || (locked_by IS NULL) FROM jobs WHERE kind = 'job'") == "available:0:true");

  auto second = fixture.start_daemon();
  CHECK(fixture.wait_for("SELECT count(*) FROM jobs WHERE kind = 'job'", "0", 20s));
  CHECK(server.hits("/hold?job=7") == 2);
  second->signal(SIGTERM);
  CHECK(second->wait(20s) == 0);
}
