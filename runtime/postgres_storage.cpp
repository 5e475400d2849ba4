#include "runtime/postgres_storage.h"

#include <pqxx/pqxx>

#include "db/error_text.h"
#include "db/pool.h"
#include "runtime/executor.h"

namespace ps::runtime {

namespace {

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
    return {std::nullopt, db::error_text(e)};
  }
}

}  // namespace

PostgresStorage::PostgresStorage(db::Pool& pool, Executor& blocking) : pool_(pool), blocking_(blocking) {}

void PostgresStorage::get(InstanceId instance, std::string key, std::function<void(StorageResult)> done) {
  blocking_.post_any([this, instance, key = std::move(key), done = std::move(done)] {
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
  blocking_.post_any([this, instance, key = std::move(key), json = std::move(json), done = std::move(done)] {
    done(attempt(pool_, [&](pqxx::work& tx) {
      tx.exec_params0(
          "INSERT INTO app_storage (instance_id, key, value) VALUES ($1, $2, $3::jsonb) "
          "ON CONFLICT (instance_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()",
          instance, key, json);
      return StorageResult{};
    }));
  });
}

void PostgresStorage::del(InstanceId instance, std::string key, std::function<void(StorageResult)> done) {
  blocking_.post_any([this, instance, key = std::move(key), done = std::move(done)] {
    done(attempt(pool_, [&](pqxx::work& tx) {
      tx.exec_params0("DELETE FROM app_storage WHERE instance_id = $1 AND key = $2", instance, key);
      return StorageResult{};
    }));
  });
}

}  // namespace ps::runtime
