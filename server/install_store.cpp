#include "server/install_store.h"

#include <pqxx/pqxx>

#include "db/pool.h"
#include "runtime/app_config.h"
#include "runtime/bundle.h"

namespace ps::server {

namespace {

// An install as answers show it, with the manifest of the version it runs
// (for which fields are secret).
constexpr const char* kSelectInstalls = R"SQL(
  SELECT i.id, i.team_id, i.app_name, i.version, i.config::text, i.install_order, i.enabled,
         i.load_error,
         to_char(i.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         to_char(i.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
         (SELECT v.manifest::text FROM app_versions v
           WHERE v.app_name = i.app_name
             AND v.version = COALESCE(i.version, (SELECT max(version) FROM app_versions WHERE app_name = i.app_name)))
  FROM app_installs i)SQL";

// The version an install at `version` (nullopt: the latest) runs, and its
// archive; nullopt when there is no such version.
std::optional<std::pair<int, std::string>> find_version(pqxx::work& tx, const std::string& app,
                                                         std::optional<int> version) {
  auto rows = version ? tx.exec_params("SELECT version, archive FROM app_versions WHERE app_name = $1 AND version = $2",
                                       app, *version)
                      : tx.exec_params("SELECT version, archive FROM app_versions WHERE app_name = $1 "
                                       "ORDER BY version DESC LIMIT 1",
                                       app);
  if (rows.empty()) return std::nullopt;
  pqxx::binarystring archive(rows[0][1]);
  return std::pair{rows[0][0].as<int>(), archive.str()};
}

// Refuses config values that do not fit the version's plugin.json. An
// attachment must be a file of the bundle: an install made over the API
// never names a file of the daemon's machine.
void check_config(const std::string& app, int version, const std::string& archive, const nlohmann::json& config) {
  auto bundle = runtime::bundle_from_archive(archive, app + " version " + std::to_string(version));
  auto resolved = runtime::resolve_app_config(bundle, config, runtime::AttachmentFiles::bundle_only);
  if (!resolved.problems.empty()) {
    throw InstallRefused(422, "the config does not fit " + app + " version " + std::to_string(version),
                         resolved.problems);
  }
}

// The request's fields, each checked; every problem at once.
struct Fields {
  std::optional<long long> team_id;
  std::optional<std::string> app;
  std::optional<std::optional<int>> version;  // inner nullopt: "latest"
  std::optional<nlohmann::json> config;
  std::optional<int> order;
  std::optional<bool> enabled;
};

Fields read_fields(const nlohmann::json& request, bool creating) {
  std::vector<std::string> problems;
  Fields f;
  if (!request.is_object()) throw InstallRefused(400, "the body must be a JSON object");
  for (const auto& [key, value] : request.items()) {
    if (key == "team_id" && creating) {
      if (value.is_number_integer() && value.get<long long>() >= 0) f.team_id = value.get<long long>();
      else problems.push_back("team_id: expected a team id (an integer, 0 or more)");
    } else if (key == "app" && creating) {
      if (value.is_string() && !value.get<std::string>().empty()) f.app = value.get<std::string>();
      else problems.push_back("app: expected the app's name");
    } else if (key == "version") {
      if (value == "latest") f.version = std::optional<int>();
      else if (value.is_number_integer() && value.get<long long>() >= 1 && value.get<long long>() <= INT32_MAX)
        f.version = static_cast<int>(value.get<long long>());
      else problems.push_back("version: expected a version number or \"latest\"");
    } else if (key == "config") {
      if (value.is_object()) f.config = value;
      else problems.push_back("config: expected an object");
    } else if (key == "order") {
      if (value.is_number_integer() && value.get<long long>() >= INT32_MIN && value.get<long long>() <= INT32_MAX)
        f.order = static_cast<int>(value.get<long long>());
      else problems.push_back("order: expected an integer");
    } else if (key == "enabled") {
      if (value.is_boolean()) f.enabled = value.get<bool>();
      else problems.push_back("enabled: expected true or false");
    } else {
      problems.push_back(key + ": not a field of an install" + (creating ? "" : " that can be changed"));
    }
  }
  if (creating && !f.team_id && !request.contains("team_id")) problems.push_back("team_id: required");
  if (creating && !f.app && !request.contains("app")) problems.push_back("app: required");
  if (!problems.empty()) throw InstallRefused(400, "the request is not valid", problems);
  return f;
}

nlohmann::json render(const pqxx::row& row) {
  auto config = nlohmann::json::parse(row[4].as<std::string>());
  if (!row[10].is_null()) {
    try {
      auto manifest = runtime::parse_manifest(row[10].as<std::string>(), "plugin.json");
      for (const auto& field : manifest.config) {
        if (field.secret && config.contains(field.key)) config[field.key] = "***";
      }
    } catch (const runtime::BundleError&) {
      // Stored versions were checked on upload: not reached. Show nothing.
      config = nlohmann::json::object();
    }
  }
  return {{"id", row[0].as<long long>()},
          {"team_id", row[1].as<long long>()},
          {"app", row[2].as<std::string>()},
          {"version", row[3].is_null() ? nlohmann::json("latest") : nlohmann::json(row[3].as<int>())},
          {"config", config},
          {"order", row[5].as<int>()},
          {"enabled", row[6].as<bool>()},
          {"load_error", row[7].is_null() ? nlohmann::json(nullptr) : nlohmann::json(row[7].as<std::string>())},
          {"created_at", row[8].as<std::string>()},
          {"updated_at", row[9].as<std::string>()}};
}

nlohmann::json select_one(pqxx::work& tx, long long id) {
  return render(tx.exec_params1(std::string(kSelectInstalls) + " WHERE i.id = $1", id));
}

}  // namespace

nlohmann::json InstallStore::create(const nlohmann::json& request) {
  auto f = read_fields(request, true);
  std::optional<int> version = f.version.value_or(std::nullopt);
  auto config = f.config.value_or(nlohmann::json::object());
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto found = find_version(tx, *f.app, version);
  if (!found) {
    throw InstallRefused(422, version ? "no version " + std::to_string(*version) + " of " + *f.app
                                      : "no app named " + *f.app + " (upload it with POST /admin/apps)");
  }
  check_config(*f.app, found->first, found->second, config);
  auto inserted = tx.exec_params(
      "INSERT INTO app_installs (team_id, app_name, version, config, install_order, enabled) "
      "VALUES ($1, $2, $3, $4::jsonb, $5, $6) ON CONFLICT (team_id, app_name) DO NOTHING RETURNING id",
      *f.team_id, *f.app, version, config.dump(), f.order.value_or(0), f.enabled.value_or(true));
  if (inserted.empty()) {
    auto existing = tx.exec_params1("SELECT id FROM app_installs WHERE team_id = $1 AND app_name = $2", *f.team_id,
                                    *f.app)[0]
                        .as<long long>();
    throw InstallRefused(409, "team " + std::to_string(*f.team_id) + " has " + *f.app + " installed already",
                         {"install " + std::to_string(existing)});
  }
  auto out = select_one(tx, inserted[0][0].as<long long>());
  announce_install_change(tx);
  tx.commit();
  return out;
}

nlohmann::json InstallStore::update(long long id, const nlohmann::json& request) {
  auto f = read_fields(request, false);
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto rows = tx.exec_params("SELECT app_name, version, config::text FROM app_installs WHERE id = $1 FOR UPDATE", id);
  if (rows.empty()) throw InstallRefused(404, "no install " + std::to_string(id));
  auto app = rows[0][0].as<std::string>();
  std::optional<int> version = rows[0][1].is_null() ? std::nullopt : std::optional<int>(rows[0][1].as<int>());
  if (f.version) version = *f.version;
  auto config = nlohmann::json::parse(rows[0][2].as<std::string>());
  // Merged, so a change need not send the secrets it cannot read back.
  auto changes = f.config.value_or(nlohmann::json::object());
  for (const auto& [key, value] : changes.items()) {
    if (value.is_null()) config.erase(key);
    else config[key] = value;
  }
  auto found = find_version(tx, app, version);
  if (!found) throw InstallRefused(422, "no version " + std::to_string(version.value_or(0)) + " of " + app);
  check_config(app, found->first, found->second, config);
  tx.exec_params0(
      "UPDATE app_installs SET version = $2, config = $3::jsonb, install_order = COALESCE($4, install_order), "
      "enabled = COALESCE($5, enabled), load_error = NULL, updated_at = now() WHERE id = $1",
      id, version, config.dump(), f.order, f.enabled);
  auto out = select_one(tx, id);
  announce_install_change(tx);
  tx.commit();
  return out;
}

bool InstallStore::remove(long long id) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto deleted = tx.exec_params("DELETE FROM app_installs WHERE id = $1 RETURNING id", id);
  announce_install_change(tx);
  tx.commit();
  return !deleted.empty();
}

nlohmann::json InstallStore::list(std::optional<long long> team) {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto rows = team ? tx.exec_params(std::string(kSelectInstalls) + " WHERE i.team_id = $1 ORDER BY i.team_id, "
                                                                   "i.install_order, i.id",
                                    *team)
                   : tx.exec(std::string(kSelectInstalls) + " ORDER BY i.team_id, i.install_order, i.id");
  auto out = nlohmann::json::array();
  for (const auto& row : rows) out.push_back(render(row));
  return out;
}

std::vector<config::AppConfig> InstallStore::runnable() {
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  auto rows = tx.exec(R"SQL(
    SELECT i.id, i.team_id, i.app_name, v.version, i.config::text, i.install_order,
           to_char(i.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    FROM app_installs i
    JOIN app_versions v ON v.app_name = i.app_name
     AND v.version = COALESCE(i.version, (SELECT max(version) FROM app_versions WHERE app_name = i.app_name))
    WHERE i.enabled
    ORDER BY i.team_id, i.install_order, i.id)SQL");
  std::vector<config::AppConfig> apps;
  for (const auto& row : rows) {
    config::AppConfig app;
    app.install_id = row[0].as<long long>();
    app.version = row[3].as<int>();
    app.path = "install " + row[0].as<std::string>() + " (" + row[2].as<std::string>() + " version " +
               row[3].as<std::string>() + ")";
    app.teams = {row[1].as<long long>()};
    app.config = nlohmann::json::parse(row[4].as<std::string>());
    app.order = row[5].as<int>();
    app.updated_at = row[6].as<std::string>();
    app.revision = row[3].as<std::string>() + "\n" + app.updated_at + "\n" + row[5].as<std::string>() + "\n" +
                   app.config.dump();
    apps.push_back(std::move(app));
  }
  return apps;
}

void InstallStore::add_archives(std::vector<config::AppConfig>& installs,
                                const std::function<bool(const config::AppConfig&)>& needed) {
  std::map<long long, config::AppConfig*> wanted;
  for (auto& install : installs) {
    if (needed(install)) wanted[install.install_id] = &install;
  }
  if (wanted.empty()) return;
  std::string ids = "{";
  for (const auto& [id, _] : wanted) ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
  ids += "}";
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  // Each version's archive travels once, on the first of its installs.
  auto rows = tx.exec_params(R"SQL(
    WITH wanted AS (
      SELECT i.id, i.app_name,
             COALESCE(i.version, (SELECT max(version) FROM app_versions WHERE app_name = i.app_name)) AS version
      FROM app_installs i WHERE i.id = ANY($1::bigint[]))
    SELECT w.id, w.app_name, w.version,
           CASE WHEN row_number() OVER (PARTITION BY w.app_name, w.version ORDER BY w.id) = 1 THEN v.archive END
    FROM wanted w JOIN app_versions v USING (app_name, version)
    ORDER BY w.app_name, w.version, w.id)SQL",
                             ids);
  std::map<std::pair<std::string, int>, std::shared_ptr<const std::string>> archives;
  for (const auto& row : rows) {
    auto& archive = archives[{row[1].as<std::string>(), row[2].as<int>()}];
    if (!row[3].is_null()) archive = std::make_shared<const std::string>(pqxx::binarystring(row[3]).str());
    wanted.at(row[0].as<long long>())->archive = archive;
  }
}

void InstallStore::report_load_errors(const std::map<long long, std::string>& errors) {
  if (errors.empty()) return;
  auto rows = nlohmann::json::array();
  for (const auto& [id, error] : errors) {
    rows.push_back({{"id", id}, {"error", error.empty() ? nlohmann::json(nullptr) : nlohmann::json(error)}});
  }
  auto conn = pool_.acquire();
  pqxx::work tx(*conn);
  // One statement for them all, writing only what changed.
  tx.exec_params0(R"SQL(
    UPDATE app_installs i SET load_error = r.error
    FROM jsonb_to_recordset($1::jsonb) AS r(id bigint, error text)
    WHERE i.id = r.id AND i.load_error IS DISTINCT FROM r.error)SQL",
                  rows.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  tx.commit();
}

void announce_install_change(pqxx::transaction_base& tx) { tx.exec0(std::string("NOTIFY ") + kInstallsChannel); }

}  // namespace ps::server
