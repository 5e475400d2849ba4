#include "server/install_sync.h"

#include <map>

#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "db/listener.h"
#include "runtime/app_registry.h"
#include "server/install_store.h"

namespace ps::server {

InstallSync::InstallSync(std::string database_url, db::Pool& pool, runtime::AppRegistry& registry,
                         std::chrono::milliseconds interval)
    : pool_(pool), registry_(registry) {
  db::ListenerOptions options{std::move(database_url), kInstallsChannel, "installs", interval};
  listener_ = std::make_unique<db::Listener>(options, [this](const std::vector<std::string>&) { sync(); });
}

InstallSync::~InstallSync() = default;

void InstallSync::sync() {
  InstallStore store(pool_);
  try {
    auto installs = store.runnable();
    // Only a revision new to this daemon needs its archive.
    store.add_archives(installs, [this](const config::AppConfig& install) {
      return registry_.revision(install.install_id) != install.revision;
    });
    registry_.reconcile(installs);
    std::map<long long, std::string> errors;
    for (const auto& install : installs) errors[install.install_id];
    for (const auto& status : registry_.status()) {
      if (status.install_id && errors.count(status.install_id)) errors[status.install_id] = status.error;
    }
    store.report_load_errors(errors);
    if (failing_) spdlog::info("installs: read from Postgres again");
    failing_ = false;
  } catch (const std::exception& e) {
    if (!failing_) spdlog::error("installs: cannot read them from Postgres; the running ones stay: {}", db::error_text(e));
    failing_ = true;
  }
}

}  // namespace ps::server
