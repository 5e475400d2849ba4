// The daemon binary, run as operators run it.

#include <catch2/catch.hpp>

#include <signal.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "tests/support/admin_api.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

using namespace std::chrono_literals;
using ps::test::daemon_binary;
using ps::test::http_get;
using ps::test::Process;
using ps::test::source_dir;
using ps::test::admin_call;
using ps::test::kAdminToken;
using ps::test::pack_folder;

namespace {
std::string example_config() { return source_dir() + "/deploy/plugin-server.toml"; }

// A daemon on the example config with the admin token, on its own port.
Process admin_daemon(const ps::test::TestDatabase& db, int port) {
  return Process({daemon_binary(), "--config", example_config()},
                 {{"DATABASE_URL", db.url()},
                  {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)},
                  {"PLUGIN_SERVER_HTTP_ADMIN_TOKEN", kAdminToken}});
}
}  // namespace

TEST_CASE("daemon: starts from the example config, serves health, readiness and metrics, stops on SIGTERM",
          "[daemon]") {
  ps::test::TestDatabase db;
  int port = ps::test::free_port();
  Process daemon({daemon_binary(), "--config", example_config()},
                 {{"DATABASE_URL", db.url()}, {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_health", 200, 20s));
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 20s));

  auto ready = http_get("127.0.0.1", port, "/_ready");
  auto body = nlohmann::json::parse(ready.body);
  CHECK(body["ready"] == true);
  CHECK(body["parts"]["postgres"]["ready"] == true);
  CHECK(body["parts"]["migrations"]["ready"] == true);

  auto metrics = http_get("127.0.0.1", port, "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.content_type.find("text/plain; version=0.0.4") == 0);
  CHECK(metrics.body.find("plugin_server_postgres_up 1") != std::string::npos);
  CHECK(metrics.body.find("process_resident_memory_bytes") != std::string::npos);

  daemon.signal(SIGTERM);
  auto code = daemon.wait(20s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(daemon.output().find("plugin-server stopped") != std::string::npos);
}

TEST_CASE("daemon: not ready while Postgres is unreachable, and says why", "[daemon]") {
  int port = ps::test::free_port();
  Process daemon({daemon_binary()}, {{"DATABASE_URL", "postgresql://postgres@/x?host=/nonexistent-socket-dir"},
                                     {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_health", 200, 20s));
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 503, 20s));
  // Wait for the first check to have failed rather than "not checked yet".
  nlohmann::json body;
  for (int i = 0; i < 100; ++i) {
    body = nlohmann::json::parse(http_get("127.0.0.1", port, "/_ready").body);
    if (body["parts"]["postgres"]["detail"] != "not checked yet") break;
    std::this_thread::sleep_for(100ms);
  }
  CHECK(body["ready"] == false);
  CHECK(body["parts"]["postgres"]["ready"] == false);
  CHECK(body["parts"]["postgres"]["detail"].get<std::string>().find("nonexistent-socket-dir") != std::string::npos);
  CHECK(http_get("127.0.0.1", port, "/metrics").body.find("plugin_server_postgres_up 0") != std::string::npos);
  daemon.signal(SIGINT);
  auto code = daemon.wait(20s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("daemon: not ready while Redis is unreachable once an app uses the cache, and says why", "[daemon]") {
  ps::test::TestDatabase db;
  ps::test::TempDir dir;
  dir.write("app/plugin.json", R"({"name": "cache-user"})");
  dir.write("app/index.js", R"(
    export async function setupPlugin({ cache }) { await cache.get('x').catch(() => {}) }
    export function processEvent(e) { return e })");
  auto config = dir.write("ps.toml", "[[apps]]\npath = \"app\"\nteams = [1]\n");
  int port = ps::test::free_port();
  const std::string socket = (dir.path() / "no-redis.sock").string();
  Process daemon({daemon_binary(), "--config", config.string()},
                 {{"DATABASE_URL", db.url()},
                  {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)},
                  {"PLUGIN_SERVER_REDIS_URL", "unix://" + socket}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_health", 200, 20s));
  // Ready is never reached; wait for the apps to have loaded (and used the cache).
  nlohmann::json body;
  for (int i = 0; i < 200; ++i) {
    body = nlohmann::json::parse(http_get("127.0.0.1", port, "/_ready").body);
    if (body["parts"]["apps"]["ready"] == true && body["parts"]["redis"]["ready"] == false) break;
    std::this_thread::sleep_for(100ms);
  }
  INFO(body.dump());
  CHECK(body["ready"] == false);
  CHECK(body["parts"]["redis"]["ready"] == false);
  CHECK(body["parts"]["redis"]["detail"].get<std::string>().find("Redis is unreachable at unix://" + socket) == 0);
  CHECK(http_get("127.0.0.1", port, "/metrics").body.find("plugin_server_redis_up 0") != std::string::npos);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(20s) == 0);
}

TEST_CASE("daemon: a config with three mistakes reports all three and exits 2", "[daemon]") {
  ps::test::TempDir dir;
  auto file = dir.write("bad.toml", R"(
[http]
listen = "localhost"
[jobs]
workers = 0
[log]
level = "loud"
)");
  auto result = ps::test::run_to_end({daemon_binary(), "--config", file.string()});
  CHECK(result.code == 2);
  CHECK(result.output.find("invalid configuration (3 problems)") != std::string::npos);
  CHECK(result.output.find("http.listen") != std::string::npos);
  CHECK(result.output.find("jobs.workers") != std::string::npos);
  CHECK(result.output.find("log.level") != std::string::npos);
}

TEST_CASE("daemon: print-config shows the effective config with secrets redacted", "[daemon]") {
  ps::test::TempDir dir;
  dir.write("app/plugin.json", R"({"name":"a","config":[{"key":"token","secret":true},{"key":"greeting"}]})");
  dir.write("app/index.js", "export function processEvent(e) { return e }\n");
  auto file = dir.write("ps.toml", R"(
[[apps]]
path = "app"
teams = [7]
config = { token = "tok-123", greeting = "hey" }
)");
  auto result = ps::test::run_to_end({daemon_binary(), "print-config", "--config", file.string()},
                                     {{"DATABASE_URL", "postgresql://me:pa55@db/ps"}});
  CHECK(result.code == 0);
  CHECK(result.output.find("pa55") == std::string::npos);
  CHECK(result.output.find("tok-123") == std::string::npos);
  CHECK(result.output.find("postgresql://me:***@db/ps") != std::string::npos);
  CHECK(result.output.find("hey") != std::string::npos);
}

TEST_CASE("daemon: migrate applies the schema, and fails clearly without a database", "[daemon]") {
  ps::test::TestDatabase db;
  auto ok = ps::test::run_to_end({daemon_binary(), "migrate"}, {{"DATABASE_URL", db.url()}});
  CHECK(ok.code == 0);
  CHECK(ok.output.find("schema at version") != std::string::npos);
  auto bad = ps::test::run_to_end({daemon_binary(), "migrate"},
                                  {{"DATABASE_URL", "postgresql://postgres@/x?host=/nonexistent-socket-dir"}});
  CHECK(bad.code == 1);
  CHECK(bad.output.find("plugin-server migrate:") != std::string::npos);
}

TEST_CASE("daemon: json logs are one JSON object per line", "[daemon]") {
  int port = ps::test::free_port();
  Process daemon({daemon_binary()}, {{"DATABASE_URL", "postgresql://postgres@/x?host=/nonexistent-socket-dir"},
                                     {"PLUGIN_SERVER_LOG_FORMAT", "json"},
                                     {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_health", 200, 20s));
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(20s) == 0);
  std::istringstream lines(daemon.output());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    auto entry = nlohmann::json::parse(line);
    CHECK(entry.contains("ts"));
    CHECK(entry.contains("level"));
    CHECK(entry["msg"].is_string());
    ++count;
  }
  CHECK(count >= 3);
}

TEST_CASE("daemon: a taken HTTP port stops start-up with a clear error", "[daemon]") {
  ps::server::HttpServer holder("127.0.0.1", 0, {});
  auto result = ps::test::run_to_end(
      {daemon_binary()}, {{"DATABASE_URL", "postgresql://postgres@/x?host=/nonexistent-socket-dir"},
                          {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(holder.port())}});
  CHECK(result.code == 1);
  CHECK(result.output.find("cannot listen on 127.0.0.1:" + std::to_string(holder.port())) != std::string::npos);
}

TEST_CASE("daemon: check-app prints an app's capabilities, or why it cannot run", "[daemon]") {
  ps::test::TempDir dir;
  dir.write("ok/plugin.json", R"({"name":"ok","description":"fine"})");
  dir.write("ok/index.js", R"(
    export function processEvent(e) { return e }
    export function runEveryHour() {}
    export const jobs = { retry: () => {} }
  )");
  auto ok = ps::test::run_to_end({daemon_binary(), "check-app", (dir.path() / "ok").string()});
  REQUIRE(ok.code == 0);
  auto report = nlohmann::json::parse(ok.output);
  CHECK(report["name"] == "ok");
  CHECK(report["capabilities"]["methods"] == nlohmann::json::array({"processEvent", "runEveryHour"}));
  CHECK(report["capabilities"]["jobs"] == nlohmann::json::array({"retry"}));
  CHECK(report["capabilities"]["scheduled_tasks"] == nlohmann::json::array({"runEveryHour"}));

  dir.write("bad/plugin.json", R"({"name":"bad"})");
  dir.write("bad/index.js", "export function processEvent(e) {\n  return e e\n}\n");
  auto bad = ps::test::run_to_end({daemon_binary(), "check-app", (dir.path() / "bad").string()});
  CHECK(bad.code == 1);
  CHECK(bad.output.find("bad/index.js:2:12: SyntaxError") != std::string::npos);

  // One allocation past the heap limit at module load is reported, not fatal.
  dir.write("huge/plugin.json", R"({"name":"huge"})");
  dir.write("huge/index.js", "const a = new Array(2 ** 25).fill(1.5)\nexport function processEvent(e) { return e }\n");
  auto huge = ps::test::run_to_end({daemon_binary(), "check-app", (dir.path() / "huge").string()});
  CHECK(huge.code == 1);
  CHECK(huge.output.find("loading the module broke a limit: exceeded the heap limit of 128 MiB") != std::string::npos);
}

TEST_CASE("daemon: runs the example apps, /apps lists them and /admin/process-event runs an event", "[daemon]") {
  ps::test::TestDatabase db;
  int port = ps::test::free_port();
  // The example config, listening on this test's port (the example apps call it).
  std::ifstream in(example_config());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto at = text.find("127.0.0.1:6738"); at != std::string::npos; at = text.find("127.0.0.1:6738")) {
    text.replace(at, 14, "127.0.0.1:" + std::to_string(port));
  }
  for (auto at = text.find("\"../examples"); at != std::string::npos; at = text.find("\"../examples")) {
    text.replace(at, 12, "\"" + source_dir() + "/examples");
  }
  ps::test::TempDir dir;
  auto config = dir.write("plugin-server.toml", text);
  const std::string token = "a-test-token-of-some-length";
  Process daemon({daemon_binary(), "--config", config.string()},
                 {{"DATABASE_URL", db.url()}, {"PLUGIN_SERVER_HTTP_ADMIN_TOKEN", token}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 30s));
  auto get = [&](const std::string& path, const std::string& authorization) {
    auto reply = ps::test::http_raw("127.0.0.1", port, "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
                                                           authorization + "\r\n");
    return std::pair{std::stoi(reply.substr(9, 3)), reply.substr(reply.find("\r\n\r\n") + 4)};
  };
  CHECK(get("/apps", "").first == 401);
  CHECK(get("/apps", "Authorization: Bearer wrong-token-of-some-length\r\n").first == 401);
  CHECK(get("/apps", "Authorization: " + token + "\r\n").first == 401);
  CHECK(get("/_health", "").first == 200);
  auto [status, apps_body] = get("/apps", "Authorization: Bearer " + token + "\r\n");
  REQUIRE(status == 200);
  auto apps = nlohmann::json::parse(apps_body);
  REQUIRE(apps.size() >= 2);
  for (const auto& app : apps) {
    INFO(app.dump());
    CHECK(app["state"] == "ready");
    CHECK(app["health"]["state"] == "healthy");
    CHECK(app["health"]["budget_left_seconds"] == 30);
  }
  // Only a suspended or disabled instance can be enabled.
  auto post = [&](const std::string& path, const std::string& authorization) {
    auto reply = ps::test::http_raw("127.0.0.1", port, "POST " + path +
                                                           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                                           "Content-Length: 0\r\n" + authorization + "\r\n");
    return std::pair{std::stoi(reply.substr(9, 3)), reply.substr(reply.find("\r\n\r\n") + 4)};
  };
  auto id = std::to_string(apps[0]["instance_id"].get<long long>());
  CHECK(post("/admin/instances/" + id + "/enable", "").first == 401);
  auto [enable_status, enable_body] = post("/admin/instances/" + id + "/enable", "Authorization: Bearer " + token + "\r\n");
  CHECK(enable_status == 409);
  CHECK(enable_body.find("healthy, not suspended or disabled") != std::string::npos);
  CHECK(post("/admin/instances/99999/enable", "Authorization: Bearer " + token + "\r\n").first == 404);
  CHECK(post("/admin/instances/x/y/enable", "Authorization: Bearer " + token + "\r\n").first == 404);
  std::string event = R"({"event":"$pageview","team_id":1,"distinct_id":"u1","properties":{}})";
  auto reply = ps::test::http_raw("127.0.0.1", port,
                                  "POST /admin/process-event HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                  "Authorization: Bearer " + token + "\r\n"
                                  "Content-Length: " + std::to_string(event.size()) + "\r\n\r\n" + event);
  INFO(reply);
  auto body = nlohmann::json::parse(reply.substr(reply.find("\r\n\r\n") + 4));
  CHECK(body["event"]["properties"]["greeting"] == "hi");
  CHECK(body["event"]["properties"]["visit_count"] == 1);
  CHECK(body["event"]["properties"]["previous_visit"] == nullptr);
  CHECK(body["event"]["properties"]["status_code"] == 200);
  CHECK(body["failed"].empty());
  CHECK(body["skipped"].empty());
  // Once an app used meta.cache, readiness reports Redis.
  auto ready = nlohmann::json::parse(http_get("127.0.0.1", port, "/_ready").body);
  CHECK(ready["parts"]["redis"]["ready"] == true);
  CHECK(ready["parts"]["redis"]["detail"] == "");
  // The same rules as for events from Kafka.
  std::string no_distinct = R"({"event":"$pageview","team_id":1})";
  auto refused = ps::test::http_raw("127.0.0.1", port,
                                    "POST /admin/process-event HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    "Authorization: Bearer " + token + "\r\n"
                                    "Content-Length: " + std::to_string(no_distinct.size()) + "\r\n\r\n" + no_distinct);
  CHECK(refused.find("HTTP/1.1 400") == 0);
  CHECK(refused.find(R"({"error":"not an event: missing distinct_id"})") != std::string::npos);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(20s) == 0);
}

TEST_CASE("daemon: app versions are uploaded, installed, listed and deleted through the admin API",
          "[daemon][app-store]") {
  ps::test::TestDatabase db;
  int port = ps::test::free_port();
  auto daemon = admin_daemon(db, port);
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 30s));
  const auto& token = kAdminToken;
  auto call = [port](const std::string& method, const std::string& path, const std::string& body = "",
                     bool authorized = true) { return admin_call(port, method, path, body, authorized); };
  auto pack = pack_folder;
  auto hello = pack(source_dir() + "/examples/apps/hello");

  CHECK(call("POST", "/admin/apps", hello, false).first == 401);
  auto [created, created_body] = call("POST", "/admin/apps", hello);
  CHECK(created == 201);
  auto stored = nlohmann::json::parse(created_body);
  CHECK(stored["app"] == "hello");
  CHECK(stored["version"] == 1);
  CHECK(stored["capabilities"]["methods"].size() >= 1);
  CHECK(call("POST", "/admin/apps", hello).first == 200);  // the same contents: the same version

  // Larger than the default body limit: a bundle with a 200 KB file that
  // does not compress.
  ps::test::TempDir big;
  big.write("plugin.json", R"({"name": "big"})");
  std::string noise;
  unsigned state = 12345;
  for (int i = 0; i < 200000; ++i) noise += static_cast<char>('a' + ((state = state * 1103515245 + 12345) >> 16) % 26);
  big.write("index.js", "export function processEvent(e) { return e }\n// " + noise + "\n");
  auto big_archive = pack(big.path().string());
  REQUIRE(big_archive.size() > 100000);
  CHECK(call("POST", "/admin/apps", big_archive).first == 201);
  // Refused from the header alone (sent without the body it announces).
  auto too_large = [&](const std::string& path, std::size_t length) {
    return ps::test::http_raw("127.0.0.1", port,
                              "POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                                  "\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n");
  };
  CHECK(too_large("/admin/apps", 33u << 20).rfind("HTTP/1.1 413", 0) == 0);
  CHECK(too_large("/admin/process-event", 100000).rfind("HTTP/1.1 413", 0) == 0);

  auto [refused, refused_body] = call("POST", "/admin/apps", "not an archive");
  CHECK(refused == 422);
  auto error = nlohmann::json::parse(refused_body);
  CHECK(error["error"] == "the bundle cannot run");
  REQUIRE(error["details"].size() == 1);

  auto [listed, list_body] = call("GET", "/admin/apps");
  CHECK(listed == 200);
  CHECK(nlohmann::json::parse(list_body)["apps"].size() == 2);
  auto [described, describe_body] = call("GET", "/admin/apps/hello");
  CHECK(described == 200);
  CHECK(nlohmann::json::parse(describe_body)["versions"][0]["content_hash"] == stored["content_hash"]);
  CHECK(call("GET", "/admin/apps/nobody").first == 404);
  CHECK(call("DELETE", "/admin/apps/hello/versions/x").first == 400);
  CHECK(call("DELETE", "/admin/apps/hello/versions/2").first == 404);

  // Installs of it.
  auto [installed, install_body] = call("POST", "/admin/installs", R"({"team_id": 5, "app": "hello", "config": {"greeting": "hey"}})");
  REQUIRE(installed == 201);
  auto install = nlohmann::json::parse(install_body);
  CHECK(install["config"]["greeting"] == "hey");
  auto install_path = "/admin/installs/" + std::to_string(install["id"].get<long long>());
  CHECK(call("POST", "/admin/installs", R"({"team_id": 5, "app": "hello"})").first == 409);
  CHECK(call("POST", "/admin/installs", "{not json").first == 400);
  CHECK(call("POST", "/admin/installs", R"({"team_id": 5})", false).first == 401);
  auto [team_listed, team_body] = call("GET", "/admin/installs?team_id=5");
  CHECK(team_listed == 200);
  CHECK(nlohmann::json::parse(team_body)["installs"].size() == 1);
  CHECK(call("GET", "/admin/installs?team_id=x").first == 400);
  auto [patched, patch_body] = call("PATCH", install_path, R"({"order": 2})");
  CHECK(patched == 200);
  CHECK(nlohmann::json::parse(patch_body)["order"] == 2);
  CHECK(call("PATCH", "/admin/installs/999999", R"({"order": 2})").first == 404);
  // The install follows the latest version: that version stays.
  CHECK(call("DELETE", "/admin/apps/hello/versions/1").first == 409);
  CHECK(call("DELETE", install_path).first == 204);
  CHECK(call("DELETE", install_path).first == 404);
  CHECK(call("DELETE", "/admin/apps/hello/versions/1").first == 204);
  CHECK(call("GET", "/admin/apps/hello").first == 404);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(20s) == 0);
}

TEST_CASE("daemon: installs made through the admin API run on a daemon started after them, config-file apps win a clash",
          "[daemon][app-store]") {
  ps::test::TestDatabase db;
  {
    int port = ps::test::free_port();
    auto first = admin_daemon(db, port);
    REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 30s));
    REQUIRE(admin_call(port, "POST", "/admin/apps", pack_folder(source_dir() + "/examples/apps/hello")).first == 201);
    REQUIRE(admin_call(port, "POST", "/admin/installs", R"({"team_id": 9, "app": "hello", "config": {"greeting": "yo"}})")
                .first == 201);
    // Team 1 has hello from the config file already.
    REQUIRE(admin_call(port, "POST", "/admin/installs", R"({"team_id": 1, "app": "hello", "config": {"greeting": "no"}})")
                .first == 201);
    // Disabled installs do not run.
    REQUIRE(admin_call(port, "POST", "/admin/installs", R"({"team_id": 10, "app": "hello", "enabled": false})").first ==
            201);
    first.signal(SIGTERM);
    CHECK(first.wait(20s) == 0);
  }
  int port = ps::test::free_port();
  auto second = admin_daemon(db, port);
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 30s));
  auto run = [&](int team) {
    auto [status, body] = admin_call(port, "POST", "/admin/process-event",
                                     R"({"event":"e","team_id":)" + std::to_string(team) +
                                         R"(,"distinct_id":"u","properties":{}})");
    REQUIRE(status == 200);
    return nlohmann::json::parse(body)["event"]["properties"];
  };
  CHECK(run(9)["greeting"] == "yo");
  CHECK(run(1)["greeting"] == "hi");
  CHECK_FALSE(run(10).contains("greeting"));
  auto apps = nlohmann::json::parse(admin_call(port, "GET", "/apps").second);
  bool refused = false;
  for (const auto& app : apps) {
    if (app["team_id"] == 1 && app["path"].get<std::string>().rfind("install ", 0) == 0) {
      refused = app["state"] == "failed" && app["error"].get<std::string>().find("already installed for team 1") !=
                                               std::string::npos;
    }
  }
  CHECK(refused);
  second.signal(SIGTERM);
  CHECK(second.wait(20s) == 0);
}

TEST_CASE("daemon: without an admin token the admin endpoints are off and say how to turn them on", "[daemon]") {
  ps::test::TestDatabase db;
  int port = ps::test::free_port();
  Process daemon({daemon_binary(), "--config", example_config()},
                 {{"DATABASE_URL", db.url()}, {"PLUGIN_SERVER_HTTP_LISTEN", "127.0.0.1:" + std::to_string(port)}});
  REQUIRE(ps::test::wait_for_http_status(port, "/_ready", 200, 20s));
  auto apps = http_get("127.0.0.1", port, "/apps");
  CHECK(apps.status == 403);
  CHECK(apps.body.find("set http.admin_token (or PLUGIN_SERVER_HTTP_ADMIN_TOKEN)") != std::string::npos);
  CHECK(ps::test::http_request("POST", "127.0.0.1", port, "/admin/process-event").status == 403);
  CHECK(http_get("127.0.0.1", port, "/metrics").status == 200);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(20s) == 0);
}
