#include <catch2/catch.hpp>

#include "config/config.h"
#include "config/database_url.h"
#include "config/redis_url.h"
#include "tests/support/temp_dir.h"

using ps::config::ConfigError;
using ps::config::Environment;
using ps::config::load;
using ps::test::TempDir;

namespace {

// The problems a load reports, or an empty list when it succeeds.
std::vector<std::string> problems_of(const std::optional<std::filesystem::path>& file, const Environment& env) {
  try {
    load(file, env);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

bool any_contains(const std::vector<std::string>& lines, const std::string& a, const std::string& b = "") {
  for (const auto& line : lines) {
    if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("config: defaults apply with no file and no environment", "[config]") {
  auto c = load(std::nullopt, {});
  CHECK(c.database.url == "postgresql://127.0.0.1:5432/plugin_server");
  CHECK(c.kafka.brokers == "embedded");
  CHECK(c.kafka.input_topic == "events_plugin_ingestion");
  CHECK(c.http.host == "127.0.0.1");
  CHECK(c.http.port == 6738);
  CHECK(c.runtime.task_timeout_ms == 30000);
  CHECK(c.runtime.cpu_limit_ms == 1000);
  CHECK(c.jobs.workers == 64);
  CHECK(c.log.format == "text");
  CHECK(c.apps.empty());
}

TEST_CASE("config: env wins over the file, the file over defaults", "[config]") {
  TempDir dir;
  auto file = dir.write("ps.toml", R"(
[kafka]
group_id = "from-file"
output_topic = "out-file"
[runtime]
threads = 3
)");
  auto c = load(file, {{"PLUGIN_SERVER_KAFKA_GROUP_ID", "from-env"}});
  CHECK(c.kafka.group_id == "from-env");
  CHECK(c.kafka.output_topic == "out-file");
  CHECK(c.runtime.threads == 3);
  CHECK(c.kafka.dlq_topic == "events_plugin_ingestion_dlq");
}

TEST_CASE("config: established env names work, and PLUGIN_SERVER_ names win over them", "[config]") {
  auto c = load(std::nullopt, {{"DATABASE_URL", "postgres://u:p@db:5433/x"},
                               {"KAFKA_HOSTS", "k1:9092,k2:9092"},
                               {"KAFKA_CONSUMPTION_TOPIC", "in"},
                               {"TASK_TIMEOUT", "7"},
                               {"WORKER_CONCURRENCY", "5"},
                               {"LOG_LEVEL", "debug"}});
  CHECK(c.database.url == "postgres://u:p@db:5433/x");
  CHECK(c.kafka.brokers == "k1:9092,k2:9092");
  CHECK(c.kafka.input_topic == "in");
  CHECK(c.runtime.task_timeout_ms == 7000);
  CHECK(c.runtime.threads == 5);
  CHECK(c.log.level == "debug");

  auto both = load(std::nullopt, {{"LOG_LEVEL", "debug"}, {"PLUGIN_SERVER_LOG_LEVEL", "warn"}});
  CHECK(both.log.level == "warn");
}

TEST_CASE("config: every problem is reported at once, one line each naming the key", "[config]") {
  TempDir dir;
  auto file = dir.write("bad.toml", R"(
[database]
url = "mysql://nope"
[runtime]
threads = "four"
heap_limit_mb = 1
[kafka]
colour = "blue"
[[apps]]
path = "does/not/exist"
teams = [1]
)");
  auto problems = problems_of(file, {});
  REQUIRE(problems.size() == 5);
  CHECK(any_contains(problems, "database.url", "postgresql://"));
  CHECK(any_contains(problems, "runtime.threads", "expected an integer"));
  CHECK(any_contains(problems, "runtime.heap_limit_mb", "must be from 8"));
  CHECK(any_contains(problems, "kafka.colour", "unknown key"));
  CHECK(any_contains(problems, "apps[0].path", "no app bundle"));
  // File problems say where they are.
  CHECK(any_contains(problems, "runtime.threads", "bad.toml line 5"));
}

TEST_CASE("config: bad environment values are reported with the variable's name", "[config]") {
  auto problems = problems_of(std::nullopt, {{"PLUGIN_SERVER_JOBS_WORKERS", "lots"},
                                             {"TASK_TIMEOUT", "-3"},
                                             {"PLUGIN_SERVER_LOG_FORMAT", "xml"},
                                             {"PLUGIN_SERVER_HTTP_LISTEN", "nowhere"},
                                             {"PLUGIN_SERVER_KAFKA_GROUPID", "typo"}});
  REQUIRE(problems.size() == 5);
  CHECK(any_contains(problems, "jobs.workers", "PLUGIN_SERVER_JOBS_WORKERS"));
  CHECK(any_contains(problems, "runtime.task_timeout_ms", "TASK_TIMEOUT"));
  CHECK(any_contains(problems, "log.format", "one of text, json"));
  CHECK(any_contains(problems, "http.listen", "host:port"));
  CHECK(any_contains(problems, "PLUGIN_SERVER_KAFKA_GROUPID", "unknown setting"));
}

TEST_CASE("config: runtime.fetch_ca_file must be a readable PEM file of certificates", "[config]") {
  TempDir dir;
  auto not_pem = dir.write("notes.txt", "hello");
  auto file = dir.write("ca.toml", "[runtime]\nfetch_ca_file = \"" + (dir.path() / "missing.pem").string() + "\"\n");
  auto problems = problems_of(file, {});
  REQUIRE(problems.size() == 1);
  CHECK(any_contains(problems, "runtime.fetch_ca_file", "cannot read"));
  problems = problems_of(file, {{"PLUGIN_SERVER_RUNTIME_FETCH_CA_FILE", not_pem.string()}});
  REQUIRE(problems.size() == 1);
  CHECK(any_contains(problems, "runtime.fetch_ca_file", "holds no PEM certificate"));
}

TEST_CASE("config: a TOML syntax error names the file, line and column", "[config]") {
  TempDir dir;
  auto file = dir.write("broken.toml", "[database]\nurl = \"unterminated\n");
  auto problems = problems_of(file, {});
  REQUIRE(problems.size() == 1);
  CHECK(any_contains(problems, "broken.toml:2:", "not valid TOML"));
}

TEST_CASE("config: a missing config file is an error", "[config]") {
  auto problems = problems_of(std::filesystem::path("/nonexistent/ps.toml"), {});
  REQUIRE(problems.size() == 1);
  CHECK(any_contains(problems, "/nonexistent/ps.toml", "not found"));
}

TEST_CASE("config: apps take paths relative to the config file, teams, order and config", "[config]") {
  TempDir dir;
  dir.write("apps/hello/plugin.json", R"({"name":"hello"})");
  auto file = dir.write("etc/ps.toml", R"(
[[apps]]
path = "../apps/hello"
teams = [1, 2]
order = 3
config = { greeting = "hi", nested = { n = 1, list = [true, false] } }
)");
  auto c = load(file, {});
  REQUIRE(c.apps.size() == 1);
  CHECK(c.apps[0].path == (dir.path() / "apps/hello").string());
  CHECK(c.apps[0].teams == std::vector<long long>{1, 2});
  CHECK(c.apps[0].order == 3);
  CHECK(c.apps[0].config["greeting"] == "hi");
  CHECK(c.apps[0].config["nested"]["n"] == 1);
  CHECK(c.apps[0].config["nested"]["list"][1] == false);
}

TEST_CASE("config: app entries are checked", "[config]") {
  TempDir dir;
  dir.write("apps/a/plugin.json", R"({"name":"a"})");
  auto file = dir.write("ps.toml", R"(
[[apps]]
path = "apps/a"
teams = [0, "x"]
colour = 1
[[apps]]
teams = [1]
)");
  auto problems = problems_of(file, {});
  CHECK(problems.size() == 4);
  CHECK(any_contains(problems, "apps[0].teams", "positive integers"));
  CHECK(any_contains(problems, "apps[0].colour", "unknown key"));
  CHECK(any_contains(problems, "apps[1].path", "missing"));
}

TEST_CASE("config: print-config output redacts passwords and secret app fields", "[config]") {
  TempDir dir;
  dir.write("apps/a/plugin.json", R"({"name":"a"})");
  auto file = dir.write("ps.toml", R"(
[database]
url = "postgresql://admin:hunter2@db:5432/ps"
[[apps]]
path = "apps/a"
teams = [1]
config = { apiKey = "s3cret", greeting = "hi" }
)");
  auto c = load(file, {});
  auto text = ps::config::render_toml(c, [](const ps::config::AppConfig&, const std::string& key) {
    return key == "apiKey";
  });
  CHECK(text.find("hunter2") == std::string::npos);
  CHECK(text.find("s3cret") == std::string::npos);
  CHECK(text.find("postgresql://admin:***@db:5432/ps") != std::string::npos);
  CHECK(text.find("greeting = 'hi'") != std::string::npos);
  CHECK(text.find("[kafka]") != std::string::npos);
}

TEST_CASE("config: database URLs are checked and redacted", "[config]") {
  using ps::config::database_url_problem;
  using ps::config::redact_database_url;
  CHECK_FALSE(database_url_problem("postgresql://127.0.0.1:5432/x"));
  CHECK_FALSE(database_url_problem("postgresql://postgres@/x?host=/tmp/sock"));
  CHECK(database_url_problem("http://x"));
  CHECK(database_url_problem("postgresql://host:99999/x"));
  CHECK(redact_database_url("postgresql://u:pw@h/x") == "postgresql://u:***@h/x");
  CHECK(redact_database_url("postgresql://h/x?user=u&password=pw&sslmode=require") ==
        "postgresql://h/x?user=u&password=***&sslmode=require");
  CHECK(redact_database_url("postgresql://u@h/x") == "postgresql://u@h/x");
}

TEST_CASE("config: Redis URLs are parsed, checked and redacted, and REDIS_URL sets redis.url", "[config]") {
  using ps::config::parse_redis_url;
  using ps::config::RedisEndpoint;
  auto tcp = std::get<RedisEndpoint>(parse_redis_url("redis://user:p%40ss@cache.internal:6380/3"));
  CHECK(tcp.host == "cache.internal");
  CHECK(tcp.port == 6380);
  CHECK(tcp.username == "user");
  CHECK(tcp.password == "p@ss");
  CHECK(tcp.db == 3);
  auto plain = std::get<RedisEndpoint>(parse_redis_url("redis://127.0.0.1"));
  CHECK((plain.port == 6379 && plain.db == 0 && plain.password.empty()));
  auto v6 = std::get<RedisEndpoint>(parse_redis_url("redis://[::1]:7000"));
  CHECK((v6.host == "::1" && v6.port == 7000));
  auto unix_socket = std::get<RedisEndpoint>(parse_redis_url("unix:///run/redis/redis.sock?db=2&password=s3cret"));
  CHECK(unix_socket.socket_path == "/run/redis/redis.sock");
  CHECK((unix_socket.db == 2 && unix_socket.password == "s3cret"));
  for (const char* bad : {"http://x", "rediss://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x",
                          "unix://relative.sock", "unix:///s?color=red", "redis://h%zz:p@x"}) {
    INFO(bad);
    CHECK(std::holds_alternative<std::string>(parse_redis_url(bad)));
  }
  CHECK(ps::config::redact_redis_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0");
  CHECK(ps::config::redact_redis_url("unix:///s?password=pw&db=1") == "unix:///s?password=***&db=1");

  CHECK(load(std::nullopt, {{"REDIS_URL", "redis://from-established:6379"}}).redis.url == "redis://from-established:6379");
  CHECK(load(std::nullopt, {{"REDIS_URL", "redis://a"}, {"PLUGIN_SERVER_REDIS_URL", "redis://b"}}).redis.url == "redis://b");
  try {
    load(std::nullopt, {{"PLUGIN_SERVER_REDIS_URL", "memcached://x"}});
    FAIL("accepted a bad Redis URL");
  } catch (const ConfigError& e) {
    CHECK(any_contains(e.problems(), "redis.url", "not a valid Redis URL: must start with redis:// or unix://"));
  }
}

TEST_CASE("config: runtime.fetch_allowed_hosts is a TOML array, or a comma list in its variable", "[config]") {
  TempDir dir;
  auto file = dir.write("ps.toml", R"(
[runtime]
fetch_allowed_hosts = ["internal.example", "127.0.0.1:8080", "10.0.0.0/8", "[::1]:9000"]
)");
  CHECK(load(file, {}).runtime.fetch_allowed_hosts ==
        std::vector<std::string>{"internal.example", "127.0.0.1:8080", "10.0.0.0/8", "[::1]:9000"});
  CHECK(load(file, {{"PLUGIN_SERVER_RUNTIME_FETCH_ALLOWED_HOSTS", " a.example, 192.168.0.0/16 ,,"}})
            .runtime.fetch_allowed_hosts == std::vector<std::string>{"a.example", "192.168.0.0/16"});
  CHECK(load(std::nullopt, {}).runtime.fetch_allowed_hosts.empty());
  auto bad = dir.write("bad.toml", R"(
[runtime]
fetch_allowed_hosts = ["10.0.0.0/40", "host:99999", "[nope]:1"]
)");
  auto problems = problems_of(bad, {});
  CHECK(any_contains(problems, "runtime.fetch_allowed_hosts", "\"10.0.0.0/40\""));
  CHECK(any_contains(problems, "runtime.fetch_allowed_hosts: \"host:99999\"", "the port must be 1 to 65535"));
  CHECK(any_contains(problems, "\"[nope]:1\"", "must hold an IPv6 address"));
  auto not_list = dir.write("notlist.toml", "[runtime]\nfetch_allowed_hosts = \"10.0.0.1\"\n");
  CHECK(any_contains(problems_of(not_list, {}), "runtime.fetch_allowed_hosts: expected an array of strings, got a string"));
}

TEST_CASE("config: http.admin_token must be long, and print-config never shows it", "[config]") {
  CHECK(any_contains(problems_of(std::nullopt, {{"PLUGIN_SERVER_HTTP_ADMIN_TOKEN", "short"}}), "http.admin_token",
                     "at least 16 characters"));
  auto c = load(std::nullopt, {{"PLUGIN_SERVER_HTTP_ADMIN_TOKEN", "0123456789abcdef-secret"}});
  CHECK(c.http.admin_token == "0123456789abcdef-secret");
  auto text = ps::config::render_toml(c, nullptr);
  CHECK(text.find("0123456789abcdef-secret") == std::string::npos);
  CHECK(text.find("admin_token = '***'") != std::string::npos);
}

TEST_CASE("config: an app twice for one team, a negative team and a URL libpq cannot parse are refused", "[config]") {
  TempDir dir;
  dir.write("apps/a/plugin.json", R"({"name":"a"})");
  auto file = dir.write("ps.toml", R"(
[database]
url = "postgresql://[::1:5432/x"
[[apps]]
path = "apps/a"
teams = [1, 2]
[[apps]]
path = "apps/a"
teams = [3, 2, -4]
)");
  auto problems = problems_of(file, {});
  CHECK(any_contains(problems, "apps[1]: ", "apps/a is already installed for team 2 by apps[0]"));
  CHECK(any_contains(problems, "apps[1].teams: team ids must be positive integers, got -4"));
  CHECK(any_contains(problems, "database.url: not a valid Postgres URL: ", "IPv6"));
  CHECK(problems.size() == 3);
}

TEST_CASE("config: [posthog] and an app's own posthog keys are checked, SITE_URL sets the API, keys never print",
          "[config]") {
  TempDir dir;
  dir.write("apps/a/plugin.json", R"({"name":"a"})");
  auto file = dir.write("ps.toml", R"(
[posthog]
api_key = "phx_shared_secret"
max_capture_hops = 4
[[apps]]
path = "apps/a"
teams = [1]
posthog_personal_api_key = "phx_team_secret"
posthog_project_api_key = "phc_team_token"
)");
  auto c = load(file, {{"SITE_URL", "https://analytics.example.com"}});
  CHECK(c.posthog.api_url == "https://analytics.example.com");
  CHECK(c.posthog.max_capture_hops == 4);
  CHECK(c.posthog.max_captures_per_second == 1000);
  REQUIRE(c.apps.size() == 1);
  CHECK(c.apps[0].posthog_personal_api_key == "phx_team_secret");
  CHECK(c.apps[0].posthog_project_api_key == "phc_team_token");
  auto text = ps::config::render_toml(c, nullptr);
  for (const char* secret : {"phx_shared_secret", "phx_team_secret", "phc_team_token"}) {
    CHECK(text.find(secret) == std::string::npos);
  }
  CHECK(text.find("posthog_personal_api_key = '***'") != std::string::npos);
  CHECK(text.find("max_capture_hops = 4") != std::string::npos);

  CHECK(any_contains(problems_of(std::nullopt, {{"PLUGIN_SERVER_POSTHOG_API_URL", "ftp://x"}}), "posthog.api_url",
                     "expected an http:// or https:// URL"));
  CHECK(any_contains(problems_of(std::nullopt, {{"PLUGIN_SERVER_POSTHOG_MAX_CAPTURE_HOPS", "0"}}),
                     "posthog.max_capture_hops"));
  auto bad = dir.write("bad.toml", R"(
[[apps]]
path = "apps/a"
teams = [1]
posthog_personal_api_key = 7
)");
  CHECK(any_contains(problems_of(bad, {}), "apps[0].posthog_personal_api_key", "expected a non-empty string"));
}

TEST_CASE("config: team shares of the window and the app health policy are read and checked", "[config]") {
  TempDir dir;
  auto good = dir.write("good.toml", R"(
[kafka]
team_share_percent = 25
max_parked_mb = 64
[health]
mode = "off"
budget_ms = 60000
max_suspensions = 5
)");
  auto config = load(good, {{"PLUGIN_SERVER_HEALTH_SUSPEND_SECONDS", "300"}});
  CHECK(config.kafka.team_share_percent == 25);
  CHECK(config.kafka.max_parked_mb == 64);
  CHECK(config.health.mode == "off");
  CHECK(config.health.budget_ms == 60000);
  CHECK(config.health.max_suspensions == 5);
  CHECK(config.health.suspend_seconds == 300);
  CHECK(load(std::nullopt, {}).health.mode == "enforce");

  auto bad = dir.write("bad.toml", R"(
[kafka]
team_share_percent = 0
[health]
mode = "sometimes"
degrade_below_percent = 101
degraded_max_calls = 0
)");
  auto problems = problems_of(bad, {});
  REQUIRE(problems.size() == 4);
  CHECK(any_contains(problems, "kafka.team_share_percent", "must be from 1"));
  CHECK(any_contains(problems, "health.mode", "one of enforce, off"));
  CHECK(any_contains(problems, "health.degrade_below_percent", "100"));
  CHECK(any_contains(problems, "health.degraded_max_calls", "must be from 1"));
}
