#include "scheduler/maintenance.h"

#include <algorithm>
#include <map>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "metrics/registry.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {
constexpr const char* kStates[] = {"available", "running", "failed", "discarded"};
}

Maintenance::Maintenance(MaintenanceOptions options, metrics::Registry& metrics, std::function<void()> on_rescued)
    : options_(std::move(options)),
      metrics_(metrics),
      on_rescued_(std::move(on_rescued)),
      session_(options_.database_url, std::chrono::seconds(5)),
      // Renew well before a lease runs out: three times per lease.
      periodic_(std::make_unique<base::Periodic>(
          std::clamp(options_.lease / 3, std::chrono::milliseconds(100), std::chrono::milliseconds(1000)),
          [this] { tick(ticks_++); })) {}

Maintenance::~Maintenance() = default;

// Renewal and rescue run each tick; pruning and the depth count, which
// scan the table, in transactions of their own so they never hold up a
// lease renewal.
void Maintenance::tick(long n) {
  try {
    renew_and_rescue();
    if (n % 600 == 0) prune();
    if (n % 5 == 0) publish_depth();
    if (in_outage_) {
      in_outage_ = false;
      rescue_from_ = std::chrono::steady_clock::now() + options_.lease;
      spdlog::info("jobs: Postgres reachable again; rescuing expired jobs resumes in {} ms", options_.lease.count());
    }
  } catch (const std::exception& e) {
    session_.reset();
    in_outage_ = true;
    spdlog::error("jobs: queue maintenance failed: {}", db::error_text(e));
  }
}

void Maintenance::renew_and_rescue() {
  std::string ids = "{";
  for (auto id : options_.held ? options_.held() : std::vector<long long>()) {
    ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
  }
  ids += "}";
  pqxx::work tx(session_.get());
  if (ids.size() > 2) tx.exec_params0(sql::kRenewLeases, options_.worker_id, options_.lease.count(), ids);
  int again = 0, failed = 0;
  if (!in_outage_ && std::chrono::steady_clock::now() >= rescue_from_) {
    for (const auto& row : tx.exec(sql::kRescue)) (row[0].as<std::string>() == "available" ? again : failed)++;
  }
  if (again > 0) tx.exec_params(sql::kNotify, "0");
  tx.commit();
  if (again + failed > 0) {
    spdlog::warn("jobs: rescued {} job(s) whose daemon stopped ({} to run again, {} out of attempts)", again + failed,
                 again, failed);
    metrics_.counter("plugin_server_jobs_rescued_total", "Jobs taken back from a daemon whose lease expired.")
        .inc(again + failed);
    if (again > 0 && on_rescued_) on_rescued_();
  }
}

void Maintenance::prune() {
  pqxx::work tx(session_.get());
  tx.exec_params0(sql::kPruneFinished, options_.retention_hours);
  tx.exec0(sql::kPruneTaskRuns);
  tx.commit();
}

void Maintenance::publish_depth() {
  std::map<std::string, double> depth;
  pqxx::nontransaction tx(session_.get());
  for (const auto& row : tx.exec(sql::kDepthByState)) depth[row[0].as<std::string>()] = row[1].as<double>();
  for (const char* state : kStates) {
    metrics_.gauge("plugin_server_jobs_queue_depth", "Jobs in the queue, by state.", {{"state", state}}).set(depth[state]);
  }
}

}  // namespace ps::scheduler
