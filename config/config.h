#pragma once
// The daemon's configuration: defaults, overridden by a TOML file, overridden
// by environment variables; validated once at start-up and immutable after.

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ps::config {

struct DatabaseConfig {
  std::string url = "postgresql://127.0.0.1:5432/plugin_server";
  int pool_size = 8;
  int connect_timeout_ms = 5000;
};

// meta.cache and meta.utils.cursor. Connections are opened on first use, so
// a daemon whose apps use no cache never needs Redis.
struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379";
  int pool_size = 4;  // connections, each with its own thread
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 2000;
  int max_pending = 10000;           // commands waiting for a connection; more are refused
  int max_value_bytes = 1 << 20;     // a call's key and values together beyond it are refused
  // Put before every key: deployments (or tests) that share one Redis keep
  // apart, since instance ids are only unique within one database.
  std::string key_prefix;
};

// meta.geoip: a MaxMind DB file in the GeoIP2 City schema (GeoLite2 City or
// GeoIP2 City). Empty: meta.geoip.locate rejects saying so.
struct GeoIpConfig {
  std::string mmdb_path;
};

// The `posthog` global apps use: capture (into kafka.input_topic) and api.
struct PosthogConfig {
  // Where posthog.api goes: the analytics API's base URL. Empty: posthog.api
  // rejects unless a call names its own host.
  std::string api_url;
  // Personal API key for posthog.api, shared by every team: with it an app
  // reaches its own project's paths only. A team's own key goes in [[apps]].
  std::string api_key;
  std::string project_api_key;  // sent as the `token` parameter
  int max_capture_hops = 10;    // captures in a row (apps capturing from captured events); more are dropped
  int max_captures_per_second = 1000;  // per app instance; more are refused
};

struct KafkaConfig {
  std::string brokers = "embedded";
  std::string group_id = "plugin-server";
  std::string input_topic = "events_plugin_ingestion";
  std::string output_topic = "events_processed";
  std::string dlq_topic = "events_plugin_ingestion_dlq";
  int max_message_bytes = 1 << 20;  // bigger input messages (and outputs) are dead-lettered
  int max_nesting_depth = 512;      // deeper input messages are dead-lettered, deeper app results refused
  int max_in_flight = 10000;        // consumed, not yet settled; over it, fetching pauses
  int team_share_percent = 50;      // of max_in_flight, per team; a team's later events are parked
  int max_parked_mb = 128;          // parked events' memory; over it, fetching pauses
  int session_timeout_ms = 10000;
  int embedded_partitions = 4;      // per topic, for brokers = "embedded"
  int sample_events_per_second = 0; // with brokers = "embedded": produce sample events (development)
};

struct HttpConfig {
  std::string listen = "127.0.0.1:6738";
  // Bearer token for /admin/* and /apps; empty: those answer 403.
  std::string admin_token;
  // Filled from `listen` by validation.
  std::string host;
  int port = 0;
};

struct RuntimeConfig {
  int threads = 0;  // 0 = one per core
  int task_timeout_ms = 30000;  // wall-clock limit of an app call, from start to settling
  // Longest synchronous run of an app's JS per entry (a loop that never
  // yields holds a shared JS thread for at most this long).
  int cpu_limit_ms = 1000;
  int heap_limit_mb = 128;
  int fetch_timeout_ms = 10000;
  int fetch_max_response_mb = 16;
  int fetch_max_concurrent = 64;  // per app instance: requests in flight (fetch and posthog.api)
  std::string fetch_ca_file;  // PEM certificates trusted by fetch besides the system's
  // Non-public destinations fetch may reach anyway: host, host:port or CIDR.
  std::vector<std::string> fetch_allowed_hosts;
  int storage_max_value_bytes = 1 << 20;  // storage.set of a larger value (as JSON) is refused
  int storage_max_total_mb = 64;          // per app instance: keys and JSON text of all its entries
  int storage_max_pending = 1000;         // per app instance: storage calls not yet answered
};

struct JobsConfig {
  // Jobs run at once by this daemon. Most jobs wait on I/O (fetch, storage):
  // slots, not cores, bound them (bench/jobs-daemon: 4 slots ran 384 jobs/s
  // that wait 10 ms each, 64 slots 5,485). A slot holds its job's payload.
  int workers = 64;
  // Of those, the most one team's jobs hold while another team's job waits
  // for a slot (a team alone uses them all); 0: half of `workers`, rounded up.
  int workers_per_team = 0;
  int prefetch = 500;          // claimed jobs held ready for a free worker
  int max_attempts = 3;        // then a job stays `failed`
  int max_payload_bytes = 1 << 20;
  int poll_interval_ms = 5000;  // the safety poll behind LISTEN/NOTIFY and the timer
  int lease_ms = 30000;         // a running job's lease; renewed while it runs
  int retry_base_ms = 1000;     // first retry delay, doubled each attempt, with jitter
  int retry_max_ms = 3600000;
  int retention_hours = 168;    // how long failed and discarded jobs are kept
  int max_enqueues_per_second = 1000;  // per app instance (and as many at once); more are refused
  int max_queued_per_app = 100000;     // jobs waiting per app instance; more are refused
};

// The per-instance cost budget that sidelines a misbehaving app (see
// runtime/app_health.h): seconds of cost, refilled steadily, charged by
// each call's time on its JS thread, part of its wall time, its error or
// broken limit.
struct HealthConfig {
  std::string mode = "enforce";  // or "off": no instance is ever skipped
  int budget_ms = 30000;
  int refill_ms_per_second = 1500;  // above one JS thread's worth: success alone never drains it
  int error_cost_ms = 20;
  int limit_cost_ms = 5000;
  int wall_cost_per_mille = 1;      // thousandths of each call's wall time charged
  int degrade_below_percent = 50;   // of the budget
  int degraded_max_calls = 1;       // at once, while degraded; more are skipped
  int suspend_seconds = 60;
  int max_suspensions = 3;          // in a row; then disabled until an operator enables it
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";
  int app_max_line_bytes = 16 * 1024;  // an app's console line is cut here
  int app_lines_per_second = 100;      // per app instance; more are dropped and counted
  // What GET /admin/instances/{id}/logs keeps per instance (in memory).
  int app_kept_lines = 200;
  int app_kept_seconds = 3600;
};

struct ServerConfig {
  // How long an orderly shutdown waits for in-flight work before it gives up.
  int shutdown_grace_ms = 10000;
  // How often the installs kept in Postgres are read again, behind the
  // notification a change sends (a daemon that missed one still catches up).
  int reconcile_interval_ms = 10000;
};

// One app installed for some teams: one instance per team.
struct AppConfig {
  std::string path;  // absolute after loading; relative paths are taken from the config file's folder
  std::vector<long long> teams;
  int order = 0;
  nlohmann::json config = nlohmann::json::object();
  // posthog.api keys of these teams' own, used instead of [posthog]'s and
  // without its own-project restriction. Never printed.
  std::string posthog_personal_api_key;
  std::string posthog_project_api_key;
  // For an install made through the admin API: its version's .tar.gz, read
  // from Postgres (`path` then only names it in messages), shared by the
  // installs of that version. Never from a file. Null for a file's app.
  std::shared_ptr<const std::string> archive;
  // The install's id (0: the config file's), and what identifies its
  // present state (version, config, order): a new revision is reloaded.
  // The revision holds config values: never printed.
  long long install_id = 0;
  int version = 0;  // the uploaded version an install runs
  std::string updated_at;  // the install's last change through the API (reported back by /admin/instances)
  std::string revision;
};

struct Config {
  DatabaseConfig database;
  RedisConfig redis;
  GeoIpConfig geoip;
  PosthogConfig posthog;
  KafkaConfig kafka;
  HttpConfig http;
  RuntimeConfig runtime;
  JobsConfig jobs;
  HealthConfig health;
  LogConfig log;
  ServerConfig server;
  std::vector<AppConfig> apps;
  std::optional<std::filesystem::path> file;  // where it was read from, if anywhere
};

// Every problem found while loading, one line each, naming the key.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

using Environment = std::map<std::string, std::string>;
Environment process_environment();

// Loads defaults, then `file` (if given), then `env`. Throws ConfigError listing
// every problem at once.
Config load(const std::optional<std::filesystem::path>& file, const Environment& env);

// The effective config as TOML, with secrets redacted. `is_secret(app, key)`
// says which app config fields the app declares secret.
using SecretFieldPredicate = bool (*)(const AppConfig& app, const std::string& key);
std::string render_toml(const Config& config, SecretFieldPredicate is_secret);

}  // namespace ps::config
