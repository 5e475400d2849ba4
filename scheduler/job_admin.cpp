#include "scheduler/job_admin.h"

#include <pqxx/pqxx>

#include "db/pool.h"
#include "scheduler/sql.h"

namespace ps::scheduler {

namespace {
nlohmann::json nullable(const pqxx::field& field) {
  return field.is_null() ? nlohmann::json(nullptr) : nlohmann::json(field.as<std::string>());
}
}  // namespace

nlohmann::json JobAdmin::list(const JobFilter& filter) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto jobs = nlohmann::json::array();
  for (const auto& row : tx.exec_params(sql::kAdminListJobs, filter.state, filter.instance, filter.limit)) {
    jobs.push_back({{"id", row[0].as<long long>()},
                    {"instance_id", row[1].as<long long>()},
                    {"kind", row[2].as<std::string>()},
                    {"name", row[3].as<std::string>()},
                    {"state", row[4].as<std::string>()},
                    {"attempts", row[5].as<int>()},
                    {"max_attempts", row[6].as<int>()},
                    {"run_at", row[7].as<std::string>()},
                    {"last_error", nullable(row[8])},
                    {"created_at", row[9].as<std::string>()},
                    {"finished_at", nullable(row[10])},
                    {"payload_bytes", row[11].as<long long>()}});
  }
  return jobs;
}

JobAdmin::Change JobAdmin::retry(long long id, std::string* why) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto state = tx.exec_params(sql::kAdminJobState, id);
  if (state.empty()) return Change::not_found;
  try {
    if (tx.exec_params(sql::kAdminRetryJob, id).empty()) {
      *why = "the job is " + state[0][0].as<std::string>() + ", not failed or discarded";
      return Change::refused;
    }
  } catch (const pqxx::unique_violation&) {
    *why = "the same scheduled task is queued or running already";
    return Change::refused;
  }
  tx.exec_params(sql::kNotify, "0");
  tx.commit();
  return Change::done;
}

long long JobAdmin::retry_all(const JobFilter& filter) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto count = tx.exec_params1(sql::kAdminRetryJobs, filter.state.value_or("failed"), filter.instance)[0].as<long long>();
  if (count > 0) tx.exec_params(sql::kNotify, "0");
  tx.commit();
  return count;
}

JobAdmin::Change JobAdmin::cancel(long long id, std::string* why) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto state = tx.exec_params(sql::kAdminJobState, id);
  if (state.empty()) return Change::not_found;
  if (tx.exec_params(sql::kAdminCancelJob, id).empty()) {
    *why = "the job is running: its outcome settles it";
    return Change::refused;
  }
  tx.commit();
  return Change::done;
}

}  // namespace ps::scheduler
