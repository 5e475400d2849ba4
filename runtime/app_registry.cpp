#include "runtime/app_registry.h"

#include <algorithm>
#include <future>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "base/periodic.h"
#include "db/pool.h"
#include "metrics/registry.h"
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

InstanceStatus instance_status(std::string app, std::string path, long long team_id, std::string state, std::string error,
                           long long install_id) {
  InstanceStatus s;
  s.app = std::move(app);
  s.path = std::move(path);
  s.team_id = team_id;
  s.state = std::move(state);
  s.error = std::move(error);
  s.install_id = install_id;
  return s;
}

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

std::variant<InstanceSettings, InstanceStatus> AppRegistry::prepare(const config::AppConfig& app, long long team,
                                                                   Bundles& bundles) {
  auto failure = [&](std::string name, std::string state, std::string error) {
    return instance_status(std::move(name), app.path, team, std::move(state), std::move(error), app.install_id);
  };
  // Installs of one version share its archive, and so one bundle; a file's
  // bundle is known by its path.
  auto key = app.archive ? "archive@" + std::to_string(reinterpret_cast<std::uintptr_t>(app.archive.get())) : app.path;
  auto& cached = bundles[key];
  if (cached.index() == 0 && !std::get<0>(cached)) {
    try {
      auto loaded = std::make_shared<Bundle>(app.archive ? bundle_from_archive(*app.archive, app.path)
                                                         : load_bundle(app.path));
      prepare_modules(*loaded, transpiler_);
      cached = std::shared_ptr<const Bundle>(std::move(loaded));
    } catch (const std::exception& e) {
      spdlog::error("app {}: cannot load: {}", app.path, e.what());
      cached = std::string(e.what());
    }
  }
  if (const auto* error = std::get_if<std::string>(&cached)) return failure("", "failed", *error);
  auto bundle = std::get<0>(cached);
  const auto& name = bundle->manifest.name;

  auto [holder, fresh] = names_.try_emplace({name, team}, app.path, app.install_id);
  // Only an install's own next revision may hold its name again.
  bool same_install = app.install_id != 0 && holder->second.second == app.install_id;
  if (!fresh && !same_install) {
    auto error = "another bundle named \"" + name + "\" is already installed for team " + std::to_string(team) +
                 " (" + holder->second.first + "); two would share one instance's storage and jobs";
    spdlog::error("app {}: refused: {}", app.path, error);
    return failure(name, "failed", error);
  }
  // An install made over the API names no file of this machine.
  auto resolved = resolve_app_config(*bundle, app.config,
                                     app.archive ? AttachmentFiles::bundle_only
                                                 : AttachmentFiles::bundle_or_absolute_path);
  if (!resolved.problems.empty()) {
    std::string error;
    for (const auto& p : resolved.problems) error += (error.empty() ? "" : "; ") + p;
    spdlog::error("app {} for team {}: disabled: invalid config: {}", name, team, error);
    return failure(name, "disabled", "invalid config: " + error);
  }
  InstanceSettings settings;
  settings.bundle = bundle;
  settings.team_id = team;
  settings.order = app.order;
  settings.version = app.version;
  settings.config_json = resolved.config.dump();
  settings.attachments_json = resolved.attachments.dump();
  settings.posthog_api = env_.posthog_api;
  if (!app.posthog_personal_api_key.empty()) {
    settings.posthog_api.personal_api_key = app.posthog_personal_api_key;
    settings.posthog_api.shared_key = false;
  }
  if (!app.posthog_project_api_key.empty()) settings.posthog_api.project_api_key = app.posthog_project_api_key;
  try {
    settings.id = instance_id(name, team);
  } catch (const std::exception& e) {
    spdlog::error("app {} for team {}: cannot register the instance: {}", name, team, e.what());
    return failure(name, "failed", e.what());
  }
  return settings;
}

std::vector<std::optional<std::string>> AppRegistry::start_all(
    const std::vector<std::shared_ptr<AppInstance>>& instances) {
  std::vector<std::future<std::optional<std::string>>> ready;
  for (const auto& instance : instances) {
    auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
    ready.push_back(promise->get_future());
    instance->start([promise](std::optional<std::string> error) { promise->set_value(std::move(error)); });
  }
  std::vector<std::optional<std::string>> errors;
  for (std::size_t i = 0; i < instances.size(); ++i) {
    errors.push_back(ready[i].get());
    if (!errors.back()) spdlog::info("app {} ready for team {}", instances[i]->label(), instances[i]->team_id());
  }
  return errors;
}

void AppRegistry::load(const std::vector<config::AppConfig>& apps) {
  std::lock_guard change(change_mutex_);
  // Every instance to start, by team, so each team's chain can be placed on
  // the JS threads as a whole.
  std::map<long long, std::vector<std::pair<InstanceSettings, const config::AppConfig*>>> chains;
  std::vector<std::pair<const config::AppConfig*, InstanceStatus>> problems;
  Bundles bundles;
  for (const auto& app : apps) {
    for (auto team : app.teams) {
      auto prepared = prepare(app, team, bundles);
      if (auto* problem = std::get_if<InstanceStatus>(&prepared)) {
        problems.emplace_back(&app, std::move(*problem));
      } else {
        chains[team].emplace_back(std::move(std::get<InstanceSettings>(prepared)), &app);
      }
    }
  }

  std::vector<std::shared_ptr<AppInstance>> started;
  std::vector<const config::AppConfig*> entries;
  for (auto& [team, chain] : chains) {
    std::stable_sort(chain.begin(), chain.end(), [](const auto& a, const auto& b) {
      return runs_before(a.first.order, a.first.id, b.first.order, b.first.id);
    });
    auto threads = placement_.place(chain.size());
    for (std::size_t i = 0; i < chain.size(); ++i) {
      chain[i].first.thread = threads[i];
      started.push_back(std::make_shared<AppInstance>(std::move(chain[i].first), env_));
      entries.push_back(chain[i].second);
    }
  }
  start_all(started);
  std::lock_guard lock(mutex_);
  for (auto& [app, problem] : problems) {
    if (app->install_id) installs_[app->install_id] = {nullptr, app->revision, std::move(problem), ""};
    else failed_.push_back(std::move(problem));
  }
  for (std::size_t i = 0; i < started.size(); ++i) {
    put_in_chains(started[i], nullptr);
    if (entries[i]->install_id) {
      installs_[entries[i]->install_id] = {started[i], entries[i]->revision, {}, entries[i]->updated_at};
    }
  }
}

void AppRegistry::reconcile(const std::vector<config::AppConfig>& installs) {
  std::lock_guard change(change_mutex_);
  Bundles bundles;
  std::map<long long, bool> wanted;
  for (const auto& install : installs) {
    wanted[install.install_id] = true;
    if (revision(install.install_id) == install.revision) continue;
    reload(install, bundles);
  }
  std::vector<std::shared_ptr<AppInstance>> gone;
  {
    std::lock_guard lock(mutex_);
    for (auto it = installs_.begin(); it != installs_.end();) {
      if (wanted.count(it->first)) {
        ++it;
        continue;
      }
      if (it->second.instance) {
        put_in_chains(nullptr, it->second.instance);
        gone.push_back(it->second.instance);
      }
      std::erase_if(names_, [id = it->first](const auto& entry) { return entry.second.second == id; });
      it = installs_.erase(it);
    }
  }
  for (auto& instance : gone) {
    spdlog::info("app {} for team {}: uninstalled or disabled; it stops once its calls are done", instance->label(),
                 instance->team_id());
    count_change("removed");
    retire(std::move(instance));
  }
}

void AppRegistry::count_change(const char* outcome) {
  if (!env_.metrics) return;
  env_.metrics
      ->counter("plugin_server_install_changes_total",
                "Changes of installs made through the admin API, as this daemon applied them.", {{"outcome", outcome}})
      .inc();
}

void AppRegistry::reload(const config::AppConfig& install, Bundles& bundles) {
  long long team = install.teams.empty() ? 0 : install.teams.front();
  std::shared_ptr<AppInstance> old;
  {
    std::lock_guard lock(mutex_);
    if (auto it = installs_.find(install.install_id); it != installs_.end()) old = it->second.instance;
  }
  // Records why `install.revision` does not run; the old instance, if any, keeps running.
  auto refuse = [&](InstanceStatus problem) {
    count_change("refused");
    if (old) {
      problem.error = install.path + " did not start, the running instance stays: " + problem.error;
      spdlog::error("app {} for team {}: {}", old->label(), team, problem.error);
    }
    std::lock_guard lock(mutex_);
    auto& entry = installs_[install.install_id];
    entry = {old, install.revision, std::move(problem), old ? entry.updated_at : ""};
  };
  auto prepared = prepare(install, team, bundles);
  if (auto* problem = std::get_if<InstanceStatus>(&prepared)) return refuse(std::move(*problem));
  auto& settings = std::get<InstanceSettings>(prepared);
  if (old) {
    settings.thread = old->thread();
  } else {
    // Beside the team's chain, which stays on as few threads as it was.
    auto chain = for_team(team);
    settings.thread = chain.empty() ? placement_.place(1).front() : chain.back()->thread();
  }
  auto instance = std::make_shared<AppInstance>(std::move(settings), env_);
  auto error = start_all({instance}).front();
  if (error && old) {
    instance->stop([] {});
    return refuse(instance_status(instance->name(), install.path, team, "failed", *error, install.install_id));
  }
  {
    std::lock_guard lock(mutex_);
    put_in_chains(instance, old);
    installs_[install.install_id] = {instance, install.revision, {}, install.updated_at};
  }
  count_change(old ? "replaced" : "added");
  if (old) {
    spdlog::info("app {} for team {}: {} takes over; the previous instance stops once its calls are done",
                 instance->label(), team, install.path);
    retire(std::move(old));
  }
}

void AppRegistry::put_in_chains(const std::shared_ptr<AppInstance>& instance, const std::shared_ptr<AppInstance>& old) {
  if (old) {
    std::erase(instances_, old);
    std::erase(by_team_[old->team_id()], old);
  }
  if (!instance) return;
  instances_.push_back(instance);
  auto& chain = by_team_[instance->team_id()];
  chain.push_back(instance);
  std::stable_sort(chain.begin(), chain.end(), [](const auto& a, const auto& b) {
    return runs_before(a->order(), a->id(), b->order(), b->id());
  });
}

std::optional<std::string> AppRegistry::revision(long long install_id) const {
  std::lock_guard lock(mutex_);
  auto it = installs_.find(install_id);
  if (it == installs_.end()) return std::nullopt;
  return it->second.revision;
}

void AppRegistry::retire(std::shared_ptr<AppInstance> instance) {
  // Its export buffer goes to the job queue now; what comes in later goes at its stop.
  instance->flush_exports();
  // Every call holding it ends within the wall-clock limit; a chain of
  // several could hold it longer, so there is room for a few.
  auto deadline = std::chrono::steady_clock::now() + 4 * env_.limits.wall + std::chrono::seconds(10);
  std::lock_guard lock(mutex_);
  if (stopped_) return;  // stop() has stopped it with the rest
  retiring_.push_back({std::move(instance), deadline});
  if (!collector_) {
    collector_ = std::make_unique<base::Periodic>(std::chrono::milliseconds(100), [this] { collect_retired(); });
  }
}

void AppRegistry::collect_retired() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<AppInstance>> done;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(retiring_, [&](Retiring& r) {
      // Nothing else holds it: no event's chain, job or queued call can reach it again.
      bool unused = r.instance.use_count() == 1;
      bool idle = r.instance->state() != InstanceState::Ready;  // takes no calls anyway
      if (!unused && !idle && now < r.deadline) return false;
      if (!unused && !idle) {
        spdlog::warn("app {} for team {}: still in use after its replacement took over; stopped anyway",
                     r.instance->label(), r.instance->team_id());
      }
      done.push_back(std::move(r.instance));
      return true;
    });
  }
  for (auto& instance : done) {
    instance->flush_exports();
    instance->stop([label = instance->label(), team = instance->team_id()] {
      spdlog::info("app {} for team {}: previous instance stopped", label, team);
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
  // Each running install's id and problem, by its instance.
  std::map<const AppInstance*, std::pair<long long, const Installed*>> installed;
  for (const auto& [id, install] : installs_) {
    if (install.instance) installed[install.instance.get()] = {id, &install};
    else out.push_back(install.problem);
  }
  for (const auto& i : instances_) {
    auto s = instance_status(i->name(), i->source(), i->team_id(), state_name(i->state()), i->disabled_reason(), 0);
    s.id = i->id();
    s.health = i->health();
    s.version = i->version();
    s.calls = i->calls();
    s.failures = i->failures();
    if (auto it = installed.find(i.get()); it != installed.end()) {
      s.install_id = it->second.first;
      s.install_updated_at = it->second.second->updated_at;
      const auto& problem = it->second.second->problem;
      if (!problem.state.empty()) s.error = problem.error;
    }
    out.push_back(std::move(s));
  }
  return out;
}

void AppRegistry::stop() {
  std::unique_ptr<base::Periodic> collector;
  std::vector<std::shared_ptr<AppInstance>> instances;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    collector = std::move(collector_);
    instances = instances_;
  }
  collector.reset();  // waits for a collection under way, outside the lock it takes
  {
    std::lock_guard lock(mutex_);
    for (auto& r : retiring_) instances.push_back(std::move(r.instance));
    retiring_.clear();
  }
  std::vector<std::future<void>> stopped;
  for (const auto& instance : instances) {
    auto promise = std::make_shared<std::promise<void>>();
    stopped.push_back(promise->get_future());
    instance->stop([promise] { promise->set_value(); });
  }
  for (auto& f : stopped) f.wait();
}

}  // namespace ps::runtime
