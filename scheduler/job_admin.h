#pragma once
// What an operator does to the job queue through the admin API: list jobs
// by state and instance, run failed or discarded ones again (one, or all
// matching), and cancel one that is not running. Every call runs queries:
// call it from a thread that may block. Workers are woken by NOTIFY.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ps::db {
class Pool;
}

namespace ps::scheduler {

struct JobFilter {
  std::optional<std::string> state;  // available, running, failed, discarded
  std::optional<long long> instance;
  int limit = 100;
};

class JobAdmin {
 public:
  enum class Change { done, not_found, refused };

  explicit JobAdmin(db::Pool& pool) : pool_(pool) {}

  nlohmann::json list(const JobFilter& filter);
  // Refused: the job is not failed or discarded, or (a scheduled task) the
  // same task is queued already; `why` says which.
  Change retry(long long id, std::string* why);
  // Every job in filter.state (failed or discarded) of filter.instance, or
  // of all: how many run again.
  long long retry_all(const JobFilter& filter);
  // Refused: the job is running (its outcome settles it).
  Change cancel(long long id, std::string* why);

 private:
  db::Pool& pool_;
};

}  // namespace ps::scheduler
