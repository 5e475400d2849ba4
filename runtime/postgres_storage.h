#pragma once
// meta.storage, kept in Postgres (table app_storage) and scoped by instance
// id, so one instance can never see another's keys. Queries run on a small
// pool of blocking threads, never on a JS thread, with instances served in
// turns (one app's burst of calls does not queue another's behind it).

#include "runtime/fair_queue.h"
#include "runtime/host_services.h"

namespace ps::db {
class Pool;
}

namespace ps::runtime {

class Executor;

class PostgresStorage : public Storage {
 public:
  // A set that would take the instance's entries (keys and JSON text) past
  // `max_total_bytes` is refused.
  // One query at a time on each of `blocking`'s threads.
  PostgresStorage(db::Pool& pool, Executor& blocking, long long max_total_bytes);
  void get(InstanceId instance, std::string key, std::function<void(StorageResult)> done) override;
  void set(InstanceId instance, std::string key, std::string json, std::function<void(StorageResult)> done) override;
  void del(InstanceId instance, std::string key, std::function<void(StorageResult)> done) override;

 private:
  db::Pool& pool_;
  FairQueue queue_;
  long long max_total_bytes_;
};

}  // namespace ps::runtime
