#pragma once
// Every app instance the daemon runs: loads the bundles, checks each
// instance's config, gives it its stable id from Postgres, starts it, and
// answers "which instances does team T run, in order". One broken bundle or
// instance is reported and skipped; it never stops the others.
//
// The config file's apps are a fixed set, loaded once. Installs made through
// the admin API are brought up to date by reconcile(), while events flow: a
// changed install's new instance (same id) is set up beside the old one and
// takes its place only once ready; the old one is retired: it finishes the
// calls that hold it, then runs teardownPlugin and goes.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/config.h"
#include "runtime/app_instance.h"
#include "runtime/chain_placement.h"

namespace ps::db {
class Pool;
}
namespace ps::base {
class Periodic;
}

namespace ps::runtime {

struct InstanceStatus {
  std::string app;
  std::string path;
  long long team_id = 0;
  InstanceId id = 0;
  std::string state;  // starting, ready, setup_failed, disabled, stopped, failed
  std::string error;  // for a running install: why its latest revision does not run
  std::optional<HealthSnapshot> health;  // for an instance that exists
  long long install_id = 0;  // 0: from the config file
  int version = 0;           // the uploaded version it runs (0: from a file)
  std::string install_updated_at;  // the install's change it runs
  std::uint64_t calls = 0;     // calls into its JS so far
  std::uint64_t failures = 0;  // of which failed
};

// A status entry; the other fields as each case fills them.
InstanceStatus instance_status(std::string app, std::string path, long long team_id, std::string state, std::string error,
                           long long install_id);

class Transpiler;

class AppRegistry {
 public:
  // Without a pool (check-app, some tests) ids are numbered in-process.
  // Bundles are transpiled with `transpiler`, once each.
  AppRegistry(InstanceEnvironment& env, Transpiler& transpiler, db::Pool* pool);
  ~AppRegistry();

  // Loads and starts every entry; returns when each instance is ready or disabled.
  void load(const std::vector<config::AppConfig>& apps);
  // Brings the installs (entries with an install_id) to `installs`: new
  // ones start, changed ones are replaced once their new instance is ready
  // (a new instance that does not get ready is dropped and the old one
  // keeps running), missing ones retire. An entry whose revision this
  // registry already ran or tried needs no archive. Blocks while new
  // instances set up; one call at a time.
  void reconcile(const std::vector<config::AppConfig>& installs);
  // The revision of an install last run or tried here, if any.
  std::optional<std::string> revision(long long install_id) const;

  // Ready instances for a team, by `order` (then id).
  std::vector<std::shared_ptr<AppInstance>> for_team(long long team_id) const;
  std::shared_ptr<AppInstance> find(InstanceId id) const;
  std::vector<std::shared_ptr<AppInstance>> all() const;
  std::vector<InstanceStatus> status() const;
  // teardownPlugin on every instance (retiring ones too), waiting for all.
  void stop();

 private:
  // An install made through the admin API, as this registry runs it.
  struct Installed {
    std::shared_ptr<AppInstance> instance;  // null: none runs
    std::string revision;                   // the latest one tried
    InstanceStatus problem;                 // why `revision` does not run (state empty: it does)
    std::string updated_at;                 // of the install `instance` runs
  };
  // An instance no longer in any chain, finishing what holds it.
  struct Retiring {
    std::shared_ptr<AppInstance> instance;
    std::chrono::steady_clock::time_point deadline;
  };
  using Bundles = std::map<std::string, std::variant<std::shared_ptr<const Bundle>, std::string>>;

  InstanceId instance_id(const std::string& app_name, long long team_id);
  // The settings of `app`'s instance for `team`, or why it cannot run.
  std::variant<InstanceSettings, InstanceStatus> prepare(const config::AppConfig& app, long long team,
                                                         Bundles& bundles);
  void reload(const config::AppConfig& install, Bundles& bundles);
  // Counts a change applied: added, replaced, refused (the old state stays), removed.
  void count_change(const char* outcome);
  // Starts each instance and waits until each is ready or not: the errors.
  static std::vector<std::optional<std::string>> start_all(const std::vector<std::shared_ptr<AppInstance>>& instances);
  // Under mutex_: puts `instance` in the chains in place of `old` (if any).
  void put_in_chains(const std::shared_ptr<AppInstance>& instance, const std::shared_ptr<AppInstance>& old);
  void retire(std::shared_ptr<AppInstance> instance);
  // Stops the retiring instances nothing holds any more (or past their deadline).
  void collect_retired();

  InstanceEnvironment& env_;
  Transpiler& transpiler_;
  ChainPlacement placement_;
  db::Pool* pool_;
  InstanceId next_local_id_ = 1;
  // Held by load() and reconcile() (one change at a time), with what only they touch:
  std::mutex change_mutex_;
  // Which entry holds each app name for each team: the name is the
  // instance's identity (its storage and jobs), so a second one is refused.
  // The value names the holder: its path, and its install id (0: config file).
  std::map<std::pair<std::string, long long>, std::pair<std::string, long long>> names_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<AppInstance>> instances_;
  std::map<long long, std::vector<std::shared_ptr<AppInstance>>> by_team_;
  std::vector<InstanceStatus> failed_;  // config-file entries that never became an instance
  std::map<long long, Installed> installs_;
  std::vector<Retiring> retiring_;
  bool stopped_ = false;
  // Last: it calls collect_retired() until it goes, first.
  std::unique_ptr<base::Periodic> collector_;
};

}  // namespace ps::runtime
