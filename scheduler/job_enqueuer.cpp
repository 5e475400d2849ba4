#include "scheduler/job_enqueuer.h"

#include <map>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "metrics/registry.h"
#include "scheduler/jsonb.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

JobEnqueuer::JobEnqueuer(EnqueuerOptions options, metrics::Registry& metrics)
    : options_(std::move(options)),
      metrics_(metrics),
      session_(options_.database_url, options_.connect_timeout),
      thread_([this] { loop(); }) {}

JobEnqueuer::~JobEnqueuer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void JobEnqueuer::enqueue(runtime::JobRequest job, std::function<void(std::optional<std::string>)> done) {
  // Checked alone, before it can share a statement with other apps' jobs.
  if (job.payload_json) {
    if (auto why = jsonb_refuses(*job.payload_json)) return done(runtime::kUnstorablePayload + *why);
  }
  if (job.name.find('\0') != std::string::npos) return done(std::string("the job name holds a NUL character"));
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      done(std::string("the daemon is shutting down"));
      return;
    }
    pending_.push_back({std::move(job), std::move(done)});
  }
  wake_.notify_one();
}

void JobEnqueuer::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) return;
    // Bounded in jobs and in bytes: a batch is one statement parameter.
    std::vector<Pending> batch;
    std::size_t bytes = 0;
    while (!pending_.empty() && batch.size() < options_.max_batch &&
           (batch.empty() || bytes + pending_.front().size() <= options_.max_batch_bytes)) {
      bytes += pending_.front().size();
      batch.push_back(std::move(pending_.front()));
      pending_.pop_front();
    }
    lock.unlock();
    refuse_over_quota(batch);
    if (!batch.empty()) commit(batch);
    lock.lock();
  }
}

void JobEnqueuer::refuse_over_quota(std::vector<Pending>& batch) {
  std::unordered_map<runtime::InstanceId, long long> asked;
  for (const auto& p : batch) ++asked[p.job.instance];
  // How many more each instance may queue now.
  std::unordered_map<runtime::InstanceId, long long> room;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [instance, n] : asked) {
    auto known = queued_.find(instance);
    bool fresh = known != queued_.end() && now - known->second.counted < options_.recount_interval;
    if (known == queued_.end() || (known->second.jobs + n > options_.max_queued_per_instance && !fresh)) {
      try {
        pqxx::read_transaction tx(session_.get());
        queued_[instance] = {tx.exec_params1(sql::kQueuedJobs, instance, options_.max_queued_per_instance)[0].as<long long>(),
                             now};
      } catch (const std::exception& e) {
        // Not known now: the insert will meet the same outage and say so.
        session_.reset();
        room[instance] = n;
        continue;
      }
    }
    room[instance] = std::max(0ll, options_.max_queued_per_instance - queued_[instance].jobs);
  }
  std::vector<Pending> kept;
  kept.reserve(batch.size());
  for (auto& p : batch) {
    if (room[p.job.instance]-- > 0) {
      kept.push_back(std::move(p));
      continue;
    }
    metrics_
        .counter("plugin_server_app_quota_refusals_total", "App calls refused for a per-instance quota.",
                 {{"app", p.job.app}, {"quota", "queued_jobs"}})
        .inc();
    p.done("too many jobs waiting: this app has " + std::to_string(options_.max_queued_per_instance) +
           " jobs queued (jobs.max_queued_per_app)");
  }
  batch = std::move(kept);
}

void JobEnqueuer::commit(std::vector<Pending>& batch) {
  auto rows = nlohmann::json::array();
  double earliest = 0;
  for (const auto& p : batch) {
    double at = std::chrono::duration<double, std::milli>(p.job.run_at.time_since_epoch()).count();
    earliest = rows.empty() ? at : std::min(earliest, at);
    rows.push_back({{"instance_id", p.job.instance},
                    {"kind", p.job.kind},
                    {"name", p.job.name},
                    {"payload", p.job.payload_json ? nlohmann::json(*p.job.payload_json) : nlohmann::json()},
                    {"run_at_ms", at}});
  }
  std::optional<std::string> error;
  try {
    pqxx::work tx(session_.get());
    tx.exec_params0(sql::kEnqueue, rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                    options_.max_attempts);
    tx.exec_params(sql::kNotify, std::to_string(static_cast<long long>(earliest)));
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    session_.reset();
    if (batch.size() > 1) {
      // Postgres refused something in it: each job alone, so only a bad one fails.
      spdlog::warn("jobs: a batch of {} job(s) was refused ({}); enqueuing them one by one", batch.size(),
                   db::error_text(e));
      for (auto& p : batch) {
        std::vector<Pending> one;
        one.push_back(std::move(p));
        commit(one);
      }
      return;
    }
    error = db::error_text(e);
    spdlog::error("jobs: could not enqueue a job of {}: {}", batch[0].job.app, *error);
  } catch (const std::exception& e) {
    session_.reset();
    error = db::error_text(e);
    spdlog::error("jobs: could not enqueue {} job(s): {}", batch.size(), *error);
  }
  if (!error) {
    for (const auto& p : batch) ++queued_[p.job.instance].jobs;
    std::map<std::string, int> per_app;
    for (const auto& p : batch) ++per_app[p.job.app];
    for (const auto& [app, n] : per_app) {
      metrics_.counter("plugin_server_jobs_enqueued_total", "Jobs committed to the queue.", {{"app", app}}).inc(n);
    }
  }
  for (auto& p : batch) p.done(error);
}

}  // namespace ps::scheduler
