#include "runtime/app_registry.h"

#include <algorithm>
#include <future>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/pool.h"
#include "runtime/app_config.h"
#include "runtime/executor.h"
#include "runtime/module_graph.h"

namespace ps::runtime {

namespace {
const char* state_name(InstanceState s) {
  switch (s) {
    case InstanceState::Starting: return "starting";
    case InstanceState::Ready: return "ready";
    case InstanceState::SetupFailed: return "setup_failed";
    case InstanceState::Disabled: return "disabled";
    case InstanceState::Stopped: return "stopped";
  }
  return "unknown";
}
// A team's chain runs by `order`, ties broken by instance id.
bool runs_before(int order_a, InstanceId id_a, int order_b, InstanceId id_b) {
  return order_a != order_b ? order_a < order_b : id_a < id_b;
}

}  // namespace

AppRegistry::AppRegistry(InstanceEnvironment& env, Transpiler& transpiler, db::Pool* pool)
    : env_(env), transpiler_(transpiler), placement_(env.executor->size()), pool_(pool) {}

AppRegistry::~AppRegistry() = default;

InstanceId AppRegistry::instance_id(const std::string& app_name, long long team_id) {
  if (!pool_) return next_local_id_++;
  auto conn = pool_->acquire();
  pqxx::work tx(*conn);
  // The no-op update makes RETURNING give the existing row's id too.
  auto row = tx.exec_params1(
      "INSERT INTO app_instances (app_name, team_id) VALUES ($1, $2) "
      "ON CONFLICT (app_name, team_id) DO UPDATE SET app_name = EXCLUDED.app_name RETURNING id",
      app_name, team_id);
  tx.commit();
  return row[0].as<InstanceId>();
}

void AppRegistry::load(const std::vector<config::AppConfig>& apps) {
  // Every instance to start, by team, so each team's chain can be placed on
  // the JS threads as a whole.
  std::map<long long, std::vector<InstanceSettings>> chains;
  std::map<std::string, std::shared_ptr<const Bundle>> bundles;
  // The bundle that holds each app name per team: a name is the instance's
  // identity (its storage and jobs), so a second bundle of it is refused.
  std::map<std::pair<std::string, long long>, std::string> names;
  for (const auto& app : apps) {
    std::shared_ptr<const Bundle> bundle;
    try {
      auto& cached = bundles[app.path];
      if (!cached) {
        auto loaded = std::make_shared<Bundle>(load_bundle(app.path));
        prepare_modules(*loaded, transpiler_);
        cached = std::move(loaded);
      }
      bundle = cached;
    } catch (const std::exception& e) {
      spdlog::error("app {}: cannot load: {}", app.path, e.what());
      bundles.erase(app.path);
      for (auto team : app.teams) failed_.push_back({"", app.path, team, 0, "failed", e.what(), std::nullopt});
      continue;
    }
    auto resolved = resolve_app_config(*bundle, app.config);
    for (auto team : app.teams) {
      auto [holder, fresh] = names.try_emplace({bundle->manifest.name, team}, app.path);
      if (!fresh) {
        auto error = "another bundle named \"" + bundle->manifest.name + "\" is already installed for team " +
                     std::to_string(team) + " (" + holder->second + "); two would share one instance's storage and jobs";
        spdlog::error("app {}: refused: {}", app.path, error);
        failed_.push_back({bundle->manifest.name, app.path, team, 0, "failed", error, std::nullopt});
        continue;
      }
      if (!resolved.problems.empty()) {
        std::string error;
        for (const auto& p : resolved.problems) error += (error.empty() ? "" : "; ") + p;
        spdlog::error("app {} for team {}: disabled: invalid config: {}", bundle->manifest.name, team, error);
        failed_.push_back({bundle->manifest.name, app.path, team, 0, "disabled", "invalid config: " + error, std::nullopt});
        continue;
      }
      InstanceSettings settings;
      settings.bundle = bundle;
      settings.team_id = team;
      settings.order = app.order;
      settings.config_json = resolved.config.dump();
      settings.attachments_json = resolved.attachments.dump();
      settings.posthog_api = env_.posthog_api;
      if (!app.posthog_personal_api_key.empty()) {
        settings.posthog_api.personal_api_key = app.posthog_personal_api_key;
        settings.posthog_api.shared_key = false;
      }
      if (!app.posthog_project_api_key.empty()) settings.posthog_api.project_api_key = app.posthog_project_api_key;
      try {
        settings.id = instance_id(bundle->manifest.name, team);
      } catch (const std::exception& e) {
        spdlog::error("app {} for team {}: cannot register the instance: {}", bundle->manifest.name, team, e.what());
        failed_.push_back({bundle->manifest.name, app.path, team, 0, "failed", e.what(), std::nullopt});
        continue;
      }
      chains[team].push_back(std::move(settings));
    }
  }

  std::vector<std::shared_ptr<AppInstance>> started;
  std::vector<std::future<std::optional<std::string>>> ready;
  for (auto& [team, chain] : chains) {
    std::stable_sort(chain.begin(), chain.end(), [](const InstanceSettings& a, const InstanceSettings& b) {
      return runs_before(a.order, a.id, b.order, b.id);
    });
    auto threads = placement_.place(chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i) {
      chain[i].thread = threads[i];
      auto instance = std::make_shared<AppInstance>(std::move(chain[i]), env_);
      auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
      ready.push_back(promise->get_future());
      instance->start([promise](std::optional<std::string> error) { promise->set_value(std::move(error)); });
      started.push_back(instance);
    }
  }
  for (std::size_t i = 0; i < started.size(); ++i) {
    auto error = ready[i].get();
    if (!error) spdlog::info("app {} ready for team {}", started[i]->label(), started[i]->team_id());
  }
  std::lock_guard lock(mutex_);
  for (auto& instance : started) {
    instances_.push_back(instance);
    by_team_[instance->team_id()].push_back(instance);
  }
  for (auto& [team, list] : by_team_) {
    std::stable_sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      return runs_before(a->order(), a->id(), b->order(), b->id());
    });
  }
}

std::vector<std::shared_ptr<AppInstance>> AppRegistry::for_team(long long team_id) const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<AppInstance>> out;
  auto it = by_team_.find(team_id);
  if (it == by_team_.end()) return out;
  for (const auto& instance : it->second) {
    if (instance->state() != InstanceState::Disabled) out.push_back(instance);
  }
  return out;
}

std::shared_ptr<AppInstance> AppRegistry::find(InstanceId id) const {
  std::lock_guard lock(mutex_);
  for (const auto& instance : instances_) {
    if (instance->id() == id) return instance;
  }
  return nullptr;
}

std::vector<std::shared_ptr<AppInstance>> AppRegistry::all() const {
  std::lock_guard lock(mutex_);
  return instances_;
}

std::vector<InstanceStatus> AppRegistry::status() const {
  std::lock_guard lock(mutex_);
  auto out = failed_;
  for (const auto& i : instances_) {
    out.push_back({i->name(), i->source(), i->team_id(), i->id(), state_name(i->state()),
                   i->disabled_reason(), i->health()});
  }
  return out;
}

void AppRegistry::stop() {
  std::vector<std::future<void>> stopped;
  for (const auto& instance : all()) {
    auto promise = std::make_shared<std::promise<void>>();
    stopped.push_back(promise->get_future());
    instance->stop([promise] { promise->set_value(); });
  }
  for (auto& f : stopped) f.wait();
}

}  // namespace ps::runtime
