// The queue's housekeeping against a Postgres that goes away: after an
// outage every lease looks expired, and a daemon must not take live jobs
// from another daemon that has not had a chance to renew them.

#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <pqxx/pqxx>

#include "db/migrations.h"
#include "metrics/registry.h"
#include "scheduler/maintenance.h"
#include "tests/support/postgres_proxy.h"
#include "tests/support/test_database.h"

using namespace std::chrono_literals;

namespace {

std::string query(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  auto rows = tx.exec(sql);
  tx.commit();
  return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
}

// Polls until `done` holds, up to `timeout`.
template <class Condition>
bool eventually(Condition done, std::chrono::milliseconds timeout = 20s) {
  for (auto end = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < end;) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

}  // namespace

TEST_CASE("rescuer: after a Postgres outage longer than the lease, a daemon leaves other daemons' live jobs alone",
          "[jobs][maintenance]") {
  ps::test::TestDatabase db;
  {
    pqxx::connection conn(db.url());
    ps::db::migrate(conn);
  }
  const auto lease = 3000ms;
  auto job = query(db.url(),
                   "INSERT INTO jobs (instance_id, name, state, attempts, max_attempts, locked_by, locked_until) "
                   "VALUES (1, 'long', 'running', 1, 3, 'daemon-a', now() + interval '3 seconds') RETURNING id");
  ps::test::PostgresProxy to_a(db.url()), to_b(db.url());
  ps::metrics::Registry metrics_a, metrics_b;
  auto a = std::make_unique<ps::scheduler::Maintenance>(
      ps::scheduler::MaintenanceOptions{to_a.url(), "daemon-a", lease, 168, [&] { return std::vector{std::stoll(job)}; }},
      metrics_a, nullptr);
  ps::scheduler::Maintenance b({to_b.url(), "daemon-b", lease, 168, [] { return std::vector<long long>{}; }}, metrics_b,
                               nullptr);
  REQUIRE(eventually([&] { return to_a.connections() > 0 && to_b.connections() > 0; }));

  // Postgres goes away for both daemons until the job's lease has run out.
  to_a.set_up(false);
  to_b.set_up(false);
  REQUIRE(eventually([&] { return query(db.url(), "SELECT locked_until < now() FROM jobs") == "t"; }));
  // Both have failed ticks by now (they tick three times per lease).
  std::this_thread::sleep_for(lease / 2);

  // B is back first: the job looks abandoned to it, but A is alive.
  int before = to_b.connections();
  to_b.set_up(true);
  REQUIRE(eventually([&] { return to_b.connections() > before; }));
  to_a.set_up(true);
  REQUIRE(eventually([&] { return query(db.url(), "SELECT locked_until > now() FROM jobs") == "t"; }));
  // Past B's hold-off, with ticks to spare.
  std::this_thread::sleep_for(lease + 1500ms);
  CHECK(query(db.url(), "SELECT state || ' ' || locked_by FROM jobs") == "running daemon-a");
  CHECK(metrics_b.render().find("plugin_server_jobs_rescued_total") == std::string::npos);

  // A really stops: once its lease runs out, B rescues the job.
  a.reset();
  CHECK(eventually([&] { return query(db.url(), "SELECT state FROM jobs") == "available"; }));
  CHECK(metrics_b.render().find("plugin_server_jobs_rescued_total 1") != std::string::npos);
}
