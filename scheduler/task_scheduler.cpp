#include "scheduler/task_scheduler.h"

#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "db/error_text.h"
#include "runtime/app_registry.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

long long period_start(const std::string& task, std::chrono::system_clock::time_point now) {
  long long seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  long long length = task == "runEveryMinute" ? 60 : task == "runEveryHour" ? 3600 : 86400;
  return seconds - seconds % length;
}

TaskScheduler::TaskScheduler(std::string database_url, runtime::AppRegistry& registry, std::function<void()> on_queued)
    : registry_(registry),
      on_queued_(std::move(on_queued)),
      session_(std::move(database_url), std::chrono::seconds(5)),
      periodic_(std::make_unique<base::Periodic>(std::chrono::milliseconds(1000), [this] { tick(); })) {}

TaskScheduler::~TaskScheduler() = default;

void TaskScheduler::tick() {
  auto now = std::chrono::system_clock::now();
  bool queued = false;
  for (const auto& instance : registry_.all()) {
    if (instance->state() != runtime::InstanceState::Ready) continue;
    for (const auto& task : instance->exports().scheduled_tasks) {
      auto period = period_start(task, now);
      auto& last = done_[{instance->id(), task}];
      if (last == period) continue;
      try {
        pqxx::work tx(session_.get());
        auto rows = tx.exec_params(sql::kScheduleTask, instance->id(), task, period);
        tx.commit();
        last = period;
        queued = queued || !rows.empty();
      } catch (const std::exception& e) {
        session_.reset();
        spdlog::error("jobs: could not schedule {} of {}: {}", task, instance->label(), db::error_text(e));
        return;
      }
    }
  }
  if (queued && on_queued_) on_queued_();
}

}  // namespace ps::scheduler
