// plugin-server: runs third-party apps on analytics events and their jobs.

#include <signal.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "config/config.h"
#include "config/database_url.h"
#include "db/migrations.h"
#include "db/pool.h"
#include "runtime/app_runtime.h"
#include "runtime/bundle.h"
#include "runtime/engine.h"
#include "runtime/inspect_app.h"
#include "server/daemon.h"
#include "server/logging.h"

namespace {

constexpr int kExitConfig = 2;

// Whether `key` of an app's config is declared secret by the app's plugin.json.
bool app_field_is_secret(const ps::config::AppConfig& app, const std::string& key) {
  try {
    auto* field = ps::runtime::load_bundle(app.path).manifest.field(key);
    return field && field->secret;
  } catch (const ps::runtime::BundleError&) {
    return false;
  }
}

int run_check_app(const std::string& path, const ps::config::Config& config) {
  ps::runtime::Engine engine;
  try {
    auto report = ps::runtime::inspect_app(path, ps::runtime::runtime_options(config).limits);
    nlohmann::json out = {{"name", report.name},
                          {"description", report.description},
                          {"capabilities",
                           {{"methods", report.exports.methods},
                            {"jobs", report.exports.jobs},
                            {"scheduled_tasks", report.exports.scheduled_tasks}}}};
    std::cout << out.dump(2) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "plugin-server check-app: " << e.what() << "\n";
    return 1;
  }
}

int run_daemon(const ps::config::Config& config) {
  // Signals are taken by sigwait below, never by a handler on some thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  ps::runtime::Engine engine;
  ps::server::Daemon daemon(config);
  try {
    daemon.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  // A second signal while stopping means "now": exit without waiting.
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    spdlog::warn("second signal, exiting at once");
    std::_Exit(1);
  }).detach();
  daemon.stop();
  return 0;
}

int run_migrate(const ps::config::Config& config) {
  try {
    pqxx::connection conn(ps::db::with_connect_timeout(
        config.database.url, std::chrono::milliseconds(config.database.connect_timeout_ms)));
    int applied = ps::db::migrate(conn);
    std::cout << "schema at version " << ps::db::schema_version(conn) << " (" << applied
              << " migration(s) applied)\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "plugin-server migrate: " << ps::config::redact_database_url(config.database.url) << ": "
              << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"plugin-server: runs apps on analytics events and their scheduled jobs"};
  cli.fallthrough();
  std::string config_file;
  cli.add_option("-c,--config", config_file, "TOML config file")->envname("PLUGIN_SERVER_CONFIG");
  auto* run = cli.add_subcommand("run", "Run the daemon (the default)");
  auto* migrate = cli.add_subcommand("migrate", "Apply the database schema, then exit");
  auto* print_config = cli.add_subcommand("print-config", "Print the effective config, secrets redacted");
  auto* check_app = cli.add_subcommand("check-app", "Validate an app bundle and print its capabilities");
  std::string app_path;
  check_app->add_option("path", app_path, "App folder or .tar.gz")->required();
  ps::cli::AdminCommands admin(cli);
  cli.require_subcommand(0, 1);
  CLI11_PARSE(cli, argc, argv);
  // The admin API's commands talk to a running daemon: they need no config.
  if (auto exit_code = admin.run()) return *exit_code;

  ps::config::Config config;
  try {
    std::optional<std::filesystem::path> file;
    if (!config_file.empty()) file = config_file;
    config = ps::config::load(file, ps::config::process_environment());
  } catch (const ps::config::ConfigError& e) {
    std::cerr << "plugin-server: invalid configuration (" << e.problems().size() << " problem"
              << (e.problems().size() == 1 ? "" : "s") << "):\n";
    for (const auto& problem : e.problems()) std::cerr << "  " << problem << "\n";
    return kExitConfig;
  }

  if (*print_config) {
    std::cout << ps::config::render_toml(config, app_field_is_secret);
    return 0;
  }
  if (*check_app) return run_check_app(app_path, config);
  ps::server::configure_logging(config.log);
  if (*migrate) return run_migrate(config);
  (void)run;
  return run_daemon(config);
}
