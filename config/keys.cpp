#include "config/keys.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>

#include "config/allow_list.h"
#include "config/database_url.h"
#include "config/redis_url.h"

namespace ps::config {

std::string KeySpec::env_name() const {
  std::string out = "PLUGIN_SERVER_";
  for (char c : section) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  out += '_';
  for (char c : name) out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::optional<HostPort> parse_host_port(const std::string& text, std::string* problem) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *problem = "expected host:port, got \"" + text + "\"";
    return std::nullopt;
  }
  HostPort hp;
  hp.host = text.substr(0, colon);
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  auto port = std::string_view(text).substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), hp.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || hp.port < 0 ||
      hp.port > 65535) {
    *problem = "port must be a number from 0 to 65535, got \"" + std::string(port) + "\"";
    return std::nullopt;
  }
  return hp;
}

namespace {

std::optional<std::string> not_empty(const std::string& v) {
  if (v.empty()) return "must not be empty";
  return std::nullopt;
}

std::optional<std::string> valid_database_url(const std::string& v) {
  if (auto problem = database_url_problem(v)) return "not a valid Postgres URL: " + *problem;
  return std::nullopt;
}

std::optional<std::string> empty_or_http_url(const std::string& v) {
  if (v.empty() || v.rfind("http://", 0) == 0 || v.rfind("https://", 0) == 0) return std::nullopt;
  return "expected an http:// or https:// URL, got \"" + v + "\"";
}

std::optional<std::string> valid_redis_url(const std::string& v) {
  auto parsed = parse_redis_url(v);
  if (auto* problem = std::get_if<std::string>(&parsed)) return "not a valid Redis URL: " + *problem;
  return std::nullopt;
}

std::optional<std::string> valid_listen(const std::string& v) {
  std::string problem;
  if (!parse_host_port(v, &problem)) return problem;
  return std::nullopt;
}

std::optional<std::string> valid_brokers(const std::string& v) {
  if (v == "embedded") return std::nullopt;
  if (v.empty()) return "must be \"embedded\" or a list of host:port";
  std::size_t start = 0;
  while (start <= v.size()) {
    auto end = v.find(',', start);
    if (end == std::string::npos) end = v.size();
    std::string problem;
    std::string broker = v.substr(start, end - start);
    auto hp = parse_host_port(broker, &problem);
    if (!hp || hp->port == 0) {
      return "must be \"embedded\" or a list of host:port, bad entry \"" + broker + "\"";
    }
    start = end + 1;
  }
  return std::nullopt;
}

// Empty, or a PEM file holding at least one certificate.
std::optional<std::string> readable_certificates(const std::string& v) {
  if (v.empty()) return std::nullopt;
  std::ifstream in(v);
  if (!in) return "cannot read \"" + v + "\"";
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return "\"" + v + "\" holds no PEM certificate";
  }
  return std::nullopt;
}

// Empty, or a file that can be read (whether it is a MaxMind DB is checked
// when the daemon opens it).
std::optional<std::string> readable_file(const std::string& v) {
  if (v.empty()) return std::nullopt;
  std::ifstream in(v, std::ios::binary);
  if (!in) return "cannot read \"" + v + "\"";
  return std::nullopt;
}

std::optional<std::string> valid_allow_entry(const std::string& v) {
  std::string problem;
  if (!parse_allow_entry(v, &problem)) return problem;
  return std::nullopt;
}

// Long enough that guessing is hopeless.
std::optional<std::string> strong_token(const std::string& v) {
  if (!v.empty() && v.size() < 16) return "must be at least 16 characters (or empty to refuse admin requests)";
  return std::nullopt;
}

}  // namespace

const std::vector<KeySpec>& key_specs() {
  static const std::vector<KeySpec> specs = {
      {.section = "database", .name = "url", .text = [](Config& c) -> std::string& { return c.database.url; },
       .check = valid_database_url, .redact = redact_database_url},
      {.section = "database", .name = "pool_size", .integer = [](Config& c) -> int& { return c.database.pool_size; },
       .min = 1, .max = 1000},
      {.section = "database", .name = "connect_timeout_ms",
       .integer = [](Config& c) -> int& { return c.database.connect_timeout_ms; }, .min = 100, .max = 600000},
      {.section = "redis", .name = "url", .text = [](Config& c) -> std::string& { return c.redis.url; },
       .check = valid_redis_url, .redact = redact_redis_url},
      {.section = "redis", .name = "key_prefix", .text = [](Config& c) -> std::string& { return c.redis.key_prefix; }},
      {.section = "redis", .name = "pool_size", .integer = [](Config& c) -> int& { return c.redis.pool_size; },
       .min = 1, .max = 256},
      {.section = "redis", .name = "connect_timeout_ms",
       .integer = [](Config& c) -> int& { return c.redis.connect_timeout_ms; }, .min = 10, .max = 600000},
      {.section = "redis", .name = "command_timeout_ms",
       .integer = [](Config& c) -> int& { return c.redis.command_timeout_ms; }, .min = 10, .max = 600000},
      {.section = "redis", .name = "max_pending",
       .integer = [](Config& c) -> int& { return c.redis.max_pending; }, .min = 1, .max = 10000000},
      {.section = "redis", .name = "max_value_bytes",
       .integer = [](Config& c) -> int& { return c.redis.max_value_bytes; }, .min = 16, .max = 64 << 20},
      {.section = "geoip", .name = "mmdb_path", .text = [](Config& c) -> std::string& { return c.geoip.mmdb_path; },
       .check = readable_file},
      {.section = "posthog", .name = "api_url", .text = [](Config& c) -> std::string& { return c.posthog.api_url; },
       .check = empty_or_http_url},
      {.section = "posthog", .name = "api_key", .text = [](Config& c) -> std::string& { return c.posthog.api_key; },
       .secret = true},
      {.section = "posthog", .name = "project_api_key",
       .text = [](Config& c) -> std::string& { return c.posthog.project_api_key; }, .secret = true},
      {.section = "posthog", .name = "max_capture_hops",
       .integer = [](Config& c) -> int& { return c.posthog.max_capture_hops; }, .min = 1, .max = 1000},
      {.section = "posthog", .name = "max_captures_per_second",
       .integer = [](Config& c) -> int& { return c.posthog.max_captures_per_second; }, .min = 1, .max = 1000000},
      {.section = "kafka", .name = "brokers", .text = [](Config& c) -> std::string& { return c.kafka.brokers; },
       .check = valid_brokers},
      {.section = "kafka", .name = "group_id", .text = [](Config& c) -> std::string& { return c.kafka.group_id; },
       .check = not_empty},
      {.section = "kafka", .name = "input_topic",
       .text = [](Config& c) -> std::string& { return c.kafka.input_topic; }, .check = not_empty},
      {.section = "kafka", .name = "output_topic",
       .text = [](Config& c) -> std::string& { return c.kafka.output_topic; }, .check = not_empty},
      {.section = "kafka", .name = "dlq_topic", .text = [](Config& c) -> std::string& { return c.kafka.dlq_topic; },
       .check = not_empty},
      {.section = "kafka", .name = "max_message_bytes",
       .integer = [](Config& c) -> int& { return c.kafka.max_message_bytes; }, .min = 64, .max = 256 << 20},
      {.section = "kafka", .name = "max_nesting_depth",
       .integer = [](Config& c) -> int& { return c.kafka.max_nesting_depth; }, .min = 2, .max = 100000},
      {.section = "kafka", .name = "max_in_flight",
       .integer = [](Config& c) -> int& { return c.kafka.max_in_flight; }, .min = 1, .max = 10000000},
      {.section = "kafka", .name = "team_share_percent",
       .integer = [](Config& c) -> int& { return c.kafka.team_share_percent; }, .min = 1, .max = 100},
      {.section = "kafka", .name = "max_parked_mb",
       .integer = [](Config& c) -> int& { return c.kafka.max_parked_mb; }, .min = 1, .max = 65536},
      {.section = "kafka", .name = "session_timeout_ms",
       .integer = [](Config& c) -> int& { return c.kafka.session_timeout_ms; }, .min = 1000, .max = 3600000},
      {.section = "kafka", .name = "embedded_partitions",
       .integer = [](Config& c) -> int& { return c.kafka.embedded_partitions; }, .min = 1, .max = 256},
      {.section = "kafka", .name = "sample_events_per_second",
       .integer = [](Config& c) -> int& { return c.kafka.sample_events_per_second; }, .min = 0, .max = 10000},
      {.section = "http", .name = "listen", .text = [](Config& c) -> std::string& { return c.http.listen; },
       .check = valid_listen},
      {.section = "http", .name = "admin_token", .text = [](Config& c) -> std::string& { return c.http.admin_token; },
       .check = strong_token, .secret = true},
      {.section = "runtime", .name = "threads", .integer = [](Config& c) -> int& { return c.runtime.threads; },
       .min = 0, .max = 1024},
      {.section = "runtime", .name = "task_timeout_ms",
       .integer = [](Config& c) -> int& { return c.runtime.task_timeout_ms; }, .min = 1, .max = 86400000},
      {.section = "runtime", .name = "fetch_max_concurrent",
       .integer = [](Config& c) -> int& { return c.runtime.fetch_max_concurrent; }, .min = 1, .max = 100000},
      {.section = "runtime", .name = "storage_max_pending",
       .integer = [](Config& c) -> int& { return c.runtime.storage_max_pending; }, .min = 1, .max = 10000000},
      {.section = "runtime", .name = "cpu_limit_ms",
       .integer = [](Config& c) -> int& { return c.runtime.cpu_limit_ms; }, .min = 10, .max = 86400000},
      {.section = "runtime", .name = "heap_limit_mb",
       .integer = [](Config& c) -> int& { return c.runtime.heap_limit_mb; }, .min = 8, .max = 65536},
      {.section = "runtime", .name = "fetch_timeout_ms",
       .integer = [](Config& c) -> int& { return c.runtime.fetch_timeout_ms; }, .min = 1, .max = 3600000},
      {.section = "runtime", .name = "fetch_max_response_mb",
       .integer = [](Config& c) -> int& { return c.runtime.fetch_max_response_mb; }, .min = 1, .max = 1024},
      {.section = "runtime", .name = "fetch_ca_file",
       .text = [](Config& c) -> std::string& { return c.runtime.fetch_ca_file; }, .check = readable_certificates},
      {.section = "runtime", .name = "storage_max_value_bytes",
       .integer = [](Config& c) -> int& { return c.runtime.storage_max_value_bytes; }, .min = 16, .max = 64 << 20},
      {.section = "runtime", .name = "storage_max_total_mb",
       .integer = [](Config& c) -> int& { return c.runtime.storage_max_total_mb; }, .min = 1, .max = 1 << 20},
      {.section = "runtime", .name = "fetch_allowed_hosts",
       .list = [](Config& c) -> std::vector<std::string>& { return c.runtime.fetch_allowed_hosts; },
       .check = valid_allow_entry},
      {.section = "jobs", .name = "workers", .integer = [](Config& c) -> int& { return c.jobs.workers; },
       .min = 1, .max = 1024},
      {.section = "jobs", .name = "workers_per_team",
       .integer = [](Config& c) -> int& { return c.jobs.workers_per_team; }, .min = 0, .max = 1024},
      {.section = "jobs", .name = "max_attempts", .integer = [](Config& c) -> int& { return c.jobs.max_attempts; },
       .min = 1, .max = 1000},
      {.section = "jobs", .name = "prefetch", .integer = [](Config& c) -> int& { return c.jobs.prefetch; },
       .min = 0, .max = 100000},
      {.section = "jobs", .name = "max_payload_bytes",
       .integer = [](Config& c) -> int& { return c.jobs.max_payload_bytes; }, .min = 16, .max = 64 << 20},
      {.section = "jobs", .name = "poll_interval_ms",
       .integer = [](Config& c) -> int& { return c.jobs.poll_interval_ms; }, .min = 50, .max = 3600000},
      {.section = "jobs", .name = "lease_ms", .integer = [](Config& c) -> int& { return c.jobs.lease_ms; },
       .min = 500, .max = 86400000},
      {.section = "jobs", .name = "retry_base_ms",
       .integer = [](Config& c) -> int& { return c.jobs.retry_base_ms; }, .min = 1, .max = 86400000},
      {.section = "jobs", .name = "retry_max_ms", .integer = [](Config& c) -> int& { return c.jobs.retry_max_ms; },
       .min = 1, .max = 604800000},
      {.section = "jobs", .name = "retention_hours",
       .integer = [](Config& c) -> int& { return c.jobs.retention_hours; }, .min = 0, .max = 87600},
      {.section = "jobs", .name = "max_enqueues_per_second",
       .integer = [](Config& c) -> int& { return c.jobs.max_enqueues_per_second; }, .min = 1, .max = 1000000},
      {.section = "jobs", .name = "max_queued_per_app",
       .integer = [](Config& c) -> int& { return c.jobs.max_queued_per_app; }, .min = 1, .max = 1000000000},
      {.section = "health", .name = "mode", .text = [](Config& c) -> std::string& { return c.health.mode; },
       .choices = {"enforce", "off"}},
      {.section = "health", .name = "budget_ms",
       .integer = [](Config& c) -> int& { return c.health.budget_ms; }, .min = 1, .max = 86400000},
      {.section = "health", .name = "refill_ms_per_second",
       .integer = [](Config& c) -> int& { return c.health.refill_ms_per_second; }, .min = 1, .max = 86400000},
      {.section = "health", .name = "error_cost_ms",
       .integer = [](Config& c) -> int& { return c.health.error_cost_ms; }, .min = 0, .max = 86400000},
      {.section = "health", .name = "limit_cost_ms",
       .integer = [](Config& c) -> int& { return c.health.limit_cost_ms; }, .min = 0, .max = 86400000},
      {.section = "health", .name = "wall_cost_per_mille",
       .integer = [](Config& c) -> int& { return c.health.wall_cost_per_mille; }, .min = 0, .max = 1000},
      {.section = "health", .name = "degrade_below_percent",
       .integer = [](Config& c) -> int& { return c.health.degrade_below_percent; }, .min = 0, .max = 100},
      {.section = "health", .name = "degraded_max_calls",
       .integer = [](Config& c) -> int& { return c.health.degraded_max_calls; }, .min = 1, .max = 1000000},
      {.section = "health", .name = "suspend_seconds",
       .integer = [](Config& c) -> int& { return c.health.suspend_seconds; }, .min = 1, .max = 31536000},
      {.section = "health", .name = "max_suspensions",
       .integer = [](Config& c) -> int& { return c.health.max_suspensions; }, .min = 1, .max = 1000},
      {.section = "log", .name = "level", .text = [](Config& c) -> std::string& { return c.log.level; },
       .choices = {"trace", "debug", "info", "warn", "error", "critical", "off"}},
      {.section = "log", .name = "format", .text = [](Config& c) -> std::string& { return c.log.format; },
       .choices = {"text", "json"}},
      {.section = "log", .name = "app_max_line_bytes",
       .integer = [](Config& c) -> int& { return c.log.app_max_line_bytes; }, .min = 256, .max = 1 << 20},
      {.section = "log", .name = "app_lines_per_second",
       .integer = [](Config& c) -> int& { return c.log.app_lines_per_second; }, .min = 1, .max = 100000},
      {.section = "log", .name = "app_kept_lines",
       .integer = [](Config& c) -> int& { return c.log.app_kept_lines; }, .min = 0, .max = 100000},
      {.section = "log", .name = "app_kept_seconds",
       .integer = [](Config& c) -> int& { return c.log.app_kept_seconds; }, .min = 1, .max = 31536000},
      {.section = "server", .name = "shutdown_grace_ms",
       .integer = [](Config& c) -> int& { return c.server.shutdown_grace_ms; }, .min = 0, .max = 3600000},
      {.section = "server", .name = "reconcile_interval_ms",
       .integer = [](Config& c) -> int& { return c.server.reconcile_interval_ms; }, .min = 100, .max = 3600000},
  };
  return specs;
}

const KeySpec* find_key(std::string_view section, std::string_view name) {
  for (const auto& spec : key_specs()) {
    if (spec.section == section && spec.name == name) return &spec;
  }
  return nullptr;
}

const std::vector<EnvAlias>& env_aliases() {
  static const std::vector<EnvAlias> aliases = {
      {"DATABASE_URL", "database", "url"},
      {"REDIS_URL", "redis", "url"},
      {"MMDB_FILE_LOCATION", "geoip", "mmdb_path"},
      {"SITE_URL", "posthog", "api_url"},
      {"KAFKA_HOSTS", "kafka", "brokers"},
      {"KAFKA_CONSUMPTION_TOPIC", "kafka", "input_topic"},
      {"TASK_TIMEOUT", "runtime", "task_timeout_ms", 1000},
      {"WORKER_CONCURRENCY", "runtime", "threads"},
      {"LOG_LEVEL", "log", "level"},
  };
  return aliases;
}

}  // namespace ps::config
