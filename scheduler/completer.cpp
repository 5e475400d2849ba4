#include "scheduler/completer.h"

#include <map>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "metrics/registry.h"
#include "scheduler/jsonb.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {
constexpr auto kRetryWriteAfter = std::chrono::milliseconds(500);
constexpr int kWriteAttemptsAtStop = 10;

const char* verdict_metric(Verdict v) {
  switch (v) {
    case Verdict::Succeeded: return "plugin_server_jobs_succeeded_total";
    case Verdict::Retry: return "plugin_server_jobs_retried_total";
    case Verdict::Failed: return "plugin_server_jobs_failed_total";
    case Verdict::Discarded: return "plugin_server_jobs_discarded_total";
    case Verdict::Postponed: return "plugin_server_jobs_postponed_total";
  }
  return "";
}
const char* verdict_help(Verdict v) {
  switch (v) {
    case Verdict::Succeeded: return "Jobs that ran successfully.";
    case Verdict::Retry: return "Job attempts that failed and were scheduled again.";
    case Verdict::Failed: return "Jobs that failed their last attempt.";
    case Verdict::Discarded: return "Jobs dropped because their app instance is gone or disabled.";
    case Verdict::Postponed: return "Job attempts put back uncounted: the app instance was not running or stopped.";
  }
  return "";
}
}  // namespace

Completer::Completer(std::string database_url, std::string worker_id, metrics::Registry& metrics,
                     std::function<void(std::chrono::milliseconds)> on_retry)
    : worker_id_(std::move(worker_id)),
      metrics_(metrics),
      on_retry_(std::move(on_retry)),
      session_(std::move(database_url), std::chrono::seconds(5)),
      thread_([this] { loop(); }) {}

Completer::~Completer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Completer::add(JobOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(outcome));
  }
  wake_.notify_one();
}

void Completer::flush() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return pending_.empty() && !writing_; });
}

void Completer::loop() {
  std::unique_lock lock(mutex_);
  int failures_at_stop = 0;
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (pending_.empty()) {
      idle_.notify_all();
      return;
    }
    auto batch = std::move(pending_);
    pending_.clear();
    writing_ = true;
    lock.unlock();
    bool written = write(batch);
    lock.lock();
    writing_ = false;
    if (!written) {
      if (stopping_ && ++failures_at_stop >= kWriteAttemptsAtStop) {
        spdlog::error("jobs: giving up writing {} outcome(s); their jobs will be rescued and run again", batch.size());
        idle_.notify_all();
        return;
      }
      // Put them back in front and try again shortly.
      pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
      wake_.wait_for(lock, kRetryWriteAfter);
      continue;
    }
    if (pending_.empty()) idle_.notify_all();
  }
}

bool Completer::write(const std::vector<JobOutcome>& batch) {
  try {
    write_rows(batch);
  } catch (const pqxx::broken_connection& e) {
    session_.reset();
    spdlog::error("jobs: could not record {} outcome(s), will retry: {}", batch.size(), db::error_text(e));
    return false;
  } catch (const pqxx::sql_error& e) {
    // Postgres refused something in the batch: write the rows one by one,
    // so one bad row cannot hold back the others.
    session_.reset();
    if (batch.size() == 1) {
      spdlog::error("jobs: Postgres refused the outcome of job {} ({}); its lease will expire and it runs again",
                    batch[0].id, db::error_text(e));
      return true;
    }
    for (const auto& outcome : batch) {
      if (!write({outcome})) return false;
    }
    return true;
  } catch (const std::exception& e) {
    session_.reset();
    spdlog::error("jobs: could not record {} outcome(s), will retry: {}", batch.size(), db::error_text(e));
    return false;
  }
  count(batch);
  return true;
}

void Completer::write_rows(const std::vector<JobOutcome>& batch) {
  std::string succeeded = "{";
  auto retries = nlohmann::json::array();
  auto finished = nlohmann::json::array();
  auto postponed = nlohmann::json::array();
  std::chrono::milliseconds soonest_retry = std::chrono::milliseconds::max();
  for (const auto& o : batch) {
    // Error texts come from apps: made storable in jsonb (no NUL, valid UTF-8, bounded).
    auto error = storable_text(o.error);
    switch (o.verdict) {
      case Verdict::Succeeded:
        succeeded += (succeeded.size() > 1 ? "," : "") + std::to_string(o.id);
        break;
      case Verdict::Retry:
        retries.push_back({{"id", o.id}, {"delay_ms", o.retry_delay.count()}, {"error", error}});
        soonest_retry = std::min(soonest_retry, o.retry_delay);
        break;
      case Verdict::Failed:
      case Verdict::Discarded:
        finished.push_back({{"id", o.id}, {"state", o.verdict == Verdict::Failed ? "failed" : "discarded"},
                            {"error", error}});
        break;
      case Verdict::Postponed:
        postponed.push_back({{"id", o.id}, {"delay_ms", o.retry_delay.count()}});
        soonest_retry = std::min(soonest_retry, o.retry_delay);
        break;
    }
  }
  succeeded += "}";
  pqxx::work tx(session_.get());
  tx.exec0(sql::kNoFlushWait);
  if (succeeded.size() > 2) tx.exec_params0(sql::kDeleteSucceeded, succeeded, worker_id_);
  auto dump = [](const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
  if (!retries.empty()) tx.exec_params0(sql::kRetry, dump(retries), worker_id_);
  if (!finished.empty()) tx.exec_params0(sql::kFinish, dump(finished), worker_id_);
  if (!postponed.empty()) tx.exec_params0(sql::kPostpone, dump(postponed), worker_id_);
  tx.commit();
  if ((!retries.empty() || !postponed.empty()) && on_retry_) on_retry_(soonest_retry);
}

void Completer::count(const std::vector<JobOutcome>& batch) {
  std::map<std::pair<Verdict, std::string>, int> counts;
  for (const auto& o : batch) ++counts[{o.verdict, o.app}];
  for (const auto& [key, n] : counts) {
    metrics_.counter(verdict_metric(key.first), verdict_help(key.first), {{"app", key.second}}).inc(n);
  }
}

}  // namespace ps::scheduler
