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
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"

namespace ps::test {

class RuntimeHarness {
 public:
  explicit RuntimeHarness(runtime::RuntimeOptions options = fast_options());
  ~RuntimeHarness();

  // Options with short limits and setup backoff, so failures show quickly.
  static runtime::RuntimeOptions fast_options();

  // Writes an app bundle (plugin.json defaults to {"name": name}) and returns its folder.
  std::string write_app(const std::string& name, const std::map<std::string, std::string>& files);
  // An [[apps]] entry for the folder.
  static config::AppConfig entry(const std::string& path, std::vector<long long> teams, int order = 0,
                                 nlohmann::json values = nlohmann::json::object());

  void load(const std::vector<config::AppConfig>& apps) { runtime_->load(apps); }
  runtime::AppRuntime& runtime() { return *runtime_; }
  // Stops and starts the runtime again on the same database (a daemon restart).
  void restart(const std::vector<config::AppConfig>& apps);

  runtime::CallOutcome call(runtime::InstanceId id, const std::string& method, std::vector<std::string> args = {});
  runtime::AppInstance& only_instance();

  const TestDatabase& database() const { return db_; }
  db::Pool& pool() { return *pool_; }
  metrics::Registry& metrics() { return metrics_; }
  const TempDir& dir() const { return dir_; }

 private:
  runtime::RuntimeOptions options_;
  TempDir dir_;
  TestDatabase db_;
  std::unique_ptr<db::Pool> pool_;
  metrics::Registry metrics_;
  std::unique_ptr<runtime::AppRuntime> runtime_;
};

}  // namespace ps::test
