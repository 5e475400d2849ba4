#pragma once
// Apps installed for teams through the admin API, kept in Postgres
// (app_installs): at a pinned version of an uploaded app or its latest, with
// config values checked against that version's plugin.json, an order in the
// team's chain and an enabled flag. Config values a plugin.json marks
// secret are never read back: answers show them as "***" when set. Every
// call runs queries: call it from a thread that may block.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"

namespace ps::db {
class Pool;
}
namespace pqxx {
class transaction_base;
}

namespace ps::server {

// A request the store refuses: the HTTP status it maps to, the error and
// every problem found.
class InstallRefused : public std::runtime_error {
 public:
  InstallRefused(int status, const std::string& error, std::vector<std::string> details = {})
      : std::runtime_error(error), status_(status), details_(std::move(details)) {}
  int status() const { return status_; }
  const std::vector<std::string>& details() const { return details_; }

 private:
  int status_;
  std::vector<std::string> details_;
};

// Daemons LISTEN here for changes to installs (and new versions, which
// installs of the latest one follow).
inline constexpr const char* kInstallsChannel = "plugin_server_installs";

// Tells the daemons, once `tx` commits, that the installs changed.
void announce_install_change(pqxx::transaction_base& tx);

class InstallStore {
 public:
  explicit InstallStore(db::Pool& pool) : pool_(pool) {}

  // {"team_id", "app", "version" (a number or "latest", default), "config",
  // "order", "enabled"}: the install as stored. Throws InstallRefused.
  nlohmann::json create(const nlohmann::json& request);
  // Any of "version", "config" (merged: a key set to null is removed),
  // "order", "enabled". Throws InstallRefused (404 for an unknown id).
  nlohmann::json update(long long id, const nlohmann::json& request);
  bool remove(long long id);
  // Every install, or one team's.
  nlohmann::json list(std::optional<long long> team);
  // The enabled installs as app entries to load, in the teams' order, each
  // with its install id and revision, without its archive.
  std::vector<config::AppConfig> runnable();
  // Gives the installs `needed` picks their versions' archives, in one
  // query reading each version once (installs of a version share it).
  void add_archives(std::vector<config::AppConfig>& installs,
                    const std::function<bool(const config::AppConfig&)>& needed);
  // Why each install does not run on this daemon ("" where it does), shown
  // as its load_error.
  void report_load_errors(const std::map<long long, std::string>& errors);

 private:
  db::Pool& pool_;
};

}  // namespace ps::server
