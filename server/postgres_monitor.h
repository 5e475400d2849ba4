#pragma once
// Keeps the daemon's view of Postgres fresh: pings it every second, applies
// schema migrations as soon as it is reachable, and reports both to
// readiness and metrics. A Postgres outage never stops the daemon; it only
// makes it not ready until Postgres is back.

#include <atomic>
#include <memory>
#include <string>

#include "base/periodic.h"

namespace ps::db {
class Pool;
}
namespace ps::metrics {
class Gauge;
class Registry;
}  // namespace ps::metrics

namespace ps::server {

class Readiness;

class PostgresMonitor {
 public:
  PostgresMonitor(db::Pool& pool, Readiness& readiness, metrics::Registry& registry);
  ~PostgresMonitor();
  PostgresMonitor(const PostgresMonitor&) = delete;
  PostgresMonitor& operator=(const PostgresMonitor&) = delete;

  // True once this daemon's schema migrations have been applied.
  bool migrated() const { return migrated_.load(); }

 private:
  void check();

  db::Pool& pool_;
  Readiness& readiness_;
  metrics::Gauge& up_;
  std::atomic<bool> migrated_{false};
  // Log changes of state, not every failed check.
  bool last_up_ = true;
  std::string last_migration_error_;
  std::unique_ptr<base::Periodic> periodic_;  // last: stops before the state it uses goes
};

}  // namespace ps::server
