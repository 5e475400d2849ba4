#include "runtime/postgres_storage.h"

#include <pqxx/pqxx>

#include "db/error_text.h"
#include "db/pool.h"
#include "runtime/executor.h"

namespace ps::runtime {

namespace {

// $1: instance. Locks (creating it if need be) the instance's usage row and
// answers its total.
constexpr const char* kLockUsage = R"SQL(
  INSERT INTO app_storage_usage (instance_id) VALUES ($1)
  ON CONFLICT (instance_id) DO UPDATE SET bytes = app_storage_usage.bytes
  RETURNING bytes
)SQL";

// $1: instance, $2: key.
constexpr const char* kEntryBytes = "SELECT bytes FROM app_storage WHERE instance_id = $1 AND key = $2";

// $1: instance, $2: key, $3: JSON, $4: the entry's size, $5: the change in the total.
constexpr const char* kWriteEntry = R"SQL(
  WITH entry AS (
    INSERT INTO app_storage (instance_id, key, value, bytes) VALUES ($1, $2, $3::jsonb, $4)
    ON CONFLICT (instance_id, key) DO UPDATE SET value = EXCLUDED.value, bytes = EXCLUDED.bytes, updated_at = now()
  )
  UPDATE app_storage_usage SET bytes = bytes + $5 WHERE instance_id = $1
)SQL";

// $1: instance, $2: key.
constexpr const char* kDeleteEntry = R"SQL(
  WITH entry AS (DELETE FROM app_storage WHERE instance_id = $1 AND key = $2 RETURNING bytes)
  UPDATE app_storage_usage SET bytes = bytes - coalesce((SELECT sum(bytes) FROM entry), 0) WHERE instance_id = $1
)SQL";

// Runs `query` on a pooled connection and turns any failure into an error result.
template <class Query>
StorageResult attempt(db::Pool& pool, Query query) {
  try {
    auto conn = pool.acquire();
    pqxx::work tx(*conn);
    StorageResult result = query(tx);
    tx.commit();
    return result;
  } catch (const std::exception& e) {
    StorageResult failed;
    failed.error = db::error_text(e);
    return failed;
  }
}

}  // namespace

PostgresStorage::PostgresStorage(db::Pool& pool, Executor& blocking, long long max_total_bytes)
    : pool_(pool), queue_(blocking, blocking.size()), max_total_bytes_(max_total_bytes) {}

void PostgresStorage::get(InstanceId instance, std::string key, std::function<void(StorageResult)> done) {
  queue_.push(instance, [this, instance, key = std::move(key), done = std::move(done)] {
    done(attempt(pool_, [&](pqxx::work& tx) {
      auto rows = tx.exec_params("SELECT value::text FROM app_storage WHERE instance_id = $1 AND key = $2",
                                 instance, key);
      StorageResult r;
      if (!rows.empty()) r.value = rows[0][0].as<std::string>();
      return r;
    }));
  });
}

void PostgresStorage::set(InstanceId instance, std::string key, std::string json,
                          std::function<void(StorageResult)> done) {
  queue_.push(instance, [this, instance, key = std::move(key), json = std::move(json), done = std::move(done)] {
    done(attempt(pool_, [&](pqxx::work& tx) {
      // Every writer of an instance takes its usage row first, so the total
      // and the entry's old size are read under one lock.
      auto total = tx.exec_params1(kLockUsage, instance)[0].as<long long>();
      auto old = tx.exec_params(kEntryBytes, instance, key);
      long long before = old.empty() ? 0 : old[0][0].as<long long>();
      long long after = static_cast<long long>(key.size() + json.size());
      // A write that shrinks an entry is allowed even over the quota (the
      // operator may have lowered it): it is the way back under.
      if (after > before && total - before + after > max_total_bytes_) {
        StorageResult refused;
        refused.refused = "storage.set: this app's storage would hold " + std::to_string(total - before + after) +
                          " bytes, over the limit of " + std::to_string(max_total_bytes_) +
                          " (runtime.storage_max_total_mb)";
        return refused;
      }
      tx.exec_params0(kWriteEntry, instance, key, json, after, after - before);
      return StorageResult{};
    }));
  });
}

void PostgresStorage::del(InstanceId instance, std::string key, std::function<void(StorageResult)> done) {
  queue_.push(instance, [this, instance, key = std::move(key), done = std::move(done)] {
    done(attempt(pool_, [&](pqxx::work& tx) {
      tx.exec_params1(kLockUsage, instance);
      tx.exec_params0(kDeleteEntry, instance, key);
      return StorageResult{};
    }));
  });
}

}  // namespace ps::runtime
