// App versions in Postgres (server/app_store), from .tar.gz uploads, and
// the installs that use them (server/install_store).

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include <pqxx/pqxx>

#include "db/migrations.h"
#include "db/pool.h"
#include "runtime/limits.h"
#include "server/app_store.h"
#include "server/install_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_database.h"
#include "tests/support/v8_engine.h"

using ps::server::AppStore;
using ps::server::InvalidBundle;

namespace {

// A .tar.gz of the files, packed by the system's tar (as a user would).
std::string archive_of(const std::map<std::string, std::string>& files) {
  ps::test::TempDir dir;
  for (const auto& [path, text] : files) dir.write("app/" + path, text);
  auto archive = (dir.path() / "app.tar.gz").string();
  REQUIRE(std::system(("tar -czf '" + archive + "' -C '" + dir.path().string() + "' app").c_str()) == 0);
  std::ifstream in(archive, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

std::map<std::string, std::string> app_files(const std::string& body) {
  return {{"plugin.json", R"({"name": "greeter", "description": "says hi"})"}, {"index.ts", body}};
}

struct Store {
  ps::test::TestDatabase db;
  ps::db::Pool pool{db.url(), 2, std::chrono::seconds(5)};
  AppStore store{pool, ps::runtime::Limits{}};
  Store() {
    ps::test::v8_engine();
    auto conn = pool.acquire();
    ps::db::migrate(*conn);
  }
  void sql(const std::string& statement) {
    auto conn = pool.acquire();
    pqxx::work tx(*conn);
    tx.exec0(statement);
    tx.commit();
  }
};

std::vector<std::string> details_of(AppStore& store, const std::string& archive) {
  try {
    store.add(archive);
  } catch (const InvalidBundle& e) {
    return e.details();
  }
  return {};
}

}  // namespace

TEST_CASE("app store: an upload is checked and stored as the next version, the same contents as the same one",
          "[app-store]") {
  Store s;
  auto v1 = archive_of(app_files("export function processEvent(e: any) { return e }"));
  auto first = s.store.add(v1);
  CHECK(first.app == "greeter");
  CHECK(first.version == 1);
  CHECK(first.created);
  CHECK(first.content_hash.size() == 64);
  CHECK(first.capabilities["methods"] == nlohmann::json::array({"processEvent"}));

  // Packed again (new timestamps in the archive): the same version.
  auto again = s.store.add(archive_of(app_files("export function processEvent(e: any) { return e }")));
  CHECK(again.version == 1);
  CHECK_FALSE(again.created);
  CHECK(again.content_hash == first.content_hash);

  auto second = s.store.add(archive_of(app_files("export function onEvent(e: any) {}\nexport const jobs = { a() {} }")));
  CHECK(second.version == 2);
  CHECK(second.capabilities["jobs"] == nlohmann::json::array({"a"}));

  auto list = s.store.list();
  REQUIRE(list.size() == 1);
  CHECK(list[0] == nlohmann::json({{"app", "greeter"}, {"latest_version", 2}, {"versions", 2}}));
  auto described = s.store.describe("greeter");
  REQUIRE(described);
  REQUIRE((*described)["versions"].size() == 2);
  CHECK((*described)["versions"][0]["version"] == 2);
  CHECK((*described)["installs"].empty());
  CHECK_FALSE(s.store.describe("nobody"));

  // Stored as it runs: transpiled, and the archive as uploaded.
  auto conn = s.pool.acquire();
  pqxx::work tx(*conn);
  auto code = tx.exec1("SELECT code->>'index.ts' FROM app_versions WHERE version = 1")[0].as<std::string>();
  CHECK(code.find(": any") == std::string::npos);
  CHECK(tx.exec1("SELECT octet_length(archive) FROM app_versions WHERE version = 1")[0].as<std::size_t>() == v1.size());
}

TEST_CASE("app store: an upload that cannot run is refused with the reason, and nothing is stored", "[app-store]") {
  Store s;
  auto syntax = details_of(s.store, archive_of(app_files("export function processEvent(e) { return e ")));
  REQUIRE(syntax.size() == 1);
  CHECK(syntax[0].find("index.ts") != std::string::npos);
  auto throws = details_of(s.store, archive_of(app_files("throw new Error('not today')")));
  REQUIRE(throws.size() == 1);
  CHECK(throws[0].find("not today") != std::string::npos);
  auto no_manifest = details_of(s.store, archive_of({{"index.js", "export function processEvent(e) { return e }"}}));
  REQUIRE(no_manifest.size() == 1);
  CHECK(no_manifest[0].find("plugin.json is missing") != std::string::npos);
  auto not_gzip = details_of(s.store, "this is not an archive");
  REQUIRE(not_gzip.size() == 1);
  CHECK(not_gzip[0].find("the uploaded bundle") != std::string::npos);
  CHECK(s.store.list().empty());
}

TEST_CASE("app store: a version an install uses cannot be deleted, another can", "[app-store]") {
  Store s;
  s.store.add(archive_of(app_files("export function processEvent(e) { return e }")));
  s.store.add(archive_of(app_files("export function processEvent(e) { return null }")));
  s.store.add(archive_of(app_files("export function processEvent(e) { e.x = 1; return e }")));
  s.sql("INSERT INTO app_installs (team_id, app_name, version) VALUES (1, 'greeter', 1)");
  std::string why;
  CHECK(s.store.remove("greeter", 1, &why) == AppStore::Removal::in_use);
  CHECK(why.find("pinned to version 1") != std::string::npos);
  CHECK(s.store.remove("greeter", 2, &why) == AppStore::Removal::removed);
  CHECK(s.store.remove("greeter", 2, &why) == AppStore::Removal::not_found);
  // An install that follows the latest holds the latest version.
  s.sql("INSERT INTO app_installs (team_id, app_name, version) VALUES (2, 'greeter', NULL)");
  CHECK(s.store.remove("greeter", 3, &why) == AppStore::Removal::in_use);
  CHECK(why.find("the latest") != std::string::npos);
  // The next upload is numbered after the highest there is.
  CHECK(s.store.add(archive_of(app_files("export function processEvent(e) { e.y = 1; return e }"))).version == 4);
}

namespace {
// An app with a required choice, a secret and an attachment field.
std::map<std::string, std::string> configurable_app() {
  return {{"plugin.json", R"({"name": "exporter", "config": [
             {"key": "mode", "type": "choice", "choices": ["fast", "safe"], "required": true},
             {"key": "apiKey", "type": "string", "secret": true},
             {"key": "mapping", "type": "attachment"}]})"},
          {"index.js", "export function processEvent(e) { return e }"},
          {"mapping.json", "{}"}};
}

int status_of(const std::function<void()>& call, std::vector<std::string>* details = nullptr) {
  try {
    call();
  } catch (const ps::server::InstallRefused& e) {
    if (details) *details = e.details();
    return e.status();
  }
  return 0;
}
}  // namespace

TEST_CASE("installs: an app is installed for a team with config checked against its plugin.json", "[app-store]") {
  Store s;
  ps::server::InstallStore installs(s.pool);
  s.store.add(archive_of(configurable_app()));

  auto install = installs.create({{"team_id", 7}, {"app", "exporter"}, {"config", {{"mode", "fast"}, {"apiKey", "s3cret"}}}});
  CHECK(install["team_id"] == 7);
  CHECK(install["version"] == "latest");
  CHECK(install["enabled"] == true);
  CHECK(install["order"] == 0);
  // A secret is never read back, only that it is set.
  CHECK(install["config"] == nlohmann::json({{"mode", "fast"}, {"apiKey", "***"}}));
  CHECK(installs.list(7)[0]["config"]["apiKey"] == "***");
  CHECK(installs.list(std::nullopt).dump().find("s3cret") == std::string::npos);
  CHECK(installs.list(8).empty());

  std::vector<std::string> details;
  // Every problem of a request at once.
  CHECK(status_of([&] { installs.create({{"team_id", -1}, {"app", 3}, {"colour", "red"}}); }, &details) == 400);
  CHECK(details.size() == 3);
  CHECK(status_of([&] { installs.create({{"app", "exporter"}}); }, &details) == 400);
  CHECK(details == std::vector<std::string>{"team_id: required"});
  CHECK(status_of([&] { installs.create({{"team_id", 8}, {"app", "nobody"}}); }) == 422);
  CHECK(status_of([&] { installs.create({{"team_id", 8}, {"app", "exporter"}, {"version", 9}}); }) == 422);
  CHECK(status_of([&] { installs.create({{"team_id", 8}, {"app", "exporter"}, {"config", {{"mode", "slow"}}}}); },
                  &details) == 422);
  REQUIRE(details.size() == 1);
  CHECK(details[0].find("mode") != std::string::npos);
  // An attachment names a file of the bundle, never one of the daemon's machine.
  CHECK(installs.create({{"team_id", 8}, {"app", "exporter"}, {"config", {{"mode", "safe"}, {"mapping", "mapping.json"}}}})
            ["id"]
            .is_number());
  CHECK(status_of([&] {
          installs.create({{"team_id", 9}, {"app", "exporter"}, {"config", {{"mode", "safe"}, {"mapping", "/etc/passwd"}}}});
        }) == 422);
  // One install of an app per team.
  CHECK(status_of([&] { installs.create({{"team_id", 7}, {"app", "exporter"}, {"config", {{"mode", "safe"}}}}); },
                  &details) == 409);
  CHECK(details[0] == "install " + std::to_string(install["id"].get<long long>()));
}

TEST_CASE("installs: a change merges config, keeps secrets it does not name, and is checked again", "[app-store]") {
  Store s;
  ps::server::InstallStore installs(s.pool);
  s.store.add(archive_of(configurable_app()));
  auto id = installs.create({{"team_id", 1}, {"app", "exporter"}, {"config", {{"mode", "fast"}, {"apiKey", "k1"}}}})["id"]
                .get<long long>();
  auto changed = installs.update(id, {{"config", {{"mode", "safe"}}}, {"order", 3}, {"enabled", false}, {"version", 1}});
  CHECK(changed["config"] == nlohmann::json({{"mode", "safe"}, {"apiKey", "***"}}));
  CHECK(changed["order"] == 3);
  CHECK(changed["enabled"] == false);
  CHECK(changed["version"] == 1);
  {
    auto conn = s.pool.acquire();
    pqxx::work tx(*conn);
    CHECK(tx.exec1("SELECT config->>'apiKey' FROM app_installs")[0].as<std::string>() == "k1");
  }
  // null removes a key; a required one cannot go.
  CHECK(installs.update(id, {{"config", {{"apiKey", nullptr}}}})["config"] == nlohmann::json({{"mode", "safe"}}));
  CHECK(status_of([&] { installs.update(id, {{"config", {{"mode", nullptr}}}}); }) == 422);
  CHECK(status_of([&] { installs.update(id, {{"team_id", 2}}); }) == 400);
  CHECK(status_of([&] { installs.update(id, {{"version", 5}}); }) == 422);
  CHECK(status_of([&] { installs.update(id + 100, {{"order", 1}}); }) == 404);
  CHECK(installs.update(id, {{"version", "latest"}})["version"] == "latest");
  CHECK(installs.remove(id));
  CHECK_FALSE(installs.remove(id));
}
