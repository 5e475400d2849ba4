#pragma once
// Every app instance the config installs: loads the bundles, checks each
// instance's config, gives it its stable id from Postgres, starts it, and
// answers "which instances does team T run, in order". One broken bundle or
// instance is reported and skipped; it never stops the others.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/app_instance.h"
#include "runtime/chain_placement.h"

namespace ps::db {
class Pool;
}

namespace ps::runtime {

struct InstanceStatus {
  std::string app;
  std::string path;
  long long team_id = 0;
  InstanceId id = 0;
  std::string state;  // starting, ready, disabled, stopped, failed
  std::string error;
  std::optional<HealthSnapshot> health;  // for an instance that exists
};

class Transpiler;

class AppRegistry {
 public:
  // Without a pool (check-app, some tests) ids are numbered in-process.
  // Bundles are transpiled with `transpiler`, once each.
  AppRegistry(InstanceEnvironment& env, Transpiler& transpiler, db::Pool* pool);
  ~AppRegistry();

  // Loads and starts every entry; returns when each instance is ready or disabled.
  void load(const std::vector<config::AppConfig>& apps);
  // Ready instances for a team, by `order` (then id).
  std::vector<std::shared_ptr<AppInstance>> for_team(long long team_id) const;
  std::shared_ptr<AppInstance> find(InstanceId id) const;
  std::vector<std::shared_ptr<AppInstance>> all() const;
  std::vector<InstanceStatus> status() const;
  // teardownPlugin on every instance, waiting for all.
  void stop();

 private:
  InstanceId instance_id(const std::string& app_name, long long team_id);

  InstanceEnvironment& env_;
  Transpiler& transpiler_;
  ChainPlacement placement_;
  db::Pool* pool_;
  InstanceId next_local_id_ = 1;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<AppInstance>> instances_;
  std::map<long long, std::vector<std::shared_ptr<AppInstance>>> by_team_;
  std::vector<InstanceStatus> failed_;  // entries that never became an instance
};

}  // namespace ps::runtime
