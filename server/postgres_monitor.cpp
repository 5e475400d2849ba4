#include "server/postgres_monitor.h"

#include <optional>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/migrations.h"
#include "db/pool.h"
#include "metrics/registry.h"
#include "server/readiness.h"

namespace ps::server {

namespace {
constexpr auto kInterval = std::chrono::seconds(1);
}

PostgresMonitor::PostgresMonitor(db::Pool& pool, Readiness& readiness, metrics::Registry& registry)
    : pool_(pool),
      readiness_(readiness),
      up_(registry.gauge("plugin_server_postgres_up", "1 when the last Postgres check succeeded, else 0.")) {
  readiness_.set("postgres", false, "not checked yet");
  readiness_.set("migrations", false, "not applied yet");
  thread_ = std::thread([this] { loop(); });
}

PostgresMonitor::~PostgresMonitor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void PostgresMonitor::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    check();
    lock.lock();
    wake_.wait_for(lock, kInterval, [this] { return stopping_; });
  }
}

namespace {
std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
}  // namespace

void PostgresMonitor::check() {
  std::optional<db::Pool::Lease> conn;
  try {
    conn.emplace(pool_.acquire(kInterval));
    pqxx::nontransaction tx(**conn);
    tx.exec1("SELECT 1");
  } catch (const std::exception& e) {
    auto reason = trimmed(e.what());
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
    auto reason = trimmed(e.what());
    if (reason != last_migration_error_) spdlog::error("postgres: migrations failed: {}", reason);
    last_migration_error_ = reason;
    readiness_.set("migrations", false, reason);
  }
}

}  // namespace ps::server
