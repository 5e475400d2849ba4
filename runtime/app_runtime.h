#pragma once
// The app runtime as one part: JS threads, the watchdog, host services
// (fetch, storage, jobs), the registry of instances and the event chain.
// Needs a live Engine.

#include <chrono>
#include <memory>

#include "config/config.h"
#include "runtime/app_registry.h"
#include "runtime/event_chain.h"
#include "runtime/http_fetcher.h"
#include "runtime/limits.h"
#include "redis/client.h"

namespace ps::db {
class Pool;
}
namespace ps::metrics {
class Registry;
}

namespace ps::runtime {

class Executor;
class Watchdog;
class PostgresStorage;
class RedisCache;
class GeoIpDatabase;
class Transpiler;
class CodeCache;

struct RuntimeOptions {
  int threads = 0;  // 0 = one per core
  Limits limits;
  FetchOptions fetch;
  // Start-up waits for each instance's first setup attempt only (instances
  // load side by side, one per JS thread at a time); one that failed goes
  // on retrying in the background and becomes ready on its own.
  int setup_attempts = 1;
  std::chrono::milliseconds setup_backoff{1000};
  std::chrono::milliseconds setup_backoff_max{300000};
  int blocking_threads = 4;  // for storage queries
  std::size_t max_job_payload_bytes = 1u << 20;
  std::size_t max_event_depth = 512;  // kafka.max_nesting_depth: deeper processEvent results are refused
  ConsoleLimits console;
  InstanceLogLimits kept_log;
  std::size_t max_storage_value_bytes = 1u << 20;
  long long max_storage_total_bytes = 64ll << 20;  // per instance
  double max_enqueues_per_second = 1000;
  // meta.cache and meta.utils.cursor; nullopt: they reject every call.
  std::optional<redis::ClientOptions> redis;
  std::string redis_key_prefix;
  std::string geoip_mmdb_path;  // empty: meta.geoip rejects
  std::size_t max_cache_value_bytes = 1u << 20;
  // The posthog global.
  PosthogApiAccess posthog_api;
  int max_capture_hops = 10;
  double max_captures_per_second = 1000;
  std::size_t max_capture_bytes = 1u << 20;
  std::size_t max_concurrent_fetches = 64;      // per instance
  std::size_t max_pending_storage_calls = 1000;  // per instance
  HealthPolicy health;
};

RuntimeOptions runtime_options(const config::Config& config);

class AppRuntime {
 public:
  // Throws std::runtime_error when the GeoIP database cannot be opened.
  // `pool` may be null (no storage, in-process instance ids); `jobs` and
  // `capture` may be null (their calls then reject). Their completions post
  // into the runtime's JS threads: after stop(), destroy them before the runtime.
  AppRuntime(const RuntimeOptions& options, db::Pool* pool, metrics::Registry& metrics, JobSink* jobs = nullptr,
             EventCapture* capture = nullptr);
  ~AppRuntime();
  AppRuntime(const AppRuntime&) = delete;
  AppRuntime& operator=(const AppRuntime&) = delete;

  void load(const std::vector<config::AppConfig>& apps) { registry_->load(apps); }
  // teardownPlugin everywhere; further calls fail as unavailable.
  void stop() { registry_->stop(); }

  AppRegistry& registry() { return *registry_; }
  const EventChain& chain() const { return *chain_; }
  Executor& executor() { return *js_; }
  // Null when the runtime has no Redis.
  const redis::Client* redis() const { return redis_.get(); }

 private:
  std::unique_ptr<Executor> js_;
  std::unique_ptr<Executor> blocking_;
  std::unique_ptr<Watchdog> watchdog_;
  std::unique_ptr<Transpiler> transpiler_;
  std::unique_ptr<CodeCache> code_cache_;
  std::unique_ptr<BeastFetcher> fetcher_;
  std::unique_ptr<BeastFetcher> api_fetcher_;  // posthog.api: may also reach posthog.api_url
  std::unique_ptr<PostgresStorage> storage_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisCache> cache_;
  std::unique_ptr<GeoIpDatabase> geoip_;
  InstanceEnvironment env_;
  std::unique_ptr<AppRegistry> registry_;
  std::unique_ptr<EventChain> chain_;
};

}  // namespace ps::runtime
