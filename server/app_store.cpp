#include "server/app_store.h"

#include <pqxx/pqxx>

#include "base/hex.h"
#include "db/pool.h"
#include "runtime/bundle.h"
#include "runtime/inspect_app.h"
#include "server/install_store.h"

namespace ps::server {

namespace {

nlohmann::json capabilities_of(const runtime::Exports& exports) {
  return {{"methods", exports.methods}, {"jobs", exports.jobs}, {"scheduled_tasks", exports.scheduled_tasks}};
}

// Versions are numbered per app: one upload of an app at a time takes the next.
constexpr const char* kLockApp = "SELECT pg_advisory_xact_lock(hashtext('app_versions:' || $1))";

constexpr const char* kInsertVersion = R"SQL(
  INSERT INTO app_versions (app_name, version, content_hash, archive, code, manifest, capabilities)
  SELECT $1, COALESCE(max(version), 0) + 1, $2, decode($3, 'hex'), $4::jsonb, $5::jsonb, $6::jsonb
  FROM app_versions WHERE app_name = $1
  RETURNING version)SQL";

// A version is in use when an install pins it, or when it is the latest
// and some install follows the latest.
constexpr const char* kVersionUse = R"SQL(
  SELECT
    EXISTS (SELECT 1 FROM app_installs WHERE app_name = $1 AND version = $2),
    $2 = (SELECT max(version) FROM app_versions WHERE app_name = $1)
      AND EXISTS (SELECT 1 FROM app_installs WHERE app_name = $1 AND version IS NULL)
  FROM app_versions WHERE app_name = $1 AND version = $2)SQL";

}  // namespace

StoredVersion AppStore::add(const std::string& archive) {
  runtime::AppReport report;
  try {
    report = runtime::inspect_bundle(runtime::bundle_from_archive(archive, "the uploaded bundle"), limits_);
  } catch (const std::exception& e) {
    throw InvalidBundle({e.what()});
  }
  const auto& bundle = *report.bundle;
  StoredVersion stored{report.name, 0, runtime::content_hash(bundle), capabilities_of(report.exports), false};
  auto manifest = nlohmann::json::parse(bundle.files.at("plugin.json"), nullptr, false);
  nlohmann::json code = bundle.code;

  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  tx.exec_params(kLockApp, stored.app);
  auto existing = tx.exec_params("SELECT version FROM app_versions WHERE app_name = $1 AND content_hash = $2",
                                 stored.app, stored.content_hash);
  if (!existing.empty()) {
    stored.version = existing[0][0].as<int>();
    return stored;
  }
  stored.version = tx.exec_params1(kInsertVersion, stored.app, stored.content_hash, base::to_hex(archive), code.dump(),
                                   manifest.dump(), stored.capabilities.dump())[0]
                       .as<int>();
  // Installs that follow the latest version run this one now.
  announce_install_change(tx);
  tx.commit();
  stored.created = true;
  return stored;
}

nlohmann::json AppStore::list() {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto apps = nlohmann::json::array();
  for (const auto& row : tx.exec("SELECT app_name, max(version), count(*) FROM app_versions GROUP BY app_name ORDER BY app_name")) {
    apps.push_back({{"app", row[0].as<std::string>()}, {"latest_version", row[1].as<int>()}, {"versions", row[2].as<int>()}});
  }
  return apps;
}

std::optional<nlohmann::json> AppStore::describe(const std::string& app) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto versions = nlohmann::json::array();
  for (const auto& row : tx.exec_params(
           "SELECT version, content_hash, capabilities::text, to_char(created_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM app_versions WHERE app_name = $1 ORDER BY version DESC",
           app)) {
    versions.push_back({{"version", row[0].as<int>()},
                        {"content_hash", row[1].as<std::string>()},
                        {"capabilities", nlohmann::json::parse(row[2].as<std::string>())},
                        {"created_at", row[3].as<std::string>()}});
  }
  if (versions.empty()) return std::nullopt;
  auto installs = nlohmann::json::array();
  for (const auto& row : tx.exec_params(
           "SELECT id, team_id, version, install_order, enabled FROM app_installs WHERE app_name = $1 ORDER BY id", app)) {
    installs.push_back({{"id", row[0].as<long long>()},
                        {"team_id", row[1].as<long long>()},
                        {"version", row[2].is_null() ? nlohmann::json("latest") : nlohmann::json(row[2].as<int>())},
                        {"order", row[3].as<int>()},
                        {"enabled", row[4].as<bool>()}});
  }
  return nlohmann::json{{"app", app}, {"versions", versions}, {"installs", installs}};
}

AppStore::Removal AppStore::remove(const std::string& app, int version, std::string* why) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  tx.exec_params(kLockApp, app);
  auto use = tx.exec_params(kVersionUse, app, version);
  if (use.empty()) return Removal::not_found;
  if (use[0][0].as<bool>() || use[0][1].as<bool>()) {
    if (why) {
      *why = use[0][0].as<bool>() ? "an install is pinned to version " + std::to_string(version)
                                  : "version " + std::to_string(version) + " is the latest, and an install follows the latest";
    }
    return Removal::in_use;
  }
  tx.exec_params0("DELETE FROM app_versions WHERE app_name = $1 AND version = $2", app, version);
  tx.commit();
  return Removal::removed;
}

}  // namespace ps::server
