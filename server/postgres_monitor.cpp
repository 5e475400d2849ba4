#include "server/postgres_monitor.h"

#include <optional>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "db/migrations.h"
#include "db/pool.h"
#include "metrics/registry.h"
#include "server/readiness.h"

namespace ps::server {

namespace {
constexpr auto kInterval = std::chrono::milliseconds(1000);
}

PostgresMonitor::PostgresMonitor(db::Pool& pool, Readiness& readiness, metrics::Registry& registry)
    : pool_(pool),
      readiness_(readiness),
      up_(registry.gauge("plugin_server_postgres_up", "1 when the last Postgres check succeeded, else 0.")) {
  readiness_.set("postgres", false, "not checked yet");
  readiness_.set("migrations", false, "not applied yet");
  periodic_ = std::make_unique<base::Periodic>(kInterval, [this] { check(); });
}

PostgresMonitor::~PostgresMonitor() = default;

void PostgresMonitor::check() {
  std::optional<db::Pool::Lease> conn;
  try {
    conn.emplace(pool_.acquire(kInterval));
    pqxx::nontransaction tx(**conn);
    tx.exec1("SELECT 1");
  } catch (const std::exception& e) {
    auto reason = db::error_text(e);
    if (last_up_) spdlog::error("postgres: not reachable: {}", reason);
    last_up_ = false;
    up_.set(0);
    readiness_.set("postgres", false, reason);
    return;
  }
  if (!last_up_) spdlog::info("postgres: reachable");
  last_up_ = true;
  up_.set(1);
  readiness_.set("postgres", true);
  if (migrated_) return;
  try {
    int applied = db::migrate(**conn);
    migrated_ = true;
    spdlog::info("postgres: schema at version {} ({} migration(s) applied now)", db::schema_version(**conn), applied);
    readiness_.set("migrations", true);
  } catch (const std::exception& e) {
    auto reason = db::error_text(e);
    if (reason != last_migration_error_) spdlog::error("postgres: migrations failed: {}", reason);
    last_migration_error_ = reason;
    readiness_.set("migrations", false, reason);
  }
}

}  // namespace ps::server
