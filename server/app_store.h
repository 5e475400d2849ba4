#pragma once
// App versions uploaded through the admin API, kept in Postgres
// (app_versions; the installs that use them in app_installs). An upload is
// checked exactly as check-app checks a bundle (runtime::inspect_bundle);
// one that passes is stored as the app's next version, immutable from then
// on. Every call runs queries: call it from a thread that may block.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/limits.h"

namespace ps::db {
class Pool;
}

namespace ps::server {

// An upload that is not a bundle that can run, with every reason found.
class InvalidBundle : public std::runtime_error {
 public:
  explicit InvalidBundle(std::vector<std::string> details)
      : std::runtime_error("the bundle cannot run"), details_(std::move(details)) {}
  const std::vector<std::string>& details() const { return details_; }

 private:
  std::vector<std::string> details_;
};

struct StoredVersion {
  std::string app;
  int version = 0;
  std::string content_hash;
  nlohmann::json capabilities;
  bool created = false;  // false: these contents were already stored as `version`
};

class AppStore {
 public:
  AppStore(db::Pool& pool, runtime::Limits limits) : pool_(pool), limits_(limits) {}

  // Checks the .tar.gz and stores it as the app's next version; the same
  // contents as a stored version give that version back. Throws InvalidBundle.
  StoredVersion add(const std::string& archive);
  // Every app: {"app", "latest_version", "versions"}.
  nlohmann::json list();
  // One app's versions (newest first) and installs; nullopt when unknown.
  std::optional<nlohmann::json> describe(const std::string& app);

  enum class Removal { removed, not_found, in_use };
  // Deletes a version no install uses (pinned, or as the latest of the app).
  Removal remove(const std::string& app, int version, std::string* why);

 private:
  db::Pool& pool_;
  runtime::Limits limits_;
};

}  // namespace ps::server
