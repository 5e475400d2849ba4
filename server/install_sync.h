#pragma once
// Keeps a daemon's running installs equal to those kept in Postgres: on
// every change announced on kInstallsChannel, and every
// server.reconcile_interval_ms behind that (a daemon that missed a
// notification, or was cut off from Postgres, catches up), it reads the
// enabled installs and has the registry reconcile them, fetching a
// version's archive only for a revision new to it. Then it records on each
// install why it does not run here, if it does not.

#include <chrono>
#include <memory>
#include <string>

namespace ps::db {
class Listener;
class Pool;
}  // namespace ps::db
namespace ps::runtime {
class AppRegistry;
}

namespace ps::server {

class InstallSync {
 public:
  InstallSync(std::string database_url, db::Pool& pool, runtime::AppRegistry& registry,
              std::chrono::milliseconds interval);
  // Waits for a reconcile under way.
  ~InstallSync();
  InstallSync(const InstallSync&) = delete;
  InstallSync& operator=(const InstallSync&) = delete;

 private:
  void sync();

  db::Pool& pool_;
  runtime::AppRegistry& registry_;
  bool failing_ = false;  // the last sync failed: said once until one works
  std::unique_ptr<db::Listener> listener_;  // last: it calls sync() until it goes
};

}  // namespace ps::server
