#pragma once
// A whole app runtime for a test: a fresh migrated database, a pool, metrics,
// and apps written into a temporary folder.

#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "db/pool.h"
#include "metrics/registry.h"
#include "runtime/app_runtime.h"
#include "scheduler/job_enqueuer.h"
#include "scheduler/job_queue.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace ps::test {

class RuntimeHarness {
 public:
  // `capture` (posthog.capture's producer) must outlive the harness.
  explicit RuntimeHarness(runtime::RuntimeOptions options = fast_options(), runtime::EventCapture* capture = nullptr);
  // With the job queue: jobs enqueued by apps are stored and run.
  // `enqueuer`'s database URL is filled in.
  static std::unique_ptr<RuntimeHarness> with_jobs(runtime::RuntimeOptions options = fast_options(),
                                                   scheduler::EnqueuerOptions enqueuer = {});
  ~RuntimeHarness();

  // Options with short limits and setup backoff, so failures show quickly.
  static runtime::RuntimeOptions fast_options();

  // Writes an app bundle (plugin.json defaults to {"name": name}) and returns its folder.
  std::string write_app(const std::string& name, const std::map<std::string, std::string>& files);
  // An [[apps]] entry for the folder.
  static config::AppConfig entry(const std::string& path, std::vector<long long> teams, int order = 0,
                                 nlohmann::json values = nlohmann::json::object());

  // Loads the apps (and starts the job queue, when there is one).
  void load(const std::vector<config::AppConfig>& apps);
  // Queue options with short retries and leases, so tests see them quickly.
  scheduler::JobQueueOptions& queue_options() { return queue_options_; }
  runtime::AppRuntime& runtime() { return *runtime_; }
  const runtime::RuntimeOptions& options() const { return options_; }
  // Stops the job queue as a daemon's shutdown does (the runtime goes on).
  void stop_queue(std::chrono::milliseconds grace) { queue_->stop(grace); }
  // Stops and starts the runtime again on the same database (a daemon restart).
  void restart(const std::vector<config::AppConfig>& apps);

  // Runs `event` through `team`'s chain: {"event": ... or null, "dropped_by": "...", "failed": [...],
  // "skipped": [...]}.
  nlohmann::json run_chain(long long team, const std::string& event);
  runtime::CallOutcome call(runtime::InstanceId id, const std::string& method, std::vector<std::string> args = {});
  runtime::AppInstance& only_instance();

  const TestDatabase& database() const { return db_; }
  // Runs `sql` and returns the first column of the first row as text ("" when none or NULL).
  std::string query(const std::string& sql);
  // Polls `sql` until it returns `expected`, up to `timeout`; returns the last value.
  std::string wait_for(const std::string& sql, const std::string& expected,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));
  db::Pool& pool() { return *pool_; }
  metrics::Registry& metrics() { return metrics_; }
  const TempDir& dir() const { return dir_; }

 private:
  runtime::RuntimeOptions options_;
  TempDir dir_;
  TestDatabase db_;
  std::unique_ptr<db::Pool> pool_;
  metrics::Registry metrics_;
  bool jobs_ = false;
  scheduler::EnqueuerOptions enqueuer_options_;
  scheduler::JobQueueOptions queue_options_;
  std::unique_ptr<scheduler::JobEnqueuer> enqueuer_;
  std::unique_ptr<runtime::AppRuntime> runtime_;
  std::unique_ptr<scheduler::JobQueue> queue_;
  runtime::EventCapture* capture_ = nullptr;
  void make_runtime();
  void stop_runtime();
};

}  // namespace ps::test
