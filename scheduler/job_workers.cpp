#include "scheduler/job_workers.h"

#include <algorithm>
#include <map>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "json/scan.h"
#include "metrics/registry.h"
#include "runtime/app_registry.h"
#include "runtime/export_metrics.h"
#include "scheduler/backoff.h"
#include "scheduler/completer.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {
constexpr auto kOutageBackoff = std::chrono::seconds(1);
// A job whose instance is not running here waits this long before it is claimed again.
constexpr auto kNotRunningDelay = std::chrono::milliseconds(1000);
}

JobWorkers::JobWorkers(WorkerOptions options, runtime::AppRegistry& registry, Completer& completer,
                       metrics::Registry& metrics)
    : options_(std::move(options)),
      registry_(registry),
      completer_(completer),
      metrics_(metrics),
      lag_(metrics.histogram("plugin_server_jobs_start_lag_seconds", "Time from a job's run_at to its start.",
                             metrics::duration_buckets())),
      session_(options_.database_url, std::chrono::seconds(5)),
      min_chunk_(std::clamp((options_.slots + options_.prefetch) / 2, 1, 256)),
      thread_([this] { loop(); }) {}

JobWorkers::~JobWorkers() {
  stop_claiming();
  thread_.join();
}

void JobWorkers::wake(Clock::time_point due) {
  {
    std::lock_guard lock(mutex_);
    if (due <= Clock::now()) due_now_ = true;
    else next_due_ = std::min(next_due_, due);
  }
  wake_.notify_all();
}

void JobWorkers::stop_claiming() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
  // A claim that is under way lands its jobs in local_, not in a slot.
  idle_.wait(lock, [this] { return !claiming_; });
}

std::vector<long long> JobWorkers::take_unstarted() {
  std::lock_guard lock(mutex_);
  std::vector<long long> ids;
  for (const auto& job : local_) {
    ids.push_back(job.id);
    held_.erase(job.id);
  }
  local_.clear();
  return ids;
}

bool JobWorkers::wait_idle(std::chrono::milliseconds grace) {
  std::unique_lock lock(mutex_);
  return idle_.wait_for(lock, grace, [this] { return running_ == 0; });
}

std::vector<long long> JobWorkers::held() const {
  std::lock_guard lock(mutex_);
  return {held_.begin(), held_.end()};
}

void JobWorkers::loop() {
  auto next_poll = Clock::now() + options_.poll_interval;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    int in_hand = running_ + static_cast<int>(local_.size());
    int wanted = options_.slots + options_.prefetch - in_hand;
    bool due = due_now_ || Clock::now() >= next_due_ || Clock::now() >= next_poll;
    // With a backlog, claim in chunks rather than a job per freed slot: one
    // round trip then serves many jobs.
    bool worth_it = wanted > 0 && (!maybe_more_ || in_hand == 0 || wanted >= min_chunk_);
    if (!due || !worth_it) {
      wake_.wait_until(lock, std::min(next_due_, next_poll));
      continue;
    }
    if (Clock::now() >= next_poll) next_poll = Clock::now() + options_.poll_interval;
    due_now_ = false;
    if (Clock::now() >= next_due_) next_due_ = Clock::time_point::max();
    claiming_ = true;
    lock.unlock();
    bool more = false;
    int claimed = claim(wanted, &more);
    lock.lock();
    claiming_ = false;
    idle_.notify_all();
    if (claimed < 0) {
      wake_.wait_for(lock, kOutageBackoff, [this] { return stopping_; });
      due_now_ = true;
    } else {
      maybe_more_ = more;
      if (maybe_more_) due_now_ = true;
    }
  }
}

int JobWorkers::claim(int wanted, bool* more) {
  std::vector<ClaimedJob> jobs;
  int share = wanted;
  std::optional<long long> next_in_ms;
  try {
    pqxx::work tx(session_.get());
    tx.exec0(sql::kNoFlushWait);
    tx.exec0(sql::kClaimPlan);
    auto rows = tx.exec_params(sql::kClaim, wanted, options_.worker_id, options_.lease.count());
    auto claimed_at = Clock::now();
    for (const auto& row : rows) {
      ClaimedJob job;
      job.id = row[0].as<long long>();
      job.instance = row[1].as<long long>();
      job.kind = row[2].as<std::string>();
      job.name = row[3].as<std::string>();
      if (!row[4].is_null()) job.payload_json = row[4].as<std::string>();
      job.attempts = row[5].as<int>();
      job.max_attempts = row[6].as<int>();
      job.lag_seconds = row[7].as<double>();
      job.claimed_at = claimed_at;
      if (auto instance = registry_.find(job.instance)) job.team = instance->team_id();
      share = row[8].as<int>();
      jobs.push_back(std::move(job));
    }
    if (static_cast<int>(jobs.size()) < wanted) {
      auto next = tx.exec1(sql::kNextDue);
      if (!next[0].is_null()) next_in_ms = next[0].as<long long>();
    }
    tx.commit();
  } catch (const std::exception& e) {
    session_.reset();
    spdlog::error("jobs: claiming failed, retrying in 1 s: {}", db::error_text(e));
    return -1;
  }
  // Past a day, the safety poll finds the job again (and the clock would overflow for years ahead).
  constexpr long long kDayMs = 24LL * 3600 * 1000;
  if (next_in_ms) wake(Clock::now() + std::chrono::milliseconds(std::clamp(*next_in_ms, 0LL, kDayMs)));
  int claimed = static_cast<int>(jobs.size());
  // Started in turns between instances, each one's in due order, so the
  // claim's fairness holds for the order jobs run in too.
  std::map<long long, std::deque<ClaimedJob>> by_instance;
  for (auto& job : jobs) by_instance[job.instance].push_back(std::move(job));
  *more = claimed == wanted;
  for (const auto& [instance, list] : by_instance) *more |= static_cast<int>(list.size()) >= share;
  {
    std::lock_guard lock(mutex_);
    while (!by_instance.empty()) {
      for (auto it = by_instance.begin(); it != by_instance.end();) {
        auto& job = it->second.front();
        held_.insert(job.id);
        local_.push_back(std::move(job));
        it->second.pop_front();
        it = it->second.empty() ? by_instance.erase(it) : std::next(it);
      }
    }
  }
  pump();
  return claimed;
}

void JobWorkers::pump() {
  // A discarded job finishes at once and pumps again: let the outer loop do it.
  thread_local bool pumping = false;
  if (pumping) return;
  pumping = true;
  for (;;) {
    ClaimedJob job;
    {
      std::lock_guard lock(mutex_);
      // Once stopping, claimed jobs wait in local_ for the release.
      if (stopping_ || running_ >= options_.slots || local_.empty()) break;
      // The first job whose team is under its share of the slots; if every
      // waiting job's team is at it, the first job anyway (no slot idles).
      auto next = std::find_if(local_.begin(), local_.end(), [this](const ClaimedJob& waiting) {
        auto it = running_by_team_.find(waiting.team);
        return it == running_by_team_.end() || it->second < options_.slots_per_team;
      });
      if (next == local_.end()) next = local_.begin();
      job = std::move(*next);
      local_.erase(next);
      ++running_;
      ++running_by_team_[job.team];
    }
    dispatch(std::move(job));
  }
  pumping = false;
}

void JobWorkers::dispatch(ClaimedJob job) {
  auto waited = std::chrono::duration<double>(Clock::now() - job.claimed_at).count();
  lag_.observe(std::max(0.0, job.lag_seconds + waited));
  auto instance = registry_.find(job.instance);
  std::string app = instance ? instance->name() : "unknown";
  auto discard = [&](const std::string& why) {
    finish(job, app, JobOutcome{job.id, app, Verdict::Discarded, why});
  };
  if (!instance) return discard("app instance " + std::to_string(job.instance) + " is not installed on this daemon");
  if (instance->state() == runtime::InstanceState::Disabled) {
    return discard("app instance " + instance->label() + " is disabled: " + instance->disabled_reason());
  }
  const auto& exports = instance->exports();
  bool hook = job.kind == "task" || job.kind == "export";
  bool known = hook ? exports.has(job.name)
                    : std::find(exports.jobs.begin(), exports.jobs.end(), job.name) != exports.jobs.end();
  if (!known) return discard("the app " + instance->label() + " has no " + (hook ? "" : "job ") + job.name);

  metrics_.counter("plugin_server_jobs_started_total", "Job attempts started.", {{"app", app}}).inc();
  auto done = [this, job, app](runtime::CallOutcome outcome) {
    JobOutcome o{job.id, app, Verdict::Succeeded, ""};
    if (outcome.failure == runtime::Failure::Unavailable || outcome.failure == runtime::Failure::Skipped) {
      // Its instance is not running here (still setting up, being
      // replaced, or stopping with the daemon), or its health sidelined
      // it for now: the job waits, uncounted.
      o.verdict = Verdict::Postponed;
      o.error = outcome.error;
      o.retry_delay = kNotRunningDelay;
    } else if (!outcome.ok()) {
      o.error = outcome.error;
      if (job.attempts < job.max_attempts) {
        o.verdict = Verdict::Retry;
        o.retry_delay = retry_delay(job.attempts, options_.retry_base, options_.retry_max, random_jitter());
      } else {
        o.verdict = Verdict::Failed;
        o.error += " (attempt " + std::to_string(job.attempts) + " of " + std::to_string(job.max_attempts) + ")";
      }
    }
    finish(job, app, std::move(o));
  };
  if (job.kind == "task") instance->call(job.name, {}, std::move(done));
  else if (job.kind == "export") instance->call(job.name, {job.payload_json.value_or("[]")}, std::move(done));
  else instance->run_job(job.name, job.payload_json, std::move(done));
}

void JobWorkers::finish(const ClaimedJob& job, const std::string& app, JobOutcome outcome) {
  if (job.kind == "export" && outcome.verdict != Verdict::Postponed) {
    const char* result = outcome.verdict == Verdict::Succeeded ? "exported"
                         : outcome.verdict == Verdict::Retry   ? "retried"
                         : outcome.verdict == Verdict::Failed  ? "failed"
                                                               : "discarded";
    runtime::export_batches_counter(metrics_, app, result).inc();
    auto events = json::top_level_array_length(job.payload_json.value_or("[]")).value_or(0);
    runtime::export_events_counter(metrics_, app, result).inc(static_cast<double>(events));
  }
  if (outcome.verdict == Verdict::Failed || outcome.verdict == Verdict::Discarded) {
    spdlog::warn("jobs: {} {} of {} {}: {}", job.kind, job.name, app,
                 outcome.verdict == Verdict::Failed ? "failed" : "discarded", outcome.error);
  }
  if (outcome.verdict == Verdict::Postponed) {
    spdlog::info("jobs: {} {} of {} is back in the queue, uncounted ({})", job.kind, job.name, app, outcome.error);
  }
  completer_.add(std::move(outcome));
  {
    std::lock_guard lock(mutex_);
    held_.erase(job.id);
    --running_;
    if (auto it = running_by_team_.find(job.team); it != running_by_team_.end() && --it->second == 0) {
      running_by_team_.erase(it);
    }
    if (maybe_more_) due_now_ = true;
  }
  pump();
  wake_.notify_all();
  idle_.notify_all();
}

}  // namespace ps::scheduler
