#include "scheduler/job_queue.h"

#include <unistd.h>

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "db/session.h"
#include "scheduler/backoff.h"
#include "scheduler/completer.h"
#include "scheduler/job_workers.h"
#include "scheduler/maintenance.h"
#include "scheduler/notifier.h"
#include "scheduler/sql.h"
#include "scheduler/task_scheduler.h"

namespace ps::scheduler {

JobQueueOptions job_queue_options(const config::Config& config) {
  JobQueueOptions o;
  o.database_url = config.database.url;
  o.worker_id = make_worker_id();
  o.workers = config.jobs.workers;
  o.workers_per_team = config.jobs.workers_per_team;
  o.prefetch = config.jobs.prefetch;
  o.poll_interval = std::chrono::milliseconds(config.jobs.poll_interval_ms);
  o.lease = std::chrono::milliseconds(config.jobs.lease_ms);
  o.retry_base = std::chrono::milliseconds(config.jobs.retry_base_ms);
  o.retry_max = std::chrono::milliseconds(config.jobs.retry_max_ms);
  o.retention_hours = config.jobs.retention_hours;
  return o;
}

std::string make_worker_id() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random_jitter() * 65536));
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + suffix;
}

JobQueue::JobQueue(JobQueueOptions options, runtime::AppRegistry& registry, metrics::Registry& metrics)
    : options_(std::move(options)) {
  // The completer is made before the workers it wakes: it reaches them through wake_target_.
  completer_ = std::make_unique<Completer>(options_.database_url, options_.worker_id, metrics,
                                           [this](std::chrono::milliseconds delay) {
                                             if (auto* w = wake_target_.load()) w->wake(JobWorkers::Clock::now() + delay);
                                           });
  WorkerOptions w;
  w.database_url = options_.database_url;
  w.worker_id = options_.worker_id;
  w.slots = options_.workers;
  w.slots_per_team = options_.workers_per_team > 0 ? options_.workers_per_team : (options_.workers + 1) / 2;
  w.prefetch = options_.prefetch;
  w.poll_interval = options_.poll_interval;
  w.lease = options_.lease;
  w.retry_base = options_.retry_base;
  w.retry_max = options_.retry_max;
  workers_ = std::make_unique<JobWorkers>(w, registry, *completer_, metrics);
  auto* workers = workers_.get();
  wake_target_ = workers;
  notifier_ = std::make_unique<Notifier>(options_.database_url, [workers](std::chrono::system_clock::time_point at) {
    auto in = at - std::chrono::system_clock::now();
    workers->wake(JobWorkers::Clock::now() + std::chrono::duration_cast<JobWorkers::Clock::duration>(in));
  });
  maintenance_ = std::make_unique<Maintenance>(
      MaintenanceOptions{options_.database_url, options_.worker_id, options_.lease, options_.retention_hours,
                         [workers] { return workers->held(); }},
      metrics, [workers] { workers->wake(); });
  tasks_ = std::make_unique<TaskScheduler>(options_.database_url, registry, [workers] { workers->wake(); });
  spdlog::info("jobs: running as {} with {} worker slot(s)", options_.worker_id, options_.workers);
}

JobQueue::~JobQueue() {
  stop(std::chrono::milliseconds(0));
  // Outcomes of jobs that were still running reach the workers and the
  // completer until the runtime has stopped: the owner destroys the queue
  // after that. Their leases were renewed until now.
  maintenance_.reset();
  wake_target_ = nullptr;
  workers_.reset();
  completer_.reset();
}

void JobQueue::stop(std::chrono::milliseconds grace) {
  if (stopped_) return;
  stopped_ = true;
  tasks_.reset();
  workers_->stop_claiming();
  // What was claimed and not started goes to other daemons at once.
  release(workers_->take_unstarted());
  if (!workers_->wait_idle(grace)) {
    spdlog::warn("jobs: grace period over with jobs still running; they keep their leases until the apps stop");
  }
  completer_->flush();
  notifier_.reset();
}

void JobQueue::release(const std::vector<long long>& ids) {
  if (ids.empty()) return;
  std::string array = "{";
  for (auto id : ids) array += (array.size() > 1 ? "," : "") + std::to_string(id);
  array += "}";
  try {
    db::Session session(options_.database_url, std::chrono::seconds(5));
    pqxx::work tx(session.get());
    auto released = tx.exec_params0(sql::kRelease, options_.worker_id, array).affected_rows();
    if (released > 0) tx.exec_params(sql::kNotify, "0");
    tx.commit();
    if (released > 0) spdlog::info("jobs: released {} claimed job(s) that had not started, for other daemons", released);
  } catch (const std::exception& e) {
    spdlog::error("jobs: could not release {} unstarted job(s) (they will be rescued when their lease expires): {}",
                  ids.size(), db::error_text(e));
  }
}

}  // namespace ps::scheduler
