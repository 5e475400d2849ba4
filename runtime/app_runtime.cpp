#include "runtime/app_runtime.h"

#include "runtime/code_cache.h"
#include "runtime/executor.h"
#include "config/redis_url.h"
#include "runtime/geoip_database.h"
#include "runtime/postgres_storage.h"
#include "runtime/redis_cache.h"
#include "runtime/transpiler.h"
#include "runtime/watchdog.h"

namespace ps::runtime {

namespace {

// "host:port" of an http(s) URL, as the fetch allow-list names a destination.
std::string host_and_port(const std::string& url) {
  bool tls = url.rfind("https://", 0) == 0;
  auto rest = url.substr(url.find("://") + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string::npos) authority = authority.substr(at + 1);
  bool has_port = authority.rfind(':') != std::string::npos && authority.back() != ']';
  return has_port ? authority : authority + (tls ? ":443" : ":80");
}

}  // namespace

RuntimeOptions runtime_options(const config::Config& config) {
  RuntimeOptions o;
  o.threads = config.runtime.threads;
  o.limits.cpu = std::chrono::milliseconds(config.runtime.cpu_limit_ms);
  o.limits.wall = std::chrono::milliseconds(config.runtime.task_timeout_ms);
  o.limits.heap_bytes = static_cast<std::size_t>(config.runtime.heap_limit_mb) << 20;
  o.fetch.default_timeout = std::chrono::milliseconds(config.runtime.fetch_timeout_ms);
  o.fetch.max_timeout = std::chrono::milliseconds(config.runtime.task_timeout_ms);
  o.fetch.max_response_bytes = static_cast<std::size_t>(config.runtime.fetch_max_response_mb) << 20;
  o.fetch.ca_file = config.runtime.fetch_ca_file;
  o.fetch.allowed_hosts = config.runtime.fetch_allowed_hosts;
  o.max_job_payload_bytes = static_cast<std::size_t>(config.jobs.max_payload_bytes);
  o.max_event_depth = static_cast<std::size_t>(config.kafka.max_nesting_depth);
  o.console.max_line_bytes = static_cast<std::size_t>(config.log.app_max_line_bytes);
  o.console.lines_per_second = config.log.app_lines_per_second;
  o.kept_log.max_lines = static_cast<std::size_t>(config.log.app_kept_lines);
  o.kept_log.retention = std::chrono::seconds(config.log.app_kept_seconds);
  o.max_storage_value_bytes = static_cast<std::size_t>(config.runtime.storage_max_value_bytes);
  o.max_storage_total_bytes = static_cast<long long>(config.runtime.storage_max_total_mb) << 20;
  o.max_enqueues_per_second = config.jobs.max_enqueues_per_second;
  // The URL was checked when the config was loaded.
  auto parsed = config::parse_redis_url(config.redis.url);
  if (auto* endpoint = std::get_if<config::RedisEndpoint>(&parsed)) {
    redis::ClientOptions r;
    r.endpoint = *endpoint;
    r.display = config::redact_redis_url(config.redis.url);
    r.connections = config.redis.pool_size;
    r.connect_timeout = std::chrono::milliseconds(config.redis.connect_timeout_ms);
    r.command_timeout = std::chrono::milliseconds(config.redis.command_timeout_ms);
    r.max_pending = static_cast<std::size_t>(config.redis.max_pending);
    o.redis = std::move(r);
  }
  o.max_cache_value_bytes = static_cast<std::size_t>(config.redis.max_value_bytes);
  o.redis_key_prefix = config.redis.key_prefix;
  o.geoip_mmdb_path = config.geoip.mmdb_path;
  o.posthog_api.url = config.posthog.api_url;
  o.posthog_api.personal_api_key = config.posthog.api_key;
  o.posthog_api.project_api_key = config.posthog.project_api_key;
  o.max_capture_hops = config.posthog.max_capture_hops;
  o.max_captures_per_second = config.posthog.max_captures_per_second;
  o.max_capture_bytes = static_cast<std::size_t>(config.kafka.max_message_bytes);
  o.max_concurrent_fetches = static_cast<std::size_t>(config.runtime.fetch_max_concurrent);
  o.max_pending_storage_calls = static_cast<std::size_t>(config.runtime.storage_max_pending);
  const auto& h = config.health;
  o.health.enabled = h.mode == "enforce";
  o.health.budget_seconds = h.budget_ms / 1000.0;
  o.health.refill_per_second = h.refill_ms_per_second / 1000.0;
  o.health.error_cost_seconds = h.error_cost_ms / 1000.0;
  o.health.limit_cost_seconds = h.limit_cost_ms / 1000.0;
  o.health.wall_weight = h.wall_cost_per_mille / 1000.0;
  o.health.degrade_below = h.degrade_below_percent / 100.0;
  o.health.degraded_max_calls = h.degraded_max_calls;
  o.health.suspend_for = std::chrono::seconds(h.suspend_seconds);
  o.health.max_suspensions = h.max_suspensions;
  return o;
}

AppRuntime::AppRuntime(const RuntimeOptions& options, db::Pool* pool, metrics::Registry& metrics, JobSink* jobs,
                       EventCapture* capture)
    : js_(std::make_unique<Executor>(options.threads, "js")),
      blocking_(std::make_unique<Executor>(options.blocking_threads, "storage")),
      watchdog_(std::make_unique<Watchdog>()),
      // Transpiling runs once per bundle version, not per event: the call limit bounds it.
      transpiler_(std::make_unique<Transpiler>(*watchdog_, options.limits.wall)),
      code_cache_(std::make_unique<CodeCache>()),
      fetcher_(std::make_unique<BeastFetcher>(options.fetch)) {
  // The analytics API is the operator's own destination, often on a private
  // address: posthog.api may reach it; apps' fetch may not.
  auto api_fetch = options.fetch;
  if (!options.posthog_api.url.empty()) api_fetch.allowed_hosts.push_back(host_and_port(options.posthog_api.url));
  api_fetcher_ = std::make_unique<BeastFetcher>(api_fetch);
  if (pool) storage_ = std::make_unique<PostgresStorage>(*pool, *blocking_, options.max_storage_total_bytes);
  if (!options.geoip_mmdb_path.empty()) geoip_ = std::make_unique<GeoIpDatabase>(options.geoip_mmdb_path);
  if (options.redis) {
    redis_ = std::make_unique<redis::Client>(*options.redis, metrics);
    cache_ = std::make_unique<RedisCache>(*redis_, options.redis_key_prefix);
  }
  env_.executor = js_.get();
  env_.watchdog = watchdog_.get();
  env_.code_cache = code_cache_.get();
  env_.host = HostServices{fetcher_.get(), storage_.get(), jobs,   cache_.get(),
                           geoip_.get(),   capture,        api_fetcher_.get()};
  env_.limits = options.limits;
  env_.metrics = &metrics;
  env_.setup_attempts = options.setup_attempts;
  env_.setup_backoff = options.setup_backoff;
  env_.setup_backoff_max = options.setup_backoff_max;
  env_.max_job_payload_bytes = options.max_job_payload_bytes;
  env_.max_event_depth = options.max_event_depth;
  env_.console = options.console;
  env_.kept_log = options.kept_log;
  env_.max_storage_value_bytes = options.max_storage_value_bytes;
  env_.max_cache_value_bytes = options.max_cache_value_bytes;
  env_.max_enqueues_per_second = options.max_enqueues_per_second;
  env_.posthog_api = options.posthog_api;
  env_.max_capture_hops = options.max_capture_hops;
  env_.max_captures_per_second = options.max_captures_per_second;
  env_.max_capture_bytes = options.max_capture_bytes;
  env_.max_concurrent_fetches = options.max_concurrent_fetches;
  env_.max_pending_storage_calls = options.max_pending_storage_calls;
  env_.health = options.health;
  registry_ = std::make_unique<AppRegistry>(env_, *transpiler_, pool);
  chain_ = std::make_unique<EventChain>(*registry_);
}

AppRuntime::~AppRuntime() {
  // Instances hold sandboxes that must be disposed on their JS threads.
  registry_->stop();
  registry_.reset();
  // Host work still under way posts its completion to a JS thread: finish
  // it (an app's storage writes are kept) while those threads are there to
  // take the (now empty-handed) completions, then stop the JS threads. The
  // blocking threads run the storage's queries: they finish before it goes.
  // Redis commands still queued fail then, the same way.
  blocking_.reset();
  storage_.reset();
  cache_.reset();
  redis_.reset();
  fetcher_.reset();
  api_fetcher_.reset();
  js_.reset();
}

}  // namespace ps::runtime
